"""Micro-batching: items from many concurrent requests are coalesced into one model call.

A model backend is fastest on full batches, but each HTTP request carries whatever its client had.
The batcher queues items from every request; one worker takes up to ``max_batch`` of them, waiting at
most ``max_wait_s`` after the first for more, calls the batch function once, and hands each caller
its own results. A failed batch fails only the callers whose items were in it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from core.batching import next_batch

T = TypeVar("T")
R = TypeVar("R")

BatchFn = Callable[[Sequence[T]], Awaitable[list[R]]]


class MicroBatcher(Generic[T, R]):
    """Coalesces ``submit`` calls from concurrent tasks into calls of ``fn`` on batches."""

    def __init__(self, fn: BatchFn[T, R], *, max_batch: int, max_wait_s: float) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if max_wait_s < 0:
            raise ValueError("max_wait_s must not be negative")
        self._fn = fn
        self._max_batch = max_batch
        self._max_wait_s = max_wait_s
        # Never closed with None: ``aclose`` cancels the worker and fails what is left.
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]] | None] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self.batch_sizes: list[int] = []
        """Size of every batch run so far (observability and tests)."""

    async def __aenter__(self) -> MicroBatcher[T, R]:
        self._worker = asyncio.create_task(self._run(), name="critic-micro-batcher")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the worker; items still queued fail with ``RuntimeError``."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        while not self._queue.empty():
            queued = self._queue.get_nowait()
            if queued is None:
                continue
            _, fut = queued
            if not fut.done():
                fut.set_exception(RuntimeError("micro-batcher closed"))

    async def submit_many(self, items: Sequence[T]) -> list[R]:
        """Results for ``items`` in order, computed in whatever batches the worker forms."""
        if self._worker is None:
            raise RuntimeError("micro-batcher is not running (use it as an async context manager)")
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[R]] = []
        for item in items:
            fut: asyncio.Future[R] = loop.create_future()
            futures.append(fut)
            self._queue.put_nowait((item, fut))
        return list(await asyncio.gather(*futures))

    async def _run(self) -> None:
        while True:
            batch, _ = await next_batch(self._queue, max_items=self._max_batch, max_wait_s=self._max_wait_s)
            live = [(item, fut) for item, fut in batch if not fut.done()]  # callers may have gone
            if not live:
                continue
            self.batch_sizes.append(len(live))
            try:
                results = await self._fn([item for item, _ in live])
                if len(results) != len(live):
                    raise RuntimeError(
                        f"batch function returned {len(results)} results for {len(live)} items"
                    )
            except asyncio.CancelledError:
                for _, fut in live:
                    if not fut.done():
                        fut.set_exception(RuntimeError("micro-batcher closed"))
                raise
            except Exception as exc:
                for _, fut in live:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), result in zip(live, results, strict=True):
                if not fut.done():
                    fut.set_result(result)
