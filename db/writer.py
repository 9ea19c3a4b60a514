"""The one batched writer: responses and verdicts go to the store in batches from a single task.

Producers ``await put_response(...)`` / ``put_verdicts(...)``: an append to a bounded buffer, with no
task or future per item; they wait only while the buffer is full (backpressure). The writer task
writes a batch when ``max_batch`` rows are waiting or ``max_delay_s`` after the first of them
arrived, whichever comes first.

A write that fails on a passing database condition (a lock held past the busy timeout, a dropped
connection) is retried with jittered back-off for up to ``retry_for_s``; meanwhile the queue fills and
producers wait, so a slow or locked store pauses sending instead of piling up paid answers. A write
that still fails stops the writer and is raised to every later caller (``put_*``, ``flush``, leaving
the context): rows are never silently dropped. With a ``journal``, every response is journaled
before it is queued and forgotten once stored, so answers the store never got are imported by the
next run instead of being paid for again.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Protocol, TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_random_exponential

from core.errors import ServiceError
from core.types import ResponseRecord, Verdict
from db.journal import Journal


class WriterError(ServiceError):
    """A batch could not be written; the original database error is the ``__cause__``."""


class BatchStore(Protocol):
    """What the writer needs from ``db.store.Store``."""

    async def save_responses(self, rows: Sequence[ResponseRecord]) -> int:
        """Store responses (insert, or replace a FAILED_TRANSIENT/INCOMPLETE row); rows written."""
        ...

    async def save_verdicts(self, run_id: str, verdicts: Sequence[Verdict]) -> None:
        """Upsert verdicts for one run."""
        ...


DEFAULT_MAX_BATCH = 500
"""Rows per write when the caller names no ``max_batch``."""

DEFAULT_QUEUE_BATCHES = 4
"""Batches of rows that may wait to be written when the caller names no ``max_queue``."""

RETRY_FOR_S = 300.0
"""How long a write failing on a passing database condition is retried before it is an error."""

_T = TypeVar("_T")
_Item = tuple[int, ResponseRecord] | tuple[str, Verdict]
"""A response with its journal sequence number (-1 without a journal), or a run id and a verdict."""


def transient_db_error(exc: BaseException) -> bool:
    """A database error that may pass on its own: locks, timeouts, lost connections."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (OperationalError, InterfaceError, OSError, TimeoutError)) or lock_wait_error(exc)


_SQLITE_BUSY_OR_LOCKED = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED (primary codes)
_PG_LOCK_SQLSTATES = ("55P03", "40P01")  # lock_not_available, deadlock_detected


