"""The micro-batcher coalesces concurrent submissions and fails only the affected callers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from critic_server.batching import MicroBatcher


async def test_concurrent_submissions_share_batches() -> None:
    async def double(xs: Sequence[int]) -> list[int]:
        await asyncio.sleep(0.01)
        return [2 * x for x in xs]

    async with MicroBatcher(double, max_batch=8, max_wait_s=0.05) as batcher:
        results = await asyncio.gather(*(batcher.submit_many([i, i + 100]) for i in range(8)))
    assert results == [[2 * i, 2 * (i + 100)] for i in range(8)]
    assert sum(batcher.batch_sizes) == 16
    assert max(batcher.batch_sizes) == 8  # coalesced across callers, capped at max_batch
    assert len(batcher.batch_sizes) == 2


async def test_a_failed_batch_fails_its_callers_and_the_batcher_goes_on() -> None:
    calls = 0

    async def flaky(xs: Sequence[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("boom")
        return list(xs)

    async with MicroBatcher(flaky, max_batch=4, max_wait_s=0.0) as batcher:
        with pytest.raises(ValueError, match="boom"):
            await batcher.submit_many([1])
        assert await batcher.submit_many([2, 3]) == [2, 3]
