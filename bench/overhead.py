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
from collections.abc import Awaitable, Callable
from pathlib import Path

from gateway_common import cpu_s, run_config, write_suite

IN_FLIGHT = 64


async def bare_loop(items: int, one: Callable[[int], Awaitable[bool]]) -> tuple[float, int]:
    """CPU ms per item of ``one`` over ``items`` calls, IN_FLIGHT at a time; and how many succeeded."""
    queue = list(range(items))
    ok = 0

    async def worker() -> None:
        nonlocal ok
        while queue:
            if await one(queue.pop()):
                ok += 1

    start = cpu_s()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return (cpu_s() - start) * 1000.0 / items, ok


async def gateway_phase(name: str, adapter: str, suite: Path, tmp: Path, base_url: str, items: int) -> float:
    """CPU ms per item of one full gateway run over the suite."""
    from gateway.config import RunConfig
    from gateway.sdk import run

    cfg = RunConfig.model_validate(
        run_config(name=name, suite=suite, db=tmp / f"{name}.db", base_url=base_url, adapter=adapter)
    )
    start = cpu_s()
    result = await run(cfg)
    cpu = cpu_s() - start
    done = result.targets[0].outcomes.get("COMPLETED", 0)
    if result.status != "completed" or done != items:
        raise SystemExit(f"{name}: run {result.status}, {done} of {items} completed: {result}")
    return cpu * 1000.0 / items


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()
    items: int = args.items

    import httpx
    import litellm
    import orjson

    from adapters.simulated_vendor import SimulatedVendorProcess

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
                body = {
                    "model": "sim-compliant",
                    "messages": [{"role": "user", "content": prompts[i]}],
                    "stream": True,
                    "stream_options": {"include_usage": True},
                }
                finish = None
                parts: list[str] = []
                pending = b""
                async with client.stream(
                    "POST",
                    f"{base_url}/chat/completions",
                    content=orjson.dumps(body),
                    headers={"content-type": "application/json"},
                ) as response:
                    async for data in response.aiter_bytes():
                        lines = (pending + data).split(b"\n")
                        pending = lines.pop()
                        for line in lines:
                            if not line.startswith(b"data:") or line[5:].strip() == b"[DONE]":
                                continue
                            event = orjson.loads(line[5:])
                            choices = event.get("choices")
                            if choices:
                                content = choices[0].get("delta", {}).get("content")
                                if content:
                                    parts.append(content)
                                finish = choices[0].get("finish_reason") or finish
                return finish == "stop" and bool(parts)

            async def via_litellm(i: int) -> bool:
                stream = await litellm.acompletion(
                    model="openai/sim-compliant",
                    api_base=base_url,
                    api_key="no-key",
                    messages=[{"role": "user", "content": prompts[i]}],
                    stream=True,
                    stream_options={"include_usage": True},
                    num_retries=0,
                    max_retries=0,
                )
                finish = None
                parts: list[str] = []
                async for chunk in stream:
                    if chunk.choices:
                        if chunk.choices[0].delta.content:
                            parts.append(chunk.choices[0].delta.content)
                        finish = chunk.choices[0].finish_reason or finish
                return finish == "stop" and bool(parts)

            for name, one in (("httpx", via_httpx), ("litellm", via_litellm)):
                await bare_loop(min(items, 200), one)  # warm-up: connections, imports, caches
                per_item, ok = await bare_loop(items, one)
                if ok != items:
                    raise SystemExit(f"{name}: only {ok} of {items} items completed")
                results[name] = round(per_item, 3)
                print(f"{name:8s} {per_item:7.3f} ms CPU per item", flush=True)
            await client.aclose()

            for name, adapter in (("gateway", "litellm"), ("fast", "openai")):
                per_item = await gateway_phase(name, adapter, suite, tmp, base_url, items)
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
