"""End-to-end throughput: items per second and client CPU per item, litellm adapter vs the fast one.

N distinct prompts (default 2,000) at 50 ms vendor latency, 64 in flight, through ``gateway.run``
in one process with everything on: planning, limiter, retry layer, pricing, the SQLite store, and
the embedded ``rules`` critic (served in this process) scoring every answer. The simulated vendor
runs in a child process so that its CPU is not counted.

Run: ``python bench/throughput.py [--items 2000]``. Ends with one JSON line:
``{"items", "items_per_s": {"litellm", "fast"}, "cpu_ms_per_item": {"litellm", "fast"}}``
(target: fast >= 450 items/s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from gateway_common import cpu_s, run_config, write_suite


async def phase(
    name: str, adapter: str, suite: Path, tmp: Path, base_url: str, items: int
) -> tuple[float, float]:
    """(items per second, CPU ms per item) of one full run, critic included."""
    from gateway.config import RunConfig
    from gateway.sdk import run

    cfg = RunConfig.model_validate(
        run_config(
            name=name, suite=suite, db=tmp / f"{name}.db", base_url=base_url, adapter=adapter, critic=True
        )
    )
    wall, cpu = time.perf_counter(), cpu_s()
    result = await run(cfg)
    wall, cpu = time.perf_counter() - wall, cpu_s() - cpu
    done = result.targets[0].outcomes.get("COMPLETED", 0)
    scored = result.verdicts.get("SCORED", 0)
    if result.status != "completed" or done != items or scored != items:
        raise SystemExit(f"{name}: {result.status}, {done} completed, {scored} scored of {items}: {result}")
    return items / wall, cpu * 1000.0 / items


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()
    items: int = args.items

    from adapters.simulated_vendor import SimulatedVendorProcess

    rate: dict[str, float] = {}
    cpu: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        suite = write_suite(tmp / "suite.jsonl", items)
        async with SimulatedVendorProcess(latency_ms=50) as base_url:
            for name, adapter in (("litellm", "litellm"), ("fast", "openai")):
                per_s, per_item = await phase(name, adapter, suite, tmp, base_url, items)
                rate[name], cpu[name] = round(per_s, 1), round(per_item, 3)
                print(f"{name:8s} {per_s:7.1f} items/s  {per_item:7.3f} ms CPU per item", flush=True)
    print(json.dumps({"items": items, "items_per_s": rate, "cpu_ms_per_item": cpu}))


if __name__ == "__main__":
    asyncio.run(main())
