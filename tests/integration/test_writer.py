"""The batched writer over the real store (SQLite and Postgres)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
from sqlalchemy import text
from store_data import RUN, make_response, make_verdict, started

from core.types import ResponseRecord, Verdict
from db.store import Store
from db.writer import BatchWriter, WriterError


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(db_url)
    try:
        yield await started(opened)
    finally:
        await opened.close()


class GatedStore:
    """Delegates to the real store, but each write waits until the test opens the gate."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.gate = asyncio.Event()
        self.calls: list[int] = []

    async def save_responses(self, rows: Sequence[ResponseRecord]) -> int:
        self.calls.append(len(rows))
        await self.gate.wait()
        return await self.store.save_responses(rows)

    async def save_verdicts(self, run_id: str, verdicts: Sequence[Verdict]) -> None:
        await self.store.save_verdicts(run_id, verdicts)


async def count_rows(store: Store, table: str = "responses") -> int:
    async with store.engine.connect() as conn:
        return int(await conn.scalar(text(f"SELECT COUNT(*) FROM {table}")) or 0)


async def wait_for_rows(store: Store, expected: int, timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            if await count_rows(store) >= expected:
                return
            await asyncio.sleep(0.01)


async def test_full_batches_are_written_without_waiting_and_flush_writes_the_rest(store: Store) -> None:
    async with BatchWriter(store, max_batch=10, max_delay_s=60) as writer:
        for i in range(25):
            await writer.put_response(make_response(f"k{i:02d}"))
        await wait_for_rows(store, 20)
        await asyncio.sleep(0.05)
        assert await count_rows(store) == 20  # the last 5 wait for max_delay_s or a flush
        assert writer.pending == 5
        await writer.flush()
        assert await count_rows(store) == 25
        assert writer.pending == 0
        assert writer.batches_written == 3
        assert writer.rows_inserted == 25


async def test_a_partial_batch_is_written_after_max_delay(store: Store) -> None:
    async with BatchWriter(store, max_batch=1000, max_delay_s=0.05) as writer:
        for i in range(3):
            await writer.put_response(make_response(f"k{i}"))
        await wait_for_rows(store, 3, timeout_s=2.0)
        assert writer.batches_written == 1


async def test_exit_writes_everything_and_duplicates_keep_one_row(store: Store) -> None:
    async with BatchWriter(store, max_batch=4, max_delay_s=60) as writer:
        for i in range(10):
            await writer.put_response(make_response(f"k{i}"))
            await writer.put_response(make_response(f"k{i}"))
        await writer.put_verdicts(RUN, [make_verdict("k0"), make_verdict("k1", critic="judge")])
    assert await count_rows(store) == 10
    assert await count_rows(store, "verdicts") == 2
    assert writer.rows_inserted == 10
    assert await store.done_keys(RUN) == {f"k{i}" for i in range(10)}


async def test_put_waits_while_the_queue_is_full(store: Store) -> None:
    gated = GatedStore(store)
    async with BatchWriter(gated, max_batch=2, max_delay_s=0, max_queue=4) as writer:
        for i in range(6):  # 2 taken by the blocked write, 4 fill the queue
            await writer.put_response(make_response(f"k{i}"))
        blocked = asyncio.create_task(writer.put_response(make_response("k6")))
        await asyncio.sleep(0.1)
        assert not blocked.done()
        assert gated.calls == [2]
        gated.gate.set()
        await asyncio.wait_for(blocked, timeout=5)
        await writer.flush()
    assert await count_rows(store) == 7
    assert sum(gated.calls) == 7


async def test_flush_waits_for_the_batch_in_flight(store: Store) -> None:
    gated = GatedStore(store)
    async with BatchWriter(gated, max_batch=100, max_delay_s=60) as writer:
        await writer.put_response(make_response("k0"))
        flushing = asyncio.create_task(writer.flush())
        await asyncio.sleep(0.05)
        assert not flushing.done()
        gated.gate.set()
        await asyncio.wait_for(flushing, timeout=5)
        assert await count_rows(store) == 1


async def test_write_error_reaches_flush_put_and_exit(store: Store) -> None:
    orphan = make_response("orphan", run_id="no-such-run")  # violates the runs foreign key
    writer = BatchWriter(store, max_batch=10, max_delay_s=60)

    async def use_writer() -> None:
        async with writer:
            await writer.put_response(orphan)
            with pytest.raises(WriterError) as flush_error:
                await writer.flush()
            assert flush_error.value.__cause__ is not None
            with pytest.raises(WriterError):
                await writer.put_response(make_response("k1"))

    with pytest.raises(WriterError, match="1 rows not written") as exit_error:
        await use_writer()
    assert exit_error.value.__cause__ is not None
    assert await count_rows(store) == 0


async def test_exception_in_block_wins_but_rows_are_still_written(store: Store) -> None:
    async def use_writer() -> None:
        async with BatchWriter(store, max_batch=10, max_delay_s=60) as writer:
            await writer.put_response(make_response("k0"))
            raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        await use_writer()
    assert await count_rows(store) == 1


async def test_unstarted_writer_refuses_puts(store: Store) -> None:
    with pytest.raises(RuntimeError, match="async with"):
        await BatchWriter(store).put_response(make_response("k0"))
