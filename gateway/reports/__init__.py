"""Reports: S-Eval metrics aggregated in SQL, paired comparisons, and the HTML/CSV/JSON writers.

Import-light on purpose: the CLI and ``gateway.results`` load the submodules lazily.
"""
