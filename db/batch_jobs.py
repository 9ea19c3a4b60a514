"""The vendor batch jobs of a run (``batch_jobs``): recorded before submission, updated as polled.

Each call is one short transaction; the rows are small apart from the job's work keys (JSON).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table, insert, select, update

from db.store import Store
from db.tables import BatchJobRow

_JOBS: Table = BatchJobRow.__table__  # type: ignore[attr-defined]

SUBMITTING = "submitting"
"""Recorded, the vendor not yet asked (or its answer lost): the items are sent again."""
SUBMITTED = "submitted"
"""The vendor holds the job: poll it, never send its items again."""
COLLECTED = "collected"
"""Its results are stored."""


@dataclass(frozen=True, slots=True)
class BatchJob:
    """One stored job."""

    id: str
    run_id: str
    target: str
    batch_id: str | None
    state: str
    vendor_status: str
    items: int
    work_keys: tuple[str, ...]
    created_at: float
    updated_at: float


async def record(store: Store, run_id: str, target: str, work_keys: Sequence[str]) -> str:
    """A new ``submitting`` job carrying ``work_keys``; returns its id."""
    job_id = uuid.uuid4().hex
    now = time.time()
    async with store.engine.begin() as conn:
        await conn.execute(
            insert(_JOBS).values(
                id=job_id,
                run_id=run_id,
                target=target,
                batch_id=None,
                state=SUBMITTING,
                vendor_status="",
                items=len(work_keys),
                work_keys_json=json.dumps(list(work_keys)),
                created_at=now,
                updated_at=now,
            )
        )
    return job_id


async def update_job(
    store: Store, job_id: str, *, state: str, batch_id: str | None = None, vendor_status: str | None = None
) -> None:
    """Set a job's state (and the vendor's batch id / status when given)."""
    values: dict[str, object] = {"state": state, "updated_at": time.time()}
    if batch_id is not None:
        values["batch_id"] = batch_id
    if vendor_status is not None:
        values["vendor_status"] = vendor_status
    async with store.engine.begin() as conn:
        await conn.execute(update(_JOBS).where(_JOBS.c.id == job_id).values(**values))


async def jobs(store: Store, run_id: str, target: str | None = None) -> list[BatchJob]:
    """The run's jobs (one target's with ``target``), oldest first."""
    stmt = select(_JOBS).where(_JOBS.c.run_id == run_id)
    if target is not None:
        stmt = stmt.where(_JOBS.c.target == target)
    async with store.engine.connect() as conn:
        rows = (await conn.execute(stmt.order_by(_JOBS.c.created_at))).mappings().all()
    return [
        BatchJob(
            id=r["id"],
            run_id=r["run_id"],
            target=r["target"],
            batch_id=r["batch_id"],
            state=r["state"],
            vendor_status=r["vendor_status"],
            items=r["items"],
            work_keys=tuple(json.loads(r["work_keys_json"])),
            created_at=r["created_at"],
            updated_at=r["updated_at"],
        )
        for r in rows
    ]