def lock_wait_error(exc: BaseException) -> bool:
    """A statement refused because another connection held a lock too long (SQLite's busy timeout,
    Postgres' lock timeout or a deadlock): its transaction did nothing, so it is always safe to
    repeat, unlike one cut off by a lost connection, whose commit may or may not have happened."""
    if not isinstance(exc, DBAPIError):
        return False
    code = getattr(exc.orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_BUSY_OR_LOCKED
    return getattr(exc.orig, "sqlstate", None) in _PG_LOCK_SQLSTATES


async def retry_transient(
    write: Callable[[], Awaitable[_T]],
    *,
    for_s: float = RETRY_FOR_S,
    when: Callable[[BaseException], bool] = transient_db_error,
) -> _T:
    """``await write()``, called again with jittered back-off while it fails with an error ``when``
    accepts, for up to ``for_s`` seconds; any other error, and the last accepted one, is raised.

    The default, ``transient_db_error`` (locks, timeouts, lost connections), suits writes that are
    safe to repeat whatever an attempt did (idempotent upserts). ``lock_wait_error`` suits any write:
    it retries only attempts that surely did nothing.
    """
    async for attempt in AsyncRetrying(
        stop=stop_after_delay(for_s),
        wait=wait_random_exponential(multiplier=0.2, max=10.0),
        retry=retry_if_exception(when),
        reraise=True,
    ):
        with attempt:
            return await write()
    raise AssertionError("unreachable: tenacity re-raises the last error")


async def wait_out_locks(write: Callable[[], Awaitable[_T]], *, for_s: float = RETRY_FOR_S) -> _T:
    """``await write()``, repeated while another connection's lock refuses it (``lock_wait_error``)
    for up to ``for_s`` seconds: a stalled store pauses the caller instead of failing it. Safe for
    any write; a lost connection is still raised at once."""
    return await retry_transient(write, for_s=for_s, when=lock_wait_error)


class BatchWriter:
    """Batches writes to the store from one background task. Use as an async context manager.

    ``max_queue`` (default ``DEFAULT_QUEUE_BATCHES`` batches) bounds the rows waiting to be written;
    ``put_*`` waits while it is full.
    """

    def __init__(
        self,
        store: BatchStore,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_delay_s: float = 0.2,
        max_queue: int | None = None,
        journal: Journal | None = None,
        retry_for_s: float = RETRY_FOR_S,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be positive, got {max_batch}")
        if max_delay_s < 0:
            raise ValueError(f"max_delay_s must not be negative, got {max_delay_s}")
        self._store = store
        self._journal = journal
        self._retry_for_s = retry_for_s
        self._max_batch = max_batch
        self._max_delay_s = max_delay_s
        self._max_queue = max_queue if max_queue is not None else DEFAULT_QUEUE_BATCHES * max_batch
        if self._max_queue < max_batch:
            raise ValueError(f"max_queue ({self._max_queue}) must be at least max_batch ({max_batch})")
        self._buffer: deque[_Item] = deque()
        self._queued = 0  # rows ever put
        self._written = 0  # rows ever written: always the oldest `_written` of the queued ones
        self._flush_to = 0  # write without delay until this many rows are written
        self._inserted = 0
        self._batches = 0
        self._closing = False
        self._stopped = False
        self._error: Exception | None = None
        self._task: asyncio.Task[None] | None = None
        self._has_rows = asyncio.Event()  # buffer not empty (or closing)
        self._batch_ready = asyncio.Event()  # a full batch waits, a flush was asked for, or closing
        self._has_room = asyncio.Event()  # buffer below max_queue (or the writer stopped)
        self._has_room.set()
        self._progress = asyncio.Condition()  # notified after every batch and when the writer stops

    async def __aenter__(self) -> BatchWriter:
        if self._task is not None:
            raise RuntimeError("BatchWriter already started")
        self._task = asyncio.create_task(self._run(), name="seval-batch-writer")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Write everything still queued, then stop. A write error is raised unless the block is
        already raising (then the block's exception wins)."""
        task = self._task
        if task is None:
            return
        self._closing = True
        self._has_rows.set()
        self._batch_ready.set()
        try:
            # Draining continues even when the block was cancelled (Ctrl-C): rows already paid for
            # are worth keeping. A second cancellation stops the writer.
            await asyncio.wait({task})
        except asyncio.CancelledError:
            task.cancel()
            raise
        if exc is None:
            self._raise_if_failed()
            if self.pending:
                raise WriterError(f"the batch writer stopped with {self.pending} rows not written")

    @property
    def pending(self) -> int:
        """Rows queued but not yet written."""
        return self._queued - self._written

    @property
    def rows_inserted(self) -> int:
        """Responses written: new work keys plus rows that replaced a stored FAILED_TRANSIENT or
        INCOMPLETE one (a re-saved key whose stored answer is final is not counted)."""
        return self._inserted

    @property
    def batches_written(self) -> int:
        """Batches written so far."""
        return self._batches

    async def put_response(self, rec: ResponseRecord) -> None:
        """Journal one response (when there is a journal), then queue it; waits while the queue is full."""
        self._check_open()
        await self._put((self._journal.append(rec) if self._journal is not None else -1, rec))

    async def put_verdicts(self, run_id: str, verdicts: Sequence[Verdict]) -> None:
        """Queue verdicts of one run; waits while the queue is full."""
        for verdict in verdicts:
            await self._put((run_id, verdict))

    async def flush(self) -> None:
        """Return once every row queued before this call is written (or raise the write error)."""
        self._check_open()
        target = self._queued
        if self._written >= target:
            return
        self._flush_to = max(self._flush_to, target)
        self._batch_ready.set()
        async with self._progress:
            await self._progress.wait_for(lambda: self._written >= target or self._stopped)
        self._check_open()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise WriterError(
                f"writing to the store failed ({self.pending} rows not written): "
                f"{type(self._error).__name__}: {self._error}"
            ) from self._error

    def _check_open(self) -> None:
        self._raise_if_failed()
        if self._task is None:
            raise RuntimeError("BatchWriter is not running: use it as `async with BatchWriter(...)`")
        if self._closing or self._stopped:
            raise RuntimeError("BatchWriter is closed")

    async def _put(self, item: _Item) -> None:
        self._check_open()
        while len(self._buffer) >= self._max_queue:
            self._has_room.clear()
            await self._has_room.wait()
            self._check_open()
        self._buffer.append(item)
        self._queued += 1
        if len(self._buffer) == 1:
            self._has_rows.set()
        if len(self._buffer) >= self._max_batch:
            self._batch_ready.set()

    async def _run(self) -> None:
        try:
            while True:
                if not self._buffer:
                    if self._closing:
                        return
                    self._has_rows.clear()
                    await self._has_rows.wait()
                    continue
                if not self._should_write_now():
                    self._batch_ready.clear()
                    try:
                        async with asyncio.timeout(self._max_delay_s):
                            await self._batch_ready.wait()
                    except TimeoutError:
                        pass
                await self._write_batch()
        except Exception as exc:
            # Kept for the callers (put_*, flush, leaving the context), who raise it.
            self._error = exc
        finally:
            self._stopped = True
            self._has_room.set()
            async with self._progress:
                self._progress.notify_all()

    def _should_write_now(self) -> bool:
        return len(self._buffer) >= self._max_batch or self._closing or self._written < self._flush_to

    async def _write_batch(self) -> None:
        count = min(len(self._buffer), self._max_batch)
        batch = [self._buffer.popleft() for _ in range(count)]
        responses: list[ResponseRecord] = []
        seqs: list[int] = []
        verdicts: dict[str, list[Verdict]] = {}
        for item in batch:
            if isinstance(item[1], ResponseRecord):
                seqs.append(item[0])
                responses.append(item[1])
            else:
                verdicts.setdefault(item[0], []).append(item[1])
        # Room frees once the rows are taken: producers refill while this batch is written.
        self._has_room.set()
        # Each statement group is retried on its own: a response batch is one transaction, so a
        # retry never re-applies rows that were already committed.
        if responses:
            self._inserted += await retry_transient(
                functools.partial(self._store.save_responses, responses), for_s=self._retry_for_s
            )
            if self._journal is not None:
                self._journal.stored([s for s in seqs if s >= 0])
        for run_id, run_verdicts in verdicts.items():
            await retry_transient(
                functools.partial(self._store.save_verdicts, run_id, run_verdicts), for_s=self._retry_for_s
            )
        self._written += count
        self._batches += 1
        async with self._progress:
            self._progress.notify_all()
