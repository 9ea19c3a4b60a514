"""Test generation: new base risk prompts for taxonomy nodes, written by a generator model (Mt).

``gateway.generation.api.generate`` (re-exported as ``gateway.generate``) is the front door;
``engine`` holds the rounds and the report, ``filters`` the checks every row passes, ``templates``
the generation prompts (data in ``templates.yaml``), ``seam`` the one place Mt is built.
"""
