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

Then, for long answers (about 300 stream chunks each, ``--long-items``, default 200), each native
lean adapter (``anthropic_fast``, ``gemini_fast``, ``azure_fast``: ``adapter.send``, streamed, all
of its classification included) against a bare streamed ``litellm.acompletion`` on the same
simulated wire (``anthropic_litellm``, ...).

Run: ``python bench/overhead.py [--items 2000] [--long-items 200]``. Ends with one JSON line:
``{"items", "cpu_ms_per_item": {"httpx", "litellm", "gateway", "fast", "<wire>_fast",
"<wire>_litellm"}, "long_answer_chunks", "gateway_over_litellm", "gateway_over_httpx",
"fast_over_httpx", "native_over_litellm": {"<wire>"}}`` (targets: gateway_over_litellm <= 1.25,
fast_over_httpx <= 2.7, fast <= 2.5 ms; each native adapter <= 2 ms per 300-chunk item and
native_over_litellm <= 0.05, i.e. at least 20x less CPU).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from gateway_common import (
    IN_FLIGHT,
    NATIVE_WIRES,
    bare_loop,
    gateway_run,
    httpx_chat,
    litellm_chat,
    litellm_wire_chat,
    native_adapter_for,
    write_suite,
)

if TYPE_CHECKING:
    from core.protocols import TargetAdapter

# The simulated answer's closing filler, in words, that makes about 300 stream chunks per answer.
LONG_ANSWER_WORDS = 265


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--long-items", type=int, default=200)
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

    chunks = await long_answers(args.long_items, prompts, results)
    summary = {
        "items": items,
        "cpu_ms_per_item": results,
        "long_answer_chunks": chunks,
        "gateway_over_litellm": round(results["gateway"] / results["litellm"], 3),
        "gateway_over_httpx": round(results["gateway"] / results["httpx"], 3),
        "fast_over_httpx": round(results["fast"] / results["httpx"], 3),
        "native_over_litellm": {
            wire: round(results[f"{wire}_fast"] / results[f"{wire}_litellm"], 4) for wire in NATIVE_WIRES
        },
    }
    print(json.dumps(summary))


async def long_answers(items: int, prompts: list[str], results: dict[str, float]) -> int:
    """Native adapters against bare litellm on each native wire, ~300-chunk answers; mean chunks."""
    from core.types import ChatRequest
    from simulator import SimulatedVendorProcess

    key = "sk-bench-0000000000000000"
    words = (LONG_ANSWER_WORDS, LONG_ANSWER_WORDS)
    async with SimulatedVendorProcess(latency_ms=0, response_words=words) as base_url:
        root = base_url.removesuffix("/v1")
        pieces: list[int] = []
        for wire in NATIVE_WIRES:
            adapter = native_adapter_for(wire, root, key)

            async def via_native(i: int, adapter: TargetAdapter = adapter) -> bool:
                result = await adapter.send(ChatRequest(prompt=prompts[i], stream=True))
                pieces.append(result.usage.completion_tokens if result.usage else 0)
                return bool(result.outcome == "COMPLETED" and result.text)

            async def via_litellm(i: int, wire: str = wire) -> bool:
                return await litellm_wire_chat(wire, root, prompts[i], api_key=key)

            for name, one in ((f"{wire}_fast", via_native), (f"{wire}_litellm", via_litellm)):
                await bare_loop(min(items, 20), one)  # warm-up
                per_item, ok = await bare_loop(items, one)
                if ok != items:
                    raise SystemExit(f"{name}: only {ok} of {items} items completed")
                results[name] = round(per_item, 3)
                print(f"{name:18s} {per_item:8.3f} ms CPU per item", flush=True)
            await adapter.aclose()
    return round(sum(pieces) / len(pieces)) if pieces else 0


if __name__ == "__main__":
    asyncio.run(main())
