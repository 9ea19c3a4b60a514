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
from pathlib import Path

from gateway_common import gateway_run, write_suite


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()
    items: int = args.items

    from simulator import SimulatedVendorProcess

    rate: dict[str, float] = {}
    cpu: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        suite = write_suite(tmp / "suite.jsonl", items)
        async with SimulatedVendorProcess(latency_ms=50) as base_url:
            for name, adapter in (("litellm", "litellm"), ("fast", "openai")):
                wall, cpu_used = await gateway_run(name, adapter, suite, tmp, base_url, items, critic=True)
                per_s, per_item = items / wall, cpu_used * 1000.0 / items
                rate[name], cpu[name] = round(per_s, 1), round(per_item, 3)
                print(f"{name:8s} {per_s:7.1f} items/s  {per_item:7.3f} ms CPU per item", flush=True)
    print(json.dumps({"items": items, "items_per_s": rate, "cpu_ms_per_item": cpu}))


if __name__ == "__main__":
    asyncio.run(main())
