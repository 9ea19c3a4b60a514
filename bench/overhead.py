"""Client CPU per item: bare httpx streaming, bare litellm streaming, and the full gateway.

The same N distinct prompts (default 2,000) go to the simulated vendor (a child process, 0 ms
latency, so its CPU is not counted) with 64 in flight, in one process, four ways:

- ``httpx``: a bare streamed httpx loop (parse SSE, keep the text): the floor.
- ``litellm``: a bare streamed ``litellm.acompletion`` loop (``num_retries=0``).
- ``gateway``: ``gateway.run`` with the litellm adapter: planning, limiter, retry layer, pricing,
  the SQLite store (cases, responses), critic off, streaming.
- ``fast``: the same gateway run with the lean ``openai`` adapter.

CPU is this process's user+system time (``resource.getrusage``) over each phase; the gateway
phases include opening the store and planning. Bare loops get a short warm-up first.

Run: ``python bench/overhead.py [--items 2000]``. Ends with one JSON line:
``{"items", "cpu_ms_per_item": {"httpx", "litellm", "gateway", "fast"}, "gateway_over_litellm",
"gateway_over_httpx", "fast_over_httpx"}`` (targets: gateway_over_litellm <= 1.25,
fast_over_httpx <= 2.7, fast <= 2.5 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

from gateway_common import IN_FLIGHT, bare_loop, gateway_run, httpx_chat, litellm_chat, write_suite


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()
    items: int = args.items

    import httpx
    import litellm

    from simulator import SimulatedVendorProcess

    litellm.suppress_debug_info = True
    prompts = [f"Bare prompt number {i}: describe the weather in one line." for i in range(items)]
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        suite = write_suite(tmp / "suite.jsonl", items)
        async with SimulatedVendorProcess(latency_ms=0) as base_url:
            client = httpx.AsyncClient(
                limits=httpx.Limits(max_connections=IN_FLIGHT * 2, max_keepalive_connections=IN_FLIGHT * 2)
            )

            async def via_httpx(i: int) -> bool:
                return await httpx_chat(client, base_url, prompts[i])

            async def via_litellm(i: int) -> bool:
                return await litellm_chat(base_url, prompts[i], api_key="no-key")

            for name, one in (("httpx", via_httpx), ("litellm", via_litellm)):
                await bare_loop(min(items, 200), one)  # warm-up: connections, imports, caches
                per_item, ok = await bare_loop(items, one)
                if ok != items:
                    raise SystemExit(f"{name}: only {ok} of {items} items completed")
                results[name] = round(per_item, 3)
                print(f"{name:8s} {per_item:7.3f} ms CPU per item", flush=True)
            await client.aclose()

            for name, adapter in (("gateway", "litellm"), ("fast", "openai")):
                _, cpu = await gateway_run(name, adapter, suite, tmp, base_url, items)
                per_item = cpu * 1000.0 / items
                results[name] = round(per_item, 3)
                print(f"{name:8s} {per_item:7.3f} ms CPU per item", flush=True)

    summary = {
        "items": items,
        "cpu_ms_per_item": results,
        "gateway_over_litellm": round(results["gateway"] / results["litellm"], 3),
        "gateway_over_httpx": round(results["gateway"] / results["httpx"], 3),
        "fast_over_httpx": round(results["fast"] / results["httpx"], 3),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
