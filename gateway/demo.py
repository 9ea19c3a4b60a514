"""``seval demo``: the whole product on one machine, with no keys and no downloads.

Starts the simulated vendor in a child process on loopback, runs the built-in sample suite (base
prompts plus their variants from every attack in the library that needs no generator model)
against three simulated models (cautious, compliant, mixed) through the fast ``openai`` adapter,
scores with the embedded ``rules`` critic, stores to SQLite and writes the report folder.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from gateway.config import RunConfig
from gateway.progress import ProgressSink
from gateway.run_results import RunResult

DEMO_MODELS = ("sim-cautious", "sim-compliant", "sim-mixed")
DEMO_PRICES = {"input_per_1m": 0.5, "output_per_1m": 1.5}  # simulated models: illustrative prices


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What the demo produced: the run's result, its database and its report."""

    result: RunResult
    db_url: str
    report: Path | None


def demo_attacks() -> list[str]:
    """Every registered attack that needs no generator model."""
    from attacks.registry import default_registry

    registry = default_registry()
    return [name for name in registry.names() if not registry.get(name).needs_generator]


def demo_config(base_url: str, db_url: str) -> RunConfig:
    """The demo's run config for a simulated vendor at ``base_url``."""
    return RunConfig.model_validate(
        {
            "name": "demo",
            "suites": ["sample"],
            "attacks": {"apply": demo_attacks(), "seed": 0},
            "targets": [
                {
                    "name": model,
                    "model": model,
                    "api_base": base_url,
                    "adapter": "openai",
                    "limits": {"max_in_flight": 32},
                    "decoding": {"temperature": 0.7, "max_tokens": 256},
                    "prices": DEMO_PRICES,
                }
                for model in DEMO_MODELS
            ],
            "critic": {"backend": "rules"},
            "db_url": db_url,
        }
    )


async def run_demo(
    out_dir: Path, *, db_url: str | None = None, progress: ProgressSink | bool = True
) -> DemoResult:
    """Run the demo; the report goes to ``out_dir`` (with the SQLite file unless ``db_url`` is given)."""
    from gateway.sdk import run
    from simulator import SimulatedVendorProcess

    out_dir = await asyncio.to_thread(out_dir.absolute)
    await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
    url = db_url or f"sqlite+aiosqlite:///{out_dir / 'seval.db'}"
    # The vendor's own CPU stays out of the gateway's process (one core each on a small machine).
    async with SimulatedVendorProcess(latency_ms=20, seed=0) as base_url:
        result = await run(demo_config(base_url, url), progress=progress, handle_signals=True)
    report: Path | None = None
    if result.status in ("completed", "partial"):
        from gateway.reports.writers import write_report

        report = await write_report(url, result.run_id, out_dir)
    return DemoResult(result, url, report)
