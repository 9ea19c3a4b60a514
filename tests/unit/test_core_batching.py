"""core.batching.next_batch: size cap, wait window measured from the first item, close marker."""

from __future__ import annotations

import asyncio

import pytest

from core.batching import next_batch


async def test_takes_queued_items_up_to_the_cap() -> None:
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    for i in range(5):
        queue.put_nowait(i)
    assert await next_batch(queue, max_items=3, max_wait_s=0.0) == ([0, 1, 2], False)
    # Wait over at once, but what is already queued is still taken.
    assert await next_batch(queue, max_items=3, max_wait_s=0.0) == ([3, 4], False)


async def test_waits_for_more_within_the_window_only() -> None:
    queue: asyncio.Queue[int | None] = asyncio.Queue()

    async def feed() -> None:
        queue.put_nowait(1)
        await asyncio.sleep(0.01)
        queue.put_nowait(2)  # inside the window: joins the batch
        await asyncio.sleep(0.3)
        queue.put_nowait(3)  # after it: the next batch

    feeder = asyncio.create_task(feed())
    assert await next_batch(queue, max_items=10, max_wait_s=0.1) == ([1, 2], False)
    assert await next_batch(queue, max_items=10, max_wait_s=0.0) == ([3], False)
    await feeder


async def test_none_closes_the_queue() -> None:
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    for item in (1, 2, None, 3):
        queue.put_nowait(item)
    assert await next_batch(queue, max_items=10, max_wait_s=1.0) == ([1, 2], True)
    queue2: asyncio.Queue[int | None] = asyncio.Queue()
    queue2.put_nowait(None)
    assert await next_batch(queue2, max_items=10, max_wait_s=1.0) == ([], True)
    with pytest.raises(ValueError, match="max_items"):
        await next_batch(queue2, max_items=0, max_wait_s=1.0)
