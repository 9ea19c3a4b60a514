"""Which client should the fast OpenAI-compatible adapter use? Client CPU per item, measured.

Streams the same N prompts (64 in flight) from a simulated vendor running in a child process (so
its CPU is not counted) through: ``OpenAIAdapter`` as built (aiohttp + lean SSE parser, full
classification), a bare httpx loop with the same lean SSE parsing, the official ``openai`` SDK
doing the same work (accumulate text, finish reason, usage; ``max_retries=0``), and a bare
streamed ``litellm.acompletion`` loop for reference. CPU is this process's ``time.process_time``
over each phase; each phase runs twice and the better run is kept.

Run: ``python bench/fast_adapter_choice.py [--items 2000]``. Ends with one JSON line:
``{"items", "cpu_ms_per_item": {"fast_adapter", "httpx", "openai_sdk", "litellm"},
"httpx_over_fast", "sdk_over_fast"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx
import orjson

from adapters.openai_adapter import ClientPool, OpenAIAdapter
from adapters.simulated_vendor import SimulatedVendorProcess
from gateway.types import ChatRequest, Outcome

_CONCURRENCY = 64


async def _run(items: int, one: Callable[[int], Awaitable[bool]]) -> tuple[float, int]:
    queue = list(range(items))
    ok = 0

    async def worker() -> None:
        nonlocal ok
        while queue:
            if await one(queue.pop()):
                ok += 1

    start = time.process_time()
    await asyncio.gather(*(worker() for _ in range(_CONCURRENCY)))
    return (time.process_time() - start) * 1000.0 / items, ok


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
            body = {
                "model": "sim-compliant",
                "messages": [{"role": "user", "content": prompts[i]}],
                "stream": True,
                "stream_options": {"include_usage": True},
            }
            finish = None
            pending = b""
            async with client.stream(
                "POST",
                f"{base_url}/chat/completions",
                content=orjson.dumps(body),
                headers={"authorization": "Bearer sk-bench", "content-type": "application/json"},
            ) as response:
                async for data in response.aiter_bytes():
                    lines = (pending + data).split(b"\n")
                    pending = lines.pop()
                    for line in lines:
                        if line.startswith(b"data:") and line[5:].strip() != b"[DONE]":
                            event = orjson.loads(line[5:])
                            if event.get("choices") and event["choices"][0].get("finish_reason"):
                                finish = event["choices"][0]["finish_reason"]
            return finish == "stop"

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
            stream = await litellm.acompletion(
                model="openai/sim-compliant",
                api_base=base_url,
                api_key="sk-bench",
                messages=[{"role": "user", "content": prompts[i]}],
                stream=True,
                stream_options={"include_usage": True},
                num_retries=0,
                max_retries=0,
            )
            finish = None
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].finish_reason:
                    finish = chunk.choices[0].finish_reason
            return finish == "stop"

        phases = (
            ("fast_adapter", via_adapter),
            ("httpx", via_httpx),
            ("openai_sdk", via_sdk),
            ("litellm", via_litellm),
        )
        for name, one in phases:
            await _run(min(items, 200), one)  # warm-up: connections, imports, caches
            runs = [await _run(items, one) for _ in range(2)]
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
