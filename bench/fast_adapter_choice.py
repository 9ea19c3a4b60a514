"""Which client should the fast OpenAI-compatible adapter use? Client CPU per item, measured.

Streams the same N prompts (64 in flight) from a simulated vendor running in a child process (so
its CPU is not counted) through: ``OpenAIAdapter`` as built (aiohttp + lean SSE parser, full
classification), a bare httpx loop with the same lean SSE parsing, the official ``openai`` SDK
doing the same work (accumulate text, finish reason, usage; ``max_retries=0``), and a bare
streamed ``litellm.acompletion`` loop for reference (the bare loops are the ones ``overhead.py``
uses: they keep the text too). CPU is this process's user+system time (``resource.getrusage``)
over each phase; each phase runs twice and the better run is kept.

Run: ``python bench/fast_adapter_choice.py [--items 2000]``. Ends with one JSON line:
``{"items", "cpu_ms_per_item": {"fast_adapter", "httpx", "openai_sdk", "litellm"},
"httpx_over_fast", "sdk_over_fast"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json

import httpx
from gateway_common import bare_loop, httpx_chat, litellm_chat

from adapters.openai_adapter import ClientPool, OpenAIAdapter
from core.types import ChatRequest, Outcome
from simulator import SimulatedVendorProcess


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()
    items = args.items
    prompts = [f"Benchmark prompt number {i}: describe the weather." for i in range(items)]
    results: dict[str, float] = {}

    async with SimulatedVendorProcess() as base_url:
        pool = ClientPool()
        adapter = OpenAIAdapter(
            model="openai/sim-compliant",
            api_key="sk-bench",
            api_base=base_url,
            session=pool.session_for(base_url),
        )

        async def via_adapter(i: int) -> bool:
            result = await adapter.send(ChatRequest(prompt=prompts[i]))
            return result.outcome is Outcome.COMPLETED

        client = httpx.AsyncClient(limits=httpx.Limits(max_connections=512, max_keepalive_connections=512))

        async def via_httpx(i: int) -> bool:
            return await httpx_chat(client, base_url, prompts[i], api_key="sk-bench")

        import openai

        sdk = openai.AsyncOpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)

        async def via_sdk(i: int) -> bool:
            stream = await sdk.chat.completions.create(
                model="sim-compliant",
                messages=[{"role": "user", "content": prompts[i]}],
                stream=True,
                stream_options={"include_usage": True},
            )
            parts: list[str] = []
            finish = None
            usage = None
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage
                if chunk.choices:
                    choice = chunk.choices[0]
                    if choice.delta.content:
                        parts.append(choice.delta.content)
                    if choice.finish_reason:
                        finish = choice.finish_reason
            return finish == "stop" and usage is not None and bool(parts)

        import litellm

        litellm.suppress_debug_info = True

        async def via_litellm(i: int) -> bool:
            return await litellm_chat(base_url, prompts[i], api_key="sk-bench")

        phases = (
            ("fast_adapter", via_adapter),
            ("httpx", via_httpx),
            ("openai_sdk", via_sdk),
            ("litellm", via_litellm),
        )
        for name, one in phases:
            await bare_loop(min(items, 200), one)  # warm-up: connections, imports, caches
            runs = [await bare_loop(items, one) for _ in range(2)]
            best, ok = min(runs)
            if ok != items:
                raise SystemExit(f"{name}: only {ok} of {items} items completed")
            results[name] = round(best, 3)
            print(f"{name:11s} {best:7.3f} ms CPU per item")
        await sdk.close()
        await client.aclose()
        await pool.aclose()

    fast = results["fast_adapter"]
    summary = {
        "items": items,
        "cpu_ms_per_item": results,
        "httpx_over_fast": round(results["httpx"] / fast, 2),
        "sdk_over_fast": round(results["openai_sdk"] / fast, 2),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
