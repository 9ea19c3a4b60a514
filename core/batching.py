"""Collect queued items into batches: the one batching rule of the critic path.

Used by the gateway's critic stage (responses -> critic batches) and by the critic's micro-batcher
(items of concurrent callers -> one model call): wait for a first item, then take more until the
batch holds ``max_items`` or ``max_wait_s`` has passed since the first. Items already queued when
the wait runs out are still taken (up to ``max_items``): waiting ends, draining does not.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

T = TypeVar("T")


async def next_batch(
    queue: asyncio.Queue[T | None], *, max_items: int, max_wait_s: float
) -> tuple[list[T], bool]:
    """The next batch from ``queue`` and whether the queue was closed.

    ``None`` in the queue closes it: the items before it form the last batch (possibly empty) and
    the second value is True. Waits as long as it takes for the first item.
    """
    if max_items < 1:
        raise ValueError("max_items must be at least 1")
    first = await queue.get()
    if first is None:
        return [], True
    batch = [first]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait_s
    while len(batch) < max_items:
        try:
            item = queue.get_nowait()
        except asyncio.QueueEmpty:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                item = await asyncio.wait_for(queue.get(), remaining)
            except TimeoutError:
                break
        if item is None:
            return batch, True
        batch.append(item)
    return batch, False
