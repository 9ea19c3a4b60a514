"""``python -m simulator [--port N] [--config JSON]``: serve until interrupted.

Prints one line ``SIMULATED_VENDOR_URL=http://127.0.0.1:PORT/v1`` once listening, so a parent
process can read where it is. ``--config`` takes a ``VendorConfig`` as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from simulator.config import VendorConfig
from simulator.server import SimulatedVendor


async def _serve(port: int, config: VendorConfig) -> None:
    vendor = SimulatedVendor(config)
    url = await vendor.start(port)
    print(f"SIMULATED_VENDOR_URL={url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await vendor.close()


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--config", default="{}", help="VendorConfig as JSON")
    args = parser.parse_args(argv)
    try:
        config = VendorConfig.model_validate_json(args.config)
    except ValueError as exc:
        print(f"--config: {exc}", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
