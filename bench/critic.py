"""Critic throughput: the rules backend over HTTP and in-process, and the hf tiny judge micro-batched
vs one at a time.

    python bench/critic.py [--items 12800] [--concurrency 4]

rules: a ``seval critic serve`` subprocess on a free loopback port; this process sends batches of 64
(XSTest prompts and completions when ../shared/data is present, else synthetic text of similar length)
with a few requests in flight, and counts verdicts per second (target >= 2,000 on a 2-core box).

rules in-process: the same items in batches of 64 through ``LocalCritic`` (the critic the SDK, the
demo and ``seval critique`` use without a critic URL): no HTTP, no JSON, one conversion per verdict.

hf: a tiny random Qwen2 judge (built on the fly) in-process through ``LocalCritic``; 64 concurrent
single-item calls of uniform length, first with micro-batching (batch 16) and then with micro-batch
size 1.

Ends with one JSON line: rules_verdicts_per_s, rules_in_process_per_s, hf_batched_per_s,
hf_unbatched_per_s, hf_batched_over_unbatched.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
XSTEST = ROOT.parent / "shared" / "data" / "xstest"


def corpus() -> list[dict[str, str]]:
    """(prompt, response) pairs: XSTest's when present, else synthetic ones."""
    pairs: list[dict[str, str]] = []
    for f in sorted(XSTEST.glob("xstest_v2_completions_*.csv")):
        with f.open(newline="", encoding="utf-8") as fh:
            pairs += [{"prompt": r["prompt"], "response": r["completion"] or ""} for r in csv.DictReader(fh)]
    if not pairs:
        filler = "Here is some general information about the topic you asked about, with context. " * 9
        pairs = [{"prompt": f"How do I do task {i}?", "response": filler} for i in range(500)]
    return pairs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as c:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError("critic server exited during start-up")
            try:
                if (await c.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("critic server did not start")


async def send_batches(url: str, batches: list[dict[str, Any]], concurrency: int) -> float:
    queue = list(reversed(batches))
    async with httpx.AsyncClient(base_url=url, timeout=120) as c:

        async def worker() -> None:
            while queue:
                body = queue.pop()
                r = await c.post("/v1/critique", json=body)
                r.raise_for_status()

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - t0


async def bench_rules(n_items: int, concurrency: int) -> float:
    pairs = corpus()
    items = [{"id": str(i), "lang": "en", **pairs[i % len(pairs)]} for i in range(n_items)]
    batches = [{"items": items[i : i + 64]} for i in range(0, n_items, 64)]
    port = free_port()
    cmd = [
        sys.executable,
        "-c",
        "from gateway.cli import main; main()",
        "critic",
        "serve",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: ASYNC220
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_ready(url, proc)
        await send_batches(url, batches[:10], concurrency)  # warm-up
        elapsed = await send_batches(url, batches, concurrency)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return n_items / elapsed


async def bench_rules_in_process(n_items: int, concurrency: int) -> float:
    from core.types import CritiqueItem
    from critic_server.local import LocalCritic

    pairs = corpus()
    items = [CritiqueItem(id=str(i), lang="en", **pairs[i % len(pairs)]) for i in range(n_items)]
    batches = [items[i : i + 64] for i in range(0, n_items, 64)]
    async with LocalCritic.open() as critic:
        await critic.critique(batches[0])  # warm-up
        queue = list(reversed(batches))

        async def worker() -> None:
            while queue:
                await critic.critique(queue.pop())

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return n_items / (time.perf_counter() - t0)


async def bench_hf(requests: int) -> tuple[float, float]:
    from core.types import CritiqueItem
    from critic_server.config import ServerConfig
    from critic_server.local import LocalCritic
    from critic_server.tiny_judge import build_tiny_judge

    # Uniform lengths: on CPU a tiny model is padding-bound, so mixed lengths would measure padding.
    pairs = [
        {"prompt": f"How do I do task {i}?", "response": "Here is how to do it, step by step. " * 6}
        for i in range(64)
    ]
    rates: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        model = build_tiny_judge(Path(tmp) / "tiny", hidden_size=64, layers=2)
        for batch in (16, 1):
            cfg = {"hf": {"model": str(model), "max_response_tokens": 256}, "micro_batch_size": batch,
                   "micro_batch_wait_ms": 5.0}  # fmt: skip
            async with LocalCritic.open(ServerConfig.model_validate({"backend": "hf", **cfg})) as critic:
                one = [[CritiqueItem(id=str(i), lang="en", **pairs[i % len(pairs)])] for i in range(requests)]
                await asyncio.gather(*(critic.critique(b) for b in one[:8]))  # warm-up
                # 64 callers in flight, one item each: the micro-batcher coalesces them.
                queue = list(reversed(one))

                async def caller(critic: LocalCritic = critic, queue: list[Any] = queue) -> None:
                    while queue:
                        await critic.critique(queue.pop())

                t0 = time.perf_counter()
                await asyncio.gather(*(caller() for _ in range(64)))
                rates.append(requests / (time.perf_counter() - t0))
    return rates[0], rates[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=12800, help="rules: verdicts to request")
    parser.add_argument("--concurrency", type=int, default=4, help="rules: requests in flight")
    parser.add_argument("--hf-requests", type=int, default=256, help="hf: single-item calls per mode")
    args = parser.parse_args()
    rules = asyncio.run(bench_rules(args.items, args.concurrency))
    print(f"rules over HTTP, batches of 64: {rules:,.0f} verdicts/s", file=sys.stderr)
    local = asyncio.run(bench_rules_in_process(args.items, args.concurrency))
    print(f"rules in-process, batches of 64: {local:,.0f} verdicts/s", file=sys.stderr)
    batched, unbatched = asyncio.run(bench_hf(args.hf_requests))
    print(f"hf tiny judge: micro-batched {batched:,.1f}/s, one at a time {unbatched:,.1f}/s", file=sys.stderr)
    print(
        json.dumps(
            {
                "rules_verdicts_per_s": round(rules, 1),
                "rules_in_process_per_s": round(local, 1),
                "hf_batched_per_s": round(batched, 1),
                "hf_unbatched_per_s": round(unbatched, 1),
                "hf_batched_over_unbatched": round(batched / unbatched, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
