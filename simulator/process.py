"""The simulated vendor in a child process, so that a benchmark's CPU figures are the client's alone."""

from __future__ import annotations

import asyncio
import sys
from types import TracebackType
from typing import Any

import httpx

from simulator.config import VendorConfig

_PREFIX = "SIMULATED_VENDOR_URL="


class SimulatedVendorProcess:
    """``async with SimulatedVendorProcess(latency_ms=50) as base_url:`` runs the vendor in a child.

    Same settings as ``SimulatedVendor``; ``stats()`` and ``reset()`` go over HTTP
    (``GET /sim/stats``, ``POST /sim/reset``).
    """

    def __init__(
        self, config: VendorConfig | None = None, *, start_timeout_s: float = 30.0, **settings: Any
    ) -> None:
        if config is not None and settings:
            raise TypeError("pass either config= or VendorConfig fields, not both")
        self.config = config if config is not None else VendorConfig(**settings)
        self._start_timeout_s = start_timeout_s
        self._proc: asyncio.subprocess.Process | None = None
        self.base_url = ""

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs (to measure its CPU)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.base_url.removesuffix("/v1")

    async def __aenter__(self) -> str:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "simulator",
            "--config",
            self.config.model_dump_json(),
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._proc.stdout is not None
        try:
            async with asyncio.timeout(self._start_timeout_s):
                while True:
                    line = (await self._proc.stdout.readline()).decode()
                    if not line:
                        raise RuntimeError("simulated vendor process exited before it was listening")
                    if line.startswith(_PREFIX):
                        self.base_url = line[len(_PREFIX) :].strip()
                        return self.base_url
        except BaseException:
            await self._stop()
            raise

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stop()

    async def _stop(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            await self._proc.wait()
        self._proc = None

    async def stats(self, *, with_prompts: bool = False) -> dict[str, Any]:
        """The child's counters (``VendorStats.snapshot``)."""
        async with httpx.AsyncClient() as client:
            response = await client.get(
                f"{self.root_url}/sim/stats", params={"prompts": "1" if with_prompts else "0"}
            )
            response.raise_for_status()
            data: dict[str, Any] = response.json()
            return data

    async def reset(self) -> None:
        """Zero the child's counters, limiter windows and fault attempt counts."""
        async with httpx.AsyncClient() as client:
            response = await client.post(f"{self.root_url}/sim/reset")
            response.raise_for_status()
