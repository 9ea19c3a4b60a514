"""S-Eval gateway: the engine and front doors (config, suites, planning, dispatch, reports, CLI, SDK).

The SDK names are loaded lazily so that ``import gateway`` stays cheap (no litellm, no torch):

- ``gateway.run(config)`` / ``gateway.run_sync(config)``: run or resume a sweep.
- ``gateway.results(run)`` / ``gateway.results_sync(run)``: the run's aggregates as typed objects.
- ``gateway.RunConfig``: the typed run description (the same structure as a run YAML file).
- ``gateway.generate(...)`` / ``gateway.select(...)``: new prompts for taxonomy nodes; slices of suites.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "run": "gateway.sdk",
    "run_sync": "gateway.sdk",
    "RunConfig": "gateway.config",
    "results": "gateway.reports.api",
    "results_sync": "gateway.reports.api",
    "generate": "gateway.generation.api",
    "select": "gateway.selection.api",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gateway' has no attribute {name!r}")
    return getattr(import_module(module), name)
