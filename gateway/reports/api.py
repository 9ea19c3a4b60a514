"""The SDK face of reports: ``results(run)`` returns a run's aggregates as typed, frozen objects.

Example::

    import gateway
    res = gateway.results_sync("nightly-sweep", db_url="sqlite+aiosqlite:///seval.db")
    for t in res.targets:
        print(t.target, t.safety_score.value, t.attack_success.value)
    df = res.to_dataframe("target", "dimension")   # needs pandas
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from db.engine import DEFAULT_URL, parse_url, redact_url
from db.store import Store
from gateway.reports.compare import Comparison, compare
from gateway.reports.metrics import ReportError, compute
from gateway.reports.model import RunInfo, RunResults

__all__ = [
    "DEFAULT_URL",
    "Comparison",
    "ReportError",
    "RunResults",
    "comparisons",
    "open_store",
    "resolve_run",
    "results",
    "results_sync",
]


def _require_sqlite_file(db_url: str) -> None:
    # Opening a missing SQLite file would silently create an empty database.
    url = parse_url(db_url)
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return
    if not Path(database).expanduser().is_file():
        raise ReportError(f"no database at {database} (from --db {redact_url(db_url)})")


async def open_store(db_url: str) -> Store:
    """Open an existing store for reading (no schema changes; a missing SQLite file is an error)."""
    _require_sqlite_file(db_url)
    return await Store.open(db_url, create=False)


async def resolve_run(store: Store, ref: str) -> RunInfo:
    """The run named by ``ref`` (id, unique id prefix, or name); ``ReportError`` listing recent runs
    when there is none."""
    row = await store.get_run(ref)
    if row is None:
        recent = [f"{r.id[:12]} ({r.name})" if r.name else r.id[:12] for r in (await store.list_runs())[:5]]
        hint = ", ".join(recent) if recent else "the database has no runs"
        raise ReportError(f"no run {ref!r}; recent runs: {hint}")
    return RunInfo(id=row.id, name=row.name, status=row.status, created_at=row.created_at)


async def results_from_store(store: Store, run: str, *, critic: str | None = None) -> RunResults:
    """``results`` on an already open store."""
    info = await resolve_run(store, run)
    async with store.reading() as q:
        return await compute(q, info, critic=critic)


async def results(run: str, *, db_url: str = DEFAULT_URL, critic: str | None = None) -> RunResults:
    """A run's aggregates: per-target summaries, breakdown cells, coverage and spend.

    ``run`` is a run id, a unique id prefix or a run name (the latest run of that name). ``critic``
    picks whose verdicts count (``name`` or ``name@version``); by default the critic that wrote
    verdicts into the run most recently. Raises ``ReportError`` for an unknown run or critic.
    """
    store = await open_store(db_url)
    try:
        return await results_from_store(store, run, critic=critic)
    finally:
        await store.close()


def results_sync(run: str, *, db_url: str = DEFAULT_URL, critic: str | None = None) -> RunResults:
    """``results`` for code without an event loop."""
    return asyncio.run(results(run, db_url=db_url, critic=critic))


async def comparisons(
    runs: Sequence[str],
    *,
    db_url: str = DEFAULT_URL,
    critic: str | None = None,
    all_critics: bool = False,
) -> list[Comparison]:
    """Paired comparisons across ``runs`` (see ``gateway.reports.compare``): targets, decoding settings
    and, with ``all_critics``, critics, each on the items both sides share."""
    if not runs:
        raise ReportError("give at least one run to compare")
    store = await open_store(db_url)
    try:
        infos = [await resolve_run(store, ref) for ref in runs]
        async with store.reading() as q:
            return await compare(q, infos, critic=critic, all_critics=all_critics)
    finally:
        await store.close()
