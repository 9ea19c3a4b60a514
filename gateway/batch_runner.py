"""Batch mode (`mode: batch` on a target): the target's work goes through its vendor's batch API.

The feeder is the streaming runner's (stored keys skipped, cache hits reused); instead of workers,
the planned items are collected, split into jobs of ``batch.max_items`` and submitted. Every job
is recorded in ``batch_jobs`` before the vendor is asked to create it and gets the vendor's batch id
right after, so a killed run finds its jobs and polls them: an item waiting on a submitted job is
never sent again. Per key, the latest job carrying it decides:

- no job, or one recorded but never created (``submitting``): send it;
- a ``submitted`` job: wait for it (poll, then read its results);
- a ``collected`` job: the stored row is its result; a key with no stored row (lost between
  reading and storing) is read again from the same job, and a key stored FAILED_TRANSIENT (an
  expired, canceled or errored line) is sent again in a new job, up to ``retry.max_attempts`` jobs.

Per-line results are the batch client's ``AttemptResult``s, classified like streamed answers, and
are stored and judged exactly like them; their cost is the streaming price times
``batch.price_factor``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import Counter
from typing import Any

from adapters.batch import BatchClient, BatchError, transient
from core.types import ChatRequest
from db import batch_jobs
from db.store import Store
from gateway.budget import charged_tokens
from gateway.dispatch import Planned, TargetRunner
from gateway.run_results import TargetStatus
from gateway.shards import ShardBatch

log = logging.getLogger("seval.batch")


class BatchRunner(TargetRunner):
    """Feeds one target like ``TargetRunner`` and sends its items through vendor batch jobs."""

    def __init__(self, store: Store, client: BatchClient, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._store = store
        self._client = client
        self._pending: dict[str, Planned] = {}
        self._settings = self.target.batch
        self._max_jobs = kwargs["config"].retry.max_attempts
        self._sent: Counter[str] = Counter()  # jobs created per work key, earlier sessions included
        self._stored_once: set[str] = set()  # keys with a line stored by this session

    async def run(self, cases: asyncio.Queue[ShardBatch | None]) -> None:
        """Collect the target's unsent items, then submit, poll and store until every job is read;
        each item then leaves its shard (stored, or not when its job is still open or never went)."""
        collector = asyncio.create_task(self._collect())
        try:
            await self._feed(cases)
        finally:
            await self._items.put(None)
            await collector
        try:
            if self._pending:
                await self._work()
        finally:
            for key, p in self._pending.items():
                self._tracker.done(p.shard, stored=key in self._stored_once)

    async def _collect(self) -> None:
        while (p := await self._items.get()) is not None:
            self._pending[p.item.key] = p

    async def _work(self) -> None:
        store, run_id = self._store, self._run_id
        jobs = await batch_jobs.jobs(store, run_id, self.name)
        stored = await store.done_keys(run_id, self.name, include_retryable=True)
        latest: dict[str, batch_jobs.BatchJob] = {}
        submitting = (j for j in jobs if j.state == batch_jobs.SUBMITTING)
        unconfirmed = [j for j in submitting if not stored.issuperset(j.work_keys)]
        found = {j.id: await self._recover(j) for j in unconfirmed}
        jobs = [found.get(j.id, j) for j in jobs]
        for job in jobs:
            for key in job.work_keys:
                latest[key] = job
        self._sent = Counter(k for j in jobs if j.state != batch_jobs.SUBMITTING for k in j.work_keys)
        waiting: dict[str, str] = {}  # work key -> id of the job whose result it awaits
        open_jobs: dict[str, batch_jobs.BatchJob] = {}
        to_send: list[str] = []
        for key in self._pending:
            last = latest.get(key)
            if last is None or last.state == batch_jobs.SUBMITTING or last.batch_id is None:
                to_send.append(key)
            elif last.state == batch_jobs.SUBMITTED or key not in stored:
                waiting[key] = last.id
                open_jobs[last.id] = last
            else:
                to_send.append(key)
        deadline = time.monotonic() + self._settings.max_wait_s
        while True:
            if to_send and not self.halted:
                for job in await self._submit(to_send):
                    open_jobs[job.id] = job
                    waiting.update(dict.fromkeys(job.work_keys, job.id))
            to_send = []
            if not open_jobs:
                return
            if self._stop.is_set() or time.monotonic() > deadline:
                self.status = TargetStatus.STOPPED
                self.status_detail = f"{len(open_jobs)} batch job(s) still open; run again to collect them"
                return
            with contextlib.suppress(TimeoutError):  # a poll interval, cut short by a stop
                await asyncio.wait_for(self._stop.wait(), self._settings.poll_s)
            for job in list(open_jobs.values()):
                resend = await self._poll(job, waiting)
                if resend is not None:
                    del open_jobs[job.id]
                    to_send.extend(resend)

    async def _submit(self, keys: list[str]) -> list[batch_jobs.BatchJob]:
        """Record and create jobs for ``keys`` (within the budget); the jobs the vendor holds."""
        req = self._request
        stream = False  # a batch line is answered whole
        submitted: list[batch_jobs.BatchJob] = []
        size = self._settings.max_items
        for start in range(0, len(keys), size):
            if not self._budget.check():
                break
            chunk = [k for k in keys[start : start + size] if self._sent[k] < self._max_jobs]
            if not chunk:
                continue
            lines = [
                (
                    key,
                    ChatRequest(
                        prompt=self._pending[key].item.case.text,
                        decoding=self._pending[key].item.decoding,
                        stream=stream,
                        system=req.system,
                        max_response_chars=req.max_response_chars,
                    ),
                )
                for key in chunk
            ]
            job_id = await batch_jobs.record(self._store, self._run_id, self.name, chunk)
            try:
                batch_id = await self._client.submit(lines, label=self._label(job_id))
            except BatchError as exc:
                # Never created: the job stays ``submitting`` and its items are sent by the next run.
                self.status_detail = f"batch submit failed: {exc}"
                continue
            self._budget.calls += 1
            await batch_jobs.update_job(self._store, job_id, state=batch_jobs.SUBMITTED, batch_id=batch_id)
            self._sent.update(chunk)
            submitted.append(
                batch_jobs.BatchJob(
                    id=job_id,
                    run_id=self._run_id,
                    target=self.name,
                    batch_id=batch_id,
                    state=batch_jobs.SUBMITTED,
                    vendor_status="",
                    items=len(chunk),
                    work_keys=tuple(chunk),
                    created_at=time.time(),
                    updated_at=time.time(),
                )
            )
        return submitted

    def _label(self, job_id: str) -> str:
        """What a job is created with at the vendor, so it can be found again by ``find``."""
        return f"seval-{self._run_id[:12]}-{job_id[:8]}"

    async def _recover(self, job: batch_jobs.BatchJob) -> batch_jobs.BatchJob:
        """A job left ``submitting`` by an earlier session: the vendor may have created it before that
        session stopped. Found there, it is the job's batch from now on (waited for, not sent again)."""
        try:
            # Clocks differ between this host and the vendor; a minute of slack finds the job anyway.
            batch_id = await self._client.find(self._label(job.id), since=job.created_at - 60.0)
        except BatchError as exc:
            self.status_detail = f"looking up an unconfirmed batch job failed (sent again): {exc}"
            return job
        if batch_id is None:
            return job
        await batch_jobs.update_job(self._store, job.id, state=batch_jobs.SUBMITTED, batch_id=batch_id)
        log.warning(
            "batch job found at the vendor: an earlier session created it but stopped before storing its id",
            extra={"run_id": self._run_id, "target": self.name, "items": job.items},
        )
        return dataclasses.replace(job, state=batch_jobs.SUBMITTED, batch_id=batch_id)

    async def _poll(self, job: batch_jobs.BatchJob, waiting: dict[str, str]) -> list[str] | None:
        """Read ``job`` if it ended: store its lines; the keys to send again. None while it runs."""
        assert job.batch_id is not None
        try:
            state = await self._client.state(job.batch_id)
            if not state.ended:
                return None
            results = await self._client.results(job.batch_id)
        except BatchError as exc:
            self.status_detail = f"batch poll failed (will poll again): {exc}"
            return None
        resend: list[str] = []
        factor = self._settings.price_factor
        seen: set[str] = set()
        for key, result in results:
            if waiting.get(key) != job.id or key in seen:
                continue
            seen.add(key)
            await self._store_line(key, result, factor)
            if result.retryable and not result.pause_target:
                resend.append(key)
        for key in job.work_keys:
            if waiting.get(key) == job.id and key not in seen:  # the vendor returned no line for it
                await self._store_line(
                    key, transient("batch_missing", "no result line for this request"), factor
                )
                resend.append(key)
        for key in job.work_keys:
            if waiting.get(key) == job.id:
                del waiting[key]
        await batch_jobs.update_job(
            self._store, job.id, state=batch_jobs.COLLECTED, vendor_status=state.status
        )
        return resend

    async def _store_line(self, key: str, result: Any, factor: float) -> None:
        p = self._pending[key]
        self._stored_once.add(key)
        tokens = charged_tokens(p.item.case.text, result)
        cost = self._price.cost(*tokens) * factor
        self._budget.spent_usd += cost
        await self._emit(self._record(p.item, p.cache_key, result, 1, cost=cost, tokens=tokens), p.item.case)
