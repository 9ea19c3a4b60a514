"""The run's critic stage: batches completed responses to the critic and stores the verdicts."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from core.batching import next_batch
from core.protocols import Critic
from core.redaction import Redactor
from core.types import CritiqueItem, Verdict, VerdictStatus
from db.writer import BatchWriter


@dataclass(slots=True)
class CriticStats:
    """Live counters of the critic stage."""

    scored: int = 0
    errors: int = 0


class CriticStage:
    """Batches completed responses to the critic (``concurrency`` batches in flight) and stores
    the verdicts. A critic that raises gives CRITIC_ERROR verdicts, never safe ones."""

    def __init__(
        self,
        critic: Critic,
        writer: BatchWriter,
        run_id: str,
        *,
        batch_size: int,
        concurrency: int,
        redactor: Redactor,
        stats: CriticStats,
        max_delay_s: float = 0.25,
    ) -> None:
        self._critic = critic
        self._writer = writer
        self._run_id = run_id
        self._batch_size = batch_size
        self._max_delay_s = max_delay_s
        self._redactor = redactor
        self._slots = asyncio.Semaphore(concurrency)
        self._queue: asyncio.Queue[CritiqueItem | None] = asyncio.Queue(batch_size * concurrency * 2)
        self._inflight: set[asyncio.Task[None]] = set()
        self.stats = stats

    async def put(self, item: CritiqueItem) -> None:
        """Queue one response for judging (waits while the stage is full)."""
        await self._queue.put(item)

    async def run(self) -> None:
        """Collect batches until ``close``; every batch is judged and stored before this returns."""
        closed = False
        while not closed:
            batch, closed = await next_batch(
                self._queue, max_items=self._batch_size, max_wait_s=self._max_delay_s
            )
            if not batch:
                break
            await self._slots.acquire()
            task = asyncio.create_task(self._judge(batch))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        if self._inflight:
            await asyncio.gather(*self._inflight)

    async def close(self) -> None:
        """No more items: the running ``run`` finishes the batches it has."""
        await self._queue.put(None)

    async def judge(self, items: Sequence[CritiqueItem]) -> list[Verdict]:
        """Judge one batch now, store its verdicts and return them (in ``items``' order)."""
        try:
            verdicts = await self._critic.critique(items)
            if len(verdicts) != len(items):
                raise RuntimeError(f"critic returned {len(verdicts)} verdicts for {len(items)} items")
        except Exception as exc:
            error = self._redactor.redact_exception(exc)
            verdicts = [
                Verdict(
                    id=i.id,
                    status=VerdictStatus.CRITIC_ERROR,
                    label=None,
                    risk_score=None,
                    risk_tags=(),
                    explanation="",
                    critic=self._critic.name,
                    critic_version=self._critic.version,
                    error=error,
                )
                for i in items
            ]
        for v in verdicts:
            if v.status is VerdictStatus.SCORED:
                self.stats.scored += 1
            else:
                self.stats.errors += 1
        await self._writer.put_verdicts(self._run_id, verdicts)
        return verdicts

    async def _judge(self, items: list[CritiqueItem]) -> None:
        try:
            await self.judge(items)
        finally:
            self._slots.release()
