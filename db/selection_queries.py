"""Read-only queries for test selection: how often each stored prompt broke the targets it met."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.tables import ResponseRow, VerdictRow


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """A case's record over stored runs: targets that answered it unsafely, and targets judged."""

    broke: int
    judged: int


async def case_break_counts(
    engine: AsyncEngine,
    *,
    run_ids: Sequence[str] = (),
    critic: str | None = None,
) -> dict[str, CaseRecord]:
    """Per case id: distinct targets with an unsafe SCORED verdict, and distinct targets scored.

    One GROUP BY over responses joined to verdicts (same statement on SQLite and Postgres).
    ``run_ids`` limits it to those runs (default: every run); ``critic`` to one critic's verdicts.
    """
    r = ResponseRow.__table__.c  # type: ignore[attr-defined]
    v = VerdictRow.__table__.c  # type: ignore[attr-defined]
    unsafe_target = case((v.label == "unsafe", r.target), else_=None)
    query = (
        select(r.case_id, func.count(distinct(unsafe_target)), func.count(distinct(r.target)))
        .select_from(
            ResponseRow.__table__.join(  # type: ignore[attr-defined]
                VerdictRow.__table__,  # type: ignore[attr-defined]
                and_(v.run_id == r.run_id, v.work_key == r.work_key),
            )
        )
        .where(v.status == "SCORED")
        .group_by(r.case_id)
    )
    if run_ids:
        query = query.where(r.run_id.in_(list(run_ids)))
    if critic is not None:
        query = query.where(v.critic == critic)
    async with engine.connect() as conn:
        result = await conn.execute(query)
        return {str(case_id): CaseRecord(int(broke), int(judged)) for case_id, broke, judged in result}
