"""Rate-limit pacing: a vendor enforcing 600 requests/min with 429s, the gateway set to 600/min.

The simulated vendor (child process) answers a 429 with Retry-After to any request over 600 in
its sliding 60 s window. The gateway runs a real run (store on, critic off, 64 in flight) with
``rpm: 600`` for 60 s and is then stopped gracefully. Every send is timestamped by a thin adapter
wrapper, so the figures are exactly what left the gateway.

Run: ``python bench/ratelimit.py [--seconds 60] [--rpm 600]``. Ends with one JSON line:
``{"configured_rpm", "seconds", "sent", "status", "achieved_over_configured",
"max_10s_window_over_configured", "responses_429"}`` (targets: achieved >= 0.97, max 10 s window
<= 1.10, 429s 0).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import tempfile
import time
from pathlib import Path

from gateway_common import run_config, write_suite

from core.protocols import TargetAdapter
from core.types import AttemptResult, ChatRequest


class Stamped:
    """A ``TargetAdapter`` that records the monotonic time of every send."""

    def __init__(self, inner: TargetAdapter) -> None:
        self._inner = inner
        self.sends: list[float] = []

    @property
    def limit_key(self) -> str:
        """The wrapped adapter's key."""
        return self._inner.limit_key

    @property
    def name(self) -> str:
        """The wrapped adapter's name."""
        return self._inner.name

    async def send(self, request: ChatRequest) -> AttemptResult:
        """Stamp, then send."""
        self.sends.append(time.monotonic())
        return await self._inner.send(request)

    async def aclose(self) -> None:
        """Close the wrapped adapter."""
        await self._inner.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rpm", type=float, default=600.0)
    args = parser.parse_args()
    seconds: float = args.seconds
    rpm: float = args.rpm

    from core.redaction import Redactor
    from db.store import Store
    from gateway.config import RunConfig
    from gateway.pipeline import Wiring, execute
    from gateway.sdk import build_adapter
    from simulator import SimulatedVendorProcess

    items = int(rpm * seconds / 60.0 * 1.5) + 100
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        suite = write_suite(tmp / "suite.jsonl", items)
        vendor = SimulatedVendorProcess(
            latency_ms=20, rate_limit_rpm=int(rpm), rate_limit_mode="sliding_window"
        )
        async with vendor as base_url:
            cfg = RunConfig.model_validate(
                run_config(
                    name="ratelimit",
                    suite=suite,
                    db=tmp / "rl.db",
                    base_url=base_url,
                    adapter="openai",
                    rpm=rpm,
                )
            )
            stamped = Stamped(build_adapter(cfg.targets[0], None, Redactor()))
            store = await Store.open(cfg.db_url)
            stop = asyncio.Event()
            try:
                loop = asyncio.get_running_loop()
                loop.call_later(seconds, stop.set)
                result = await execute(
                    cfg, Wiring(store=store, adapters={cfg.targets[0].name: stamped}), stop=stop
                )
            finally:
                await stamped.aclose()
                await store.close()
            stats = await vendor.stats()

    sends = sorted(stamped.sends)
    t0 = sends[0]
    in_window = [t for t in sends if t < t0 + seconds]
    per_10s = rpm / 6.0
    worst = max(
        bisect.bisect_left(in_window, t + 10.0) - i
        for i, t in enumerate(in_window)
        if t + 10.0 <= t0 + seconds
    )
    summary = {
        "configured_rpm": rpm,
        "seconds": seconds,
        "sent": len(in_window),
        "status": result.status,
        "achieved_over_configured": round(len(in_window) / (rpm * seconds / 60.0), 4),
        "max_10s_window_over_configured": round(worst / per_10s, 4),
        "responses_429": int(stats["responses_429"]),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
