"""Critic bookkeeping: a judge's spend per run (``critic_usage``) and critic validations against
human labels (``critic_validations``). Functions over the store's engine; values are frozen records.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from db.tables import CriticUsageRow, CriticValidationRow, utcnow

_USAGE: Table = CriticUsageRow.__table__  # type: ignore[attr-defined]
_VALIDATIONS: Table = CriticValidationRow.__table__  # type: ignore[attr-defined]
_COUNTS = ("calls", "retries", "prompt_tokens", "completion_tokens", "cost_usd", "items", "errors")


@dataclass(frozen=True, slots=True)
class CriticUsage:
    """A critic's vendor calls on one run (the judge's; the targets' cost is kept elsewhere)."""

    critic: str
    critic_version: str
    calls: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    items: int = 0
    errors: int = 0


@dataclass(frozen=True, slots=True)
class ValidationRecord:
    """One measurement of a critic on labelled data, for one language (or ``all``)."""

    critic: str
    critic_version: str
    dataset: str
    dataset_hash: str
    split: str
    lang: str
    n: int
    balanced_accuracy: float | None
    unsafe_precision: float | None
    unsafe_recall: float | None
    errors: int = 0


async def add_critic_usage(engine: AsyncEngine, run_id: str, usage: CriticUsage) -> None:
    """Add ``usage`` to the run's row for that critic (created on first use)."""
    key = (
        (_USAGE.c.run_id == run_id)
        & (_USAGE.c.critic == usage.critic)
        & (_USAGE.c.critic_version == usage.critic_version)
    )
    deltas = {name: getattr(usage, name) for name in _COUNTS}
    async with engine.begin() as conn:
        done = await conn.execute(
            update(_USAGE)
            .where(key)
            .values(**{n: _USAGE.c[n] + v for n, v in deltas.items()}, updated_at=utcnow())
        )
        if done.rowcount == 0:
            await conn.execute(
                insert(_USAGE).values(
                    run_id=run_id,
                    critic=usage.critic,
                    critic_version=usage.critic_version,
                    updated_at=utcnow(),
                    **deltas,
                )
            )


async def critic_usage(engine: AsyncEngine, run_id: str) -> list[CriticUsage]:
    """Every critic's recorded spend on ``run_id``."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(_USAGE).where(_USAGE.c.run_id == run_id).order_by(_USAGE.c.critic, _USAGE.c.critic_version)
        )
        return [
            CriticUsage(
                critic=r.critic, critic_version=r.critic_version, **{n: r._mapping[n] for n in _COUNTS}
            )
            for r in rows
        ]


async def save_validations(engine: AsyncEngine, records: list[ValidationRecord]) -> None:
    """Store validation results (one row per record)."""
    if not records:
        return
    now = utcnow()  # one stamp per validation run: ``latest_validations`` groups rows by it
    async with engine.begin() as conn:
        await conn.execute(
            insert(_VALIDATIONS),
            [{**{f: getattr(r, f) for f in ValidationRecord.__slots__}, "created_at": now} for r in records],
        )


async def latest_validations(
    engine: AsyncEngine, critic: str, critic_version: str | None = None
) -> list[ValidationRecord]:
    """The newest validation run of ``critic`` (at ``critic_version`` when given): its rows, one per
    language, from the latest dataset measured; empty when the critic was never validated."""
    cond = _VALIDATIONS.c.critic == critic
    if critic_version is not None:
        cond = cond & (_VALIDATIONS.c.critic_version == critic_version)
    async with engine.connect() as conn:
        newest = (
            await conn.execute(select(_VALIDATIONS).where(cond).order_by(_VALIDATIONS.c.id.desc()).limit(1))
        ).first()
        if newest is None:
            return []
        rows = await conn.execute(
            select(_VALIDATIONS)
            .where(
                cond
                & (_VALIDATIONS.c.dataset_hash == newest.dataset_hash)
                & (_VALIDATIONS.c.critic_version == newest.critic_version)
                & (_VALIDATIONS.c.split == newest.split)
                & (_VALIDATIONS.c.created_at == newest.created_at)
            )
            .order_by(_VALIDATIONS.c.lang)
        )
        return [ValidationRecord(**{f: r._mapping[f] for f in ValidationRecord.__slots__}) for r in rows]
