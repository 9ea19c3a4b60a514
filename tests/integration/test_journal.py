"""The write-ahead journal: paid answers survive a store that fails and a worker that dies, and are
imported exactly once by the next run."""

from __future__ import annotations

import dataclasses
import fcntl
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from store_data import RUN, assert_totals_match, make_response, started

from core.types import Outcome, ResponseRecord, Verdict
from db.journal import Journal, decode, encode, import_orphans
from db.store import Store
from db.writer import BatchWriter, WriterError


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(db_url)
    try:
        yield await started(opened)
    finally:
        await opened.close()


async def _stored(store: Store) -> dict[str, tuple[str, int, float]]:
    from sqlalchemy import text

    async with store.engine.connect() as conn:
        rows = await conn.execute(text("SELECT work_key, outcome, attempts, cost_usd FROM responses"))
        return {k: (o, int(a), float(c)) for k, o, a, c in rows}


def test_a_line_round_trips_every_field() -> None:
    rec = make_response("k1", outcome=Outcome.BLOCKED_BY_VENDOR, ttft_ms=None, error="filtered")
    assert decode(encode(rec)) == rec


def test_a_line_keeps_the_block_category() -> None:
    rec = make_response("k2", outcome=Outcome.BLOCKED_BY_VENDOR, block_category="violence,hate")
    assert decode(encode(rec)).block_category == "violence,hate"


def test_stored_segments_are_deleted_and_a_clean_close_leaves_nothing(tmp_path: Path) -> None:
    journal = Journal(tmp_path, RUN, "w1", segment_rows=3)
    journal.open()
    seqs = [journal.append(make_response(f"k{i}")) for i in range(7)]  # segments 0, 1 and 2 (open)
    assert len(list(journal.folder.glob("*.jsonl"))) == 3
    journal.stored(seqs[:3])
    assert sorted(p.name for p in journal.folder.glob("*.jsonl")) == ["00000001.jsonl", "00000002.jsonl"]
    assert journal.unstored == 4
    journal.stored(seqs[3:])
    journal.close()
    assert not journal.folder.exists()


def test_an_unclean_close_keeps_the_unstored_rows(tmp_path: Path) -> None:
    journal = Journal(tmp_path, RUN, "w1")
    journal.open()
    journal.stored([journal.append(make_response("k1"))])
    journal.append(make_response("k2"))
    journal.close()
    lines = [decode(line) for p in journal.folder.glob("*.jsonl") for line in p.read_bytes().splitlines()]
    assert [r.work_key for r in lines] == ["k1", "k2"]  # the open segment keeps both until it rolls


async def test_orphans_are_imported_once_and_live_journals_left_alone(tmp_path: Path, store: Store) -> None:
    await store.save_responses([make_response("k1", outcome=Outcome.FAILED_TRANSIENT, attempts=3)])
    dead = Journal(tmp_path, RUN, "dead")
    dead.open()
    dead.append(make_response("k1", outcome=Outcome.FAILED_TRANSIENT, attempts=3))  # stored already
    dead.append(make_response("k2"))
    dead.close()
    with (dead.folder / "00000000.jsonl").open("ab") as fh:
        fh.write(b'{"run_id": "torn')  # the kill cut the last line short
    live = Journal(tmp_path, RUN, "live")
    live.open()
    live.append(make_response("k3"))

    report = await import_orphans(tmp_path, RUN, store)

    assert (report.folders, report.rows, report.written, report.already_stored) == (1, 2, 1, 1)
    assert report.unreadable_lines == 1
    stored = await _stored(store)
    assert stored["k1"] == ("FAILED_TRANSIENT", 3, 0.25)  # not replaced by itself: counted once
    assert "k2" in stored
    assert "k3" not in stored
    assert not dead.folder.exists()
    assert live.folder.exists()
    live.close()
    await assert_totals_match(store)


def test_a_second_worker_cannot_take_a_live_journal(tmp_path: Path) -> None:
    journal = Journal(tmp_path, RUN, "w1")
    journal.open()
    fd = os.open(journal.folder / "lock", os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
        journal.close()


class FlakyStore:
    """A store whose response writes fail with a lock error ``failures`` times (or forever)."""

    def __init__(self, store: Store, failures: int) -> None:
        self._store = store
        self.failures = failures
        self.attempts = 0

    @property
    def engine(self) -> object:
        return self._store.engine

    async def save_responses(self, rows: Sequence[ResponseRecord]) -> int:
        self.attempts += 1
        if self.failures != 0:
            self.failures -= 1
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return await self._store.save_responses(rows)

    async def save_verdicts(self, run_id: str, verdicts: Sequence[Verdict]) -> None:
        await self._store.save_verdicts(run_id, verdicts)


async def test_a_locked_store_is_retried_and_the_journal_emptied(tmp_path: Path, store: Store) -> None:
    flaky = FlakyStore(store, failures=2)
    journal = Journal(tmp_path, RUN, "w1")
    journal.open()
    async with BatchWriter(flaky, max_batch=10, max_delay_s=0.01, journal=journal) as writer:
        for i in range(5):
            await writer.put_response(make_response(f"k{i}"))
    journal.close()
    assert flaky.attempts == 3
    assert len(await _stored(store)) == 5
    assert not journal.folder.exists()


async def test_a_store_that_stays_down_loses_no_paid_answer(tmp_path: Path, store: Store) -> None:
    journal = Journal(tmp_path, RUN, "w1")
    journal.open()

    async def pay_for_five() -> None:
        async with BatchWriter(
            FlakyStore(store, failures=-1), max_batch=10, max_delay_s=0.01, journal=journal, retry_for_s=0.3
        ) as writer:
            for i in range(5):
                await writer.put_response(make_response(f"k{i}", cost_usd=0.5))

    with pytest.raises(WriterError):
        await pay_for_five()
    journal.close()
    assert await _stored(store) == {}
    report = await import_orphans(tmp_path, RUN, store)
    assert report.written == 5
    stored = await _stored(store)
    assert sorted(stored) == [f"k{i}" for i in range(5)]
    assert sum(c for _o, _a, c in stored.values()) == pytest.approx(2.5)


def test_records_are_frozen_dataclasses_with_the_journal_fields() -> None:
    # The journal writes every field of ResponseRecord: a new field must round-trip too.
    rec = make_response("k1")
    assert dataclasses.asdict(decode(encode(rec))) == dataclasses.asdict(rec)
