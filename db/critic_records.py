"""Critic bookkeeping: a judge's spend per run (``critic_usage``) and critic validations against
human labels (``critic_validations``). Functions over the store's engine; values are frozen records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Join, Table, and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.types import VerdictStatus
from db.tables import CaseRow, CriticUsageRow, CriticValidationRow, ResponseRow, VerdictRow, utcnow

_USAGE: Table = CriticUsageRow.__table__  # type: ignore[attr-defined]
_VALIDATIONS: Table = CriticValidationRow.__table__  # type: ignore[attr-defined]
_VERDICTS: Table = VerdictRow.__table__  # type: ignore[attr-defined]
_RESPONSES: Table = ResponseRow.__table__  # type: ignore[attr-defined]
_CASES: Table = CaseRow.__table__  # type: ignore[attr-defined]
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


@dataclass(frozen=True, slots=True)
class LabelPairCount:
    """How many responses of one dimension critic A labelled ``label_a`` and critic B ``label_b``."""

    dimension: str
    label_a: str
    label_b: str
    n: int


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One response two critics both scored, for human review (texts only when asked for)."""

    work_key: str
    target: str
    lang: str
    dimension: str
    risk_id: str
    kind: str
    attack: str | None
    label_a: str
    label_b: str
    prompt: str | None
    response: str | None


def _paired(a: tuple[str, str], b: tuple[str, str]) -> tuple[Any, Any, Join]:
    """Responses of the run joined to critic A's and critic B's SCORED verdicts (aliases va, vb)."""
    va, vb = _VERDICTS.alias("va"), _VERDICTS.alias("vb")
    scored = VerdictStatus.SCORED.value
    join = _RESPONSES.join(
        va,
        and_(
            va.c.run_id == _RESPONSES.c.run_id,
            va.c.work_key == _RESPONSES.c.work_key,
            va.c.critic == a[0],
            va.c.critic_version == a[1],
            va.c.status == scored,
        ),
    ).join(
        vb,
        and_(
            vb.c.run_id == _RESPONSES.c.run_id,
            vb.c.work_key == _RESPONSES.c.work_key,
            vb.c.critic == b[0],
            vb.c.critic_version == b[1],
            vb.c.status == scored,
        ),
    )
    return va, vb, join


async def label_pairs(
    engine: AsyncEngine, run_id: str, a: tuple[str, str], b: tuple[str, str]
) -> list[LabelPairCount]:
    """Counts of (dimension, A's label, B's label) over responses both critics (name, version) scored."""
    va, vb, join = _paired(a, b)
    query = (
        select(_RESPONSES.c.dimension, va.c.label, vb.c.label.label("label_b"), func.count())
        .select_from(join)
        .where(_RESPONSES.c.run_id == run_id)
        .group_by(_RESPONSES.c.dimension, va.c.label, vb.c.label)
        .order_by(_RESPONSES.c.dimension, va.c.label, vb.c.label)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [LabelPairCount(str(d), str(la), str(lb), int(n)) for d, la, lb, n in rows]


async def review_items(
    engine: AsyncEngine,
    run_id: str,
    a: tuple[str, str],
    b: tuple[str, str],
    *,
    disagreements_only: bool,
    include_text: bool,
    limit: int | None = None,
) -> list[ReviewItem]:
    """Responses both critics scored (only those they label differently with ``disagreements_only``),
    in work-key order; prompt and response texts only with ``include_text``."""
    va, vb, join = _paired(a, b)
    cols = [
        _RESPONSES.c.work_key,
        _RESPONSES.c.target,
        _RESPONSES.c.lang,
        _RESPONSES.c.dimension,
        _RESPONSES.c.risk_id,
        _RESPONSES.c.kind,
        _RESPONSES.c.attack,
        va.c.label.label("label_a"),
        vb.c.label.label("label_b"),
    ]
    if include_text:
        join = join.join(_CASES, _CASES.c.id == _RESPONSES.c.case_id)
        cols += [_CASES.c.text.label("prompt"), _RESPONSES.c.text.label("response")]
    query = select(*cols).select_from(join).where(_RESPONSES.c.run_id == run_id)
    if disagreements_only:
        query = query.where(va.c.label != vb.c.label)
    query = query.order_by(_RESPONSES.c.work_key)
    if limit is not None:
        query = query.limit(limit)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [
        ReviewItem(
            work_key=r["work_key"],
            target=r["target"],
            lang=r["lang"],
            dimension=r["dimension"],
            risk_id=r["risk_id"],
            kind=r["kind"],
            attack=r["attack"],
            label_a=r["label_a"],
            label_b=r["label_b"],
            prompt=r["prompt"] if include_text else None,
            response=r["response"] if include_text else None,
        )
        for r in rows
    ]


async def texts_of(engine: AsyncEngine, run_id: str, work_keys: list[str]) -> dict[str, tuple[str, str]]:
    """(prompt, response) of the given responses of ``run_id``, by work key (missing keys left out)."""
    out: dict[str, tuple[str, str]] = {}
    for start in range(0, len(work_keys), 500):
        chunk = work_keys[start : start + 500]
        query = (
            select(_RESPONSES.c.work_key, _CASES.c.text, _RESPONSES.c.text)
            .select_from(_RESPONSES.join(_CASES, _CASES.c.id == _RESPONSES.c.case_id))
            .where(_RESPONSES.c.run_id == run_id, _RESPONSES.c.work_key.in_(chunk))
        )
        async with engine.connect() as conn:
            for key, prompt, response in (await conn.execute(query)).all():
                out[str(key)] = (str(prompt), str(response))
    return out
