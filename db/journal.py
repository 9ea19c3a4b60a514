"""The local write-ahead journal of paid answers: nothing a vendor was paid for is lost to a stuck
store or a killed process.

Every response is appended to this worker's journal (one JSON line, one ``write`` to an
``O_APPEND`` file) before it is queued for the database, and forgotten once the store has it: the
journal is cut into segments of ``segment_rows`` lines, and a segment whose every row is stored is
deleted. So the journal holds only answers the database does not have yet (at most the writer's queue
plus the calls in flight), whatever the size of the run.

Each worker journals into ``DIR/RUN_ID/WORKER_ID/`` and holds an exclusive ``flock`` on its folder's
``lock`` file while it lives. A later run (or another worker of the same run on this host) imports
every folder whose lock it can take, i.e. whose owner is gone, before it sends anything, then
deletes it. The lines are flushed to the kernel at once, so a ``kill -9`` loses none; a power cut
may lose the last moment of them (no ``fsync`` per answer: that would cost more than the call).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

import orjson
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.types import Outcome, ResponseRecord
from db.tables import ResponseRow

DEFAULT_SEGMENT_ROWS = 2000
_FIELDS = tuple(f.name for f in fields(ResponseRecord))
_LOCK = "lock"
_RESPONSES: Table = ResponseRow.__table__  # type: ignore[attr-defined]


class ResponseSink(Protocol):
    """What importing needs from ``db.store.Store``."""

    async def save_responses(self, rows: Sequence[ResponseRecord]) -> int:
        """Store responses idempotently; rows written."""
        ...

    @property
    def engine(self) -> AsyncEngine:
        """The store's engine (importing reads what is already stored)."""
        ...


def encode(rec: ResponseRecord) -> bytes:
    """One journal line for ``rec``."""
    return orjson.dumps({name: getattr(rec, name) for name in _FIELDS}) + b"\n"


def decode(line: bytes) -> ResponseRecord:
    """The record of one journal line (``ValueError`` for a torn or foreign line)."""
    data: dict[str, Any] = orjson.loads(line)
    data["outcome"] = Outcome(data["outcome"])
    return ResponseRecord(**data)


class Journal:
    """This worker's journal for one run. Not thread-safe: one event loop appends and confirms."""

    def __init__(self, root: Path, run_id: str, worker_id: str, *, segment_rows: int = DEFAULT_SEGMENT_ROWS):
        if segment_rows < 1:
            raise ValueError("segment_rows must be positive")
        self.folder = root / run_id / worker_id
        self._segment_rows = segment_rows
        self._seq = 0
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._open_segment = -1
        self._outstanding: dict[int, int] = {}  # segment -> rows appended but not yet stored

    def open(self) -> None:
        """Create the folder and take its lock."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.folder / _LOCK, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def append(self, rec: ResponseRecord) -> int:
        """Write ``rec`` to the journal; returns its sequence number for ``stored``."""
        seq = self._seq
        self._seq += 1
        segment = seq // self._segment_rows
        if segment != self._open_segment:
            self._roll(segment)
        assert self._fd is not None
        os.write(self._fd, encode(rec))
        self._outstanding[segment] = self._outstanding.get(segment, 0) + 1
        return seq

    def stored(self, seqs: Sequence[int]) -> None:
        """The store now holds the rows ``seqs``: delete segments left with nothing unstored."""
        for seq in seqs:
            segment = seq // self._segment_rows
            left = self._outstanding[segment] - 1
            self._outstanding[segment] = left
            if left == 0 and segment != self._open_segment:
                del self._outstanding[segment]
                self._segment_path(segment).unlink(missing_ok=True)

    @property
    def unstored(self) -> int:
        """Rows in the journal that the store does not have yet."""
        return sum(self._outstanding.values())

    def close(self) -> None:
        """Close the files; the folder goes too when every row reached the store."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.unstored == 0 and self._lock_fd is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            # The run's and the root folder go too once empty (another worker's keeps them).
            for parent in (self.folder.parent, self.folder.parent.parent):
                with contextlib.suppress(OSError):
                    parent.rmdir()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _roll(self, segment: int) -> None:
        if self._fd is not None:
            os.close(self._fd)
            if self._outstanding.get(self._open_segment) == 0:
                del self._outstanding[self._open_segment]
                self._segment_path(self._open_segment).unlink(missing_ok=True)
        self._fd = os.open(self._segment_path(segment), os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
        self._open_segment = segment

    def _segment_path(self, segment: int) -> Path:
        return self.folder / f"{segment:08d}.jsonl"


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What importing orphaned journals did."""

    folders: int
    rows: int
    written: int
    already_stored: int
    unreadable_lines: int


@contextlib.contextmanager
def _orphan(folder: Path) -> Iterator[bool]:
    """Hold ``folder``'s lock while importing it; yields False when its owner is alive."""
    fd = os.open(folder / _LOCK, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


async def import_orphans(root: Path, run_id: str, store: ResponseSink, *, batch: int = 500) -> ImportReport:
    """Store the rows of every journal of ``run_id`` under ``root`` whose worker is gone, then
    delete those journals. Rows the store already holds as journaled are not written twice (a stored
    retryable row would otherwise be replaced by itself and its attempts and cost counted twice)."""
    run_dir = root / run_id
    folders = rows = written = already = bad = 0
    if not run_dir.is_dir():
        return ImportReport(0, 0, 0, 0, 0)
    for folder in sorted(p for p in run_dir.iterdir() if p.is_dir()):
        with _orphan(folder) as orphaned:
            if not orphaned:
                continue
            folders += 1
            pending: list[ResponseRecord] = []
            for segment in sorted(folder.glob("*.jsonl")):
                with segment.open("rb") as fh:
                    for line in fh:
                        try:
                            pending.append(decode(line))
                        except (ValueError, TypeError, KeyError):
                            bad += 1  # a line torn by the kill: its answer was never confirmed
                        if len(pending) >= batch:
                            n, skipped = await _save(store, run_id, pending)
                            written, already, rows = written + n, already + skipped, rows + len(pending)
                            pending = []
            if pending:
                n, skipped = await _save(store, run_id, pending)
                written, already, rows = written + n, already + skipped, rows + len(pending)
            shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        run_dir.rmdir()  # only when empty
    return ImportReport(folders, rows, written, already, bad)


async def _save(store: ResponseSink, run_id: str, rows: list[ResponseRecord]) -> tuple[int, int]:
    r = _RESPONSES.c
    query = select(r.work_key, r.outcome, r.attempts).where(
        r.run_id == run_id, r.work_key.in_([row.work_key for row in rows])
    )
    async with store.engine.connect() as conn:
        stored = {key: (outcome, int(attempts)) for key, outcome, attempts in await conn.execute(query)}
    fresh = [r for r in rows if stored.get(r.work_key) != (r.outcome.value, r.attempts)]
    return (await store.save_responses(fresh) if fresh else 0), len(rows) - len(fresh)
