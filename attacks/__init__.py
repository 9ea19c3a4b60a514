"""The attack library: the ten S-Eval attacks in Chinese and English, composition, and the registry.

Entry points: ``attacks.registry`` (``list_attacks``, ``get_attack``, ``SEVAL_ATTACKS``),
``attacks.expand`` (what the engine calls), ``attacks.generator.AdapterGenerator`` (a generator
model behind any target adapter). Nothing is imported here, so ``import attacks`` stays cheap.
"""
