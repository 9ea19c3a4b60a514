"""CLI commands: ``seval run``, ``seval runs list|show``, ``seval demo``.

Import-light: only typer and the standard library at module level; the engine, litellm and the
store are imported inside the commands.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gateway.cli.db_cmd import DbOption

if TYPE_CHECKING:
    from core.records import StoredRun
    from db.batch_jobs import BatchJob
    from db.coordination import ShardCounts, WorkerInfo
    from db.report_queries import ErrorReason
    from db.store import Store
    from gateway.config import RunConfig
    from gateway.estimate import RunEstimate
    from gateway.run_results import RunResult

runs_app = typer.Typer(help="List and inspect stored runs.", no_args_is_help=True)

_EXIT = {"completed": 0, "partial": 3, "budget_exhausted": 3, "interrupted": 130}
NO_ANSWERS_EXIT = 4
"""``seval run`` exit status when a target was sent requests in this invocation and has no answer
stored (nothing COMPLETED or BLOCKED_BY_VENDOR: every request failed), whatever the run's status."""
_ANSWERS = ("COMPLETED", "BLOCKED_BY_VENDOR")


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _load(config: Path, db: str | None) -> RunConfig:
    from core.errors import ConfigError
    from gateway.config import load_run_config

    try:
        return load_run_config(config, db_url=db)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


def run(
    config: Annotated[Path, typer.Argument(help="Run config YAML (see examples/run.yaml).")],
    db: DbOption = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Never reuse answers from earlier runs.")
    ] = False,
    no_retry_failed: Annotated[
        bool,
        typer.Option(
            "--no-retry-failed",
            help="Do not send again items stored as FAILED_TRANSIENT or INCOMPLETE by an earlier session.",
        ),
    ] = False,
    estimate_only: Annotated[
        bool, typer.Option("--estimate", help="Print expected calls, tokens and cost; send nothing.")
    ] = False,
    redis: Annotated[
        str | None,
        typer.Option(
            "--redis",
            envvar="SEVAL_REDIS",
            help="Redis URL: every worker of the run shares each target's rpm, tpm and in-flight cap.",
        ),
    ] = None,
    lease_s: Annotated[
        float,
        typer.Option(
            "--lease-s", min=1.0, help="Seconds a dead worker's shards stay held before others take them."
        ),
    ] = 60.0,
    journal_dir: Annotated[
        Path | None,
        typer.Option(
            "--journal-dir",
            help="Journal folder for paid answers (default: beside a SQLite file, else ~/.cache/seval).",
        ),
    ] = None,
) -> None:
    """Run or resume a sweep: items without a stored response are sent, and (unless
    --no-retry-failed) items an earlier session stored as FAILED_TRANSIENT or INCOMPLETE.

    Exit codes: 0: every target done; 1: the run failed; 2: bad config or input; 3: stopped early
    (a target paused, e.g. on a rejected key, or the budget ran out): run again to resume;
    130: interrupted: run again to resume."""
    cfg = _load(config, db)
    retry_failed = cfg.retry_failed and not no_retry_failed
    if estimate_only:
        try:
            _print_estimate(
                asyncio.run(_estimate(cfg, retry_failed=retry_failed, use_cache=cfg.cache and not no_cache))
            )
        except ValueError as exc:
            raise _fail(str(exc)) from None
        return
    from core.errors import ConfigError
    from gateway.sdk import run as sdk_run
    from gateway.shards import WorkerOptions

    workers = WorkerOptions(lease_s=lease_s, journal_dir=journal_dir, redis_url=redis or None)

    try:
        result = asyncio.run(
            sdk_run(
                cfg,
                use_cache=False if no_cache else None,
                retry_failed=retry_failed,
                progress=True,
                handle_signals=True,
                workers=workers,
            )
        )
    except (ConfigError, ValueError) as exc:  # suites, taxonomy, attacks, prices: bad input, named
        raise _fail(str(exc)) from None
    except asyncio.CancelledError:
        raise _fail("cancelled (second interrupt); run again to resume", 130) from None
    except Exception as exc:
        from core.redaction import Redactor

        redactor = Redactor.from_env(cfg.key_env_names())
        raise _fail(f"run failed: {redactor.redact_exception(exc)}", 1) from None
    reasons = asyncio.run(_error_reasons(cfg.db_url, result.run_id))
    _print_result(result, reasons)
    raise typer.Exit(_exit_code(result))


def _exit_code(result: RunResult) -> int:
    """The run's exit status; ``NO_ANSWERS_EXIT`` (named on stderr) when a target got no answers."""
    silent = [
        t.name
        for t in result.targets
        if t.calls > 0 and not any(t.outcomes.get(outcome) for outcome in _ANSWERS)
    ]
    if silent and result.status in ("completed", "partial"):
        typer.echo(
            f"error: no answers from {', '.join(silent)}: every request failed (reasons above)", err=True
        )
        return NO_ANSWERS_EXIT
    return _EXIT.get(result.status, 1)


async def _error_reasons(db_url: str, run_id: str) -> list[ErrorReason]:
    store = await _open_existing(db_url)
    try:
        async with store.reading() as q:
            return await q.error_reasons(run_id)
    finally:
        await store.close()


async def _estimate(cfg: RunConfig, *, retry_failed: bool, use_cache: bool) -> RunEstimate:
    """The estimate, minus what the store already has for this run (resume) or would answer from
    the cache; the database is read, never created or migrated."""
    from db.engine import parse_url
    from gateway.estimate import estimate

    url = parse_url(cfg.db_url)
    if url.get_backend_name() == "sqlite":
        exists = await asyncio.to_thread(Path(url.database or "").is_file)
        if not exists:
            return await estimate(cfg)
    from db.store import Store, StoreError

    try:
        store = await Store.open(cfg.db_url, create=False)
    except StoreError:
        return await estimate(cfg)
    try:
        known = await store.get_run(cfg.run_id) is not None
        return await estimate(
            cfg,
            store=store if known else None,
            retry_failed=retry_failed,
            find_cached=store.find_cached if use_cache else None,
        )
    finally:
        await store.close()


def _print_estimate(est: RunEstimate) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"estimate for run {est.run_id[:12]} ({est.cases} cases)", title_justify="left")
    for col in (
        "target",
        "calls",
        "already stored",
        "from cache",
        "prompt tokens",
        "completion tokens",
        "cost (USD)",
    ):
        table.add_column(col, justify="left" if col == "target" else "right")
    for t in est.targets:
        cost = "unknown (no price)" if t.cost_usd is None else f"{t.cost_usd:.4f}"
        if t.batch_saving_usd is not None:
            cost += f" (batch: saves {t.batch_saving_usd:.4f})"
        table.add_row(
            t.name,
            f"{t.calls:,}",
            f"{t.already_done:,}",
            f"{t.cached:,}",
            f"{t.prompt_tokens:,}",
            f"{t.completion_tokens:,}",
            cost,
        )
    Console().print(table)
    for axis, counts in est.breakdown.items():
        typer.echo(f"source cases by {axis}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    total = "unknown" if est.cost_usd is None else f"${est.cost_usd:.4f}"
    saving = sum(t.batch_saving_usd or 0.0 for t in est.targets)
    batch = f" (batch prices save ${saving:.4f})" if saving else ""
    typer.echo(f"total: {est.calls:,} calls, {total}{batch}; nothing was sent")
    if est.upper_bound:
        typer.echo("strategy adaptive: these counts are an upper bound (attacks stop at the first success)")
    j = est.judge
    if j is not None:
        cost = "unknown (no price)" if j.cost_max_usd is None else f"${j.cost_max_usd:.4f}"
        line = f"critic {j.name}: at most {j.calls_max:,} judge calls, {cost}"
        if j.first_stage_share > 0:
            expected = "unknown" if j.cost_expected_usd is None else f"${j.cost_expected_usd:.4f}"
            line += (
                f"; expected {j.calls_expected:,} calls, {expected} if the cascade's first stage "
                f"decides {j.first_stage_share:.0%} (its share on the demo run; depends on how often "
                "the targets refuse cleanly)"
            )
        typer.echo(line)
    if est.over_budget and est.max_usd is not None and est.cost_usd is not None:
        typer.echo(
            f"warning: this exceeds budget.max_usd ${est.max_usd:.4f} (${est.spent_usd:.4f} already "
            f"spent + ${est.cost_usd:.4f} estimated): the run will stop at the budget "
            "(status budget_exhausted, exit 3) before every item is sent",
            err=True,
        )


def _print_result(result: RunResult, reasons: list[ErrorReason] | None = None) -> None:
    typer.echo(
        f"run {result.run_id} ({result.name}): {result.status}"
        + (f": {result.detail}" if result.detail else "")
    )
    for t in result.targets:
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(t.outcomes.items())) or "nothing stored"
        line = f"  {t.name} [{t.adapter}] {t.status}: {t.done}/{t.planned} ({outcomes}); ${t.cost_usd:.4f}"
        typer.echo(line + (f"; {t.detail}" if t.detail else ""))
        for reason in reasons or ():
            if reason.target == t.name:
                typer.echo(f"    {reason.count:,} x {reason.describe()}")
    verdicts = ", ".join(f"{k} {v}" for k, v in sorted(result.verdicts.items()))
    if result.critic is not None:
        typer.echo(f"  critic {result.critic}: {verdicts or 'none'}")
    elif verdicts:
        typer.echo(f"  verdicts: {verdicts}")
    typer.echo(f"  spent ${result.spent_usd:.4f}")


@runs_app.command("list")
def runs_list(db: DbOption = None) -> None:
    """Every stored run, newest first."""
    rows, beats = asyncio.run(_list_runs(db or _default_db()))
    if not rows:
        typer.echo("no runs")
        return
    for r in rows:
        status = _liveness(r.status, beats.get(r.id))
        typer.echo(f"{r.id[:12]}  {status:<17} {r.updated_at:%Y-%m-%d %H:%M}  {r.name}")


STALE_AFTER_S = 120.0
"""A running run none of whose workers has beaten for this long was killed (heartbeats: every 10 s)."""


def _liveness(status: str, last_beat: float | None) -> str:
    """``status``, or ``stale (no heartbeat since ...)`` for a run left "running" by killed workers."""
    import time

    if status != "running" or (last_beat is not None and time.time() - last_beat <= STALE_AFTER_S):
        return status
    if last_beat is None:
        return "stale (no heartbeat)"
    return f"stale (no heartbeat since {time.strftime('%Y-%m-%d %H:%M', time.localtime(last_beat))})"


async def _list_runs(db_url: str) -> tuple[list[StoredRun], dict[str, float]]:
    from db.coordination import Coordination

    store = await _open_existing(db_url)
    try:
        runs = list(await store.list_runs())
        beats = await Coordination(store.engine).last_heartbeat([r.id for r in runs if r.status == "running"])
        return runs, beats
    finally:
        await store.close()


async def _open_existing(db_url: str) -> Store:
    """The store at ``db_url`` for reading: never created, never migrated."""
    from db.engine import UnsupportedDatabaseURL
    from db.store import StoreError
    from gateway.reports.api import ReportError, open_store

    try:
        return await open_store(db_url)
    except (StoreError, ReportError, UnsupportedDatabaseURL) as exc:
        raise _fail(str(exc)) from None


@runs_app.command("show")
def runs_show(
    ref: Annotated[
        str, typer.Argument(help="Run id, unique id prefix, or name (the latest run of that name).")
    ],
    db: DbOption = None,
) -> None:
    """A run's status, targets, outcomes, spend and verdicts; its workers, shards and batch jobs."""
    result, reasons, usage, jobs, workers, shards = asyncio.run(_show(ref, db or _default_db()))
    beat = max((w.heartbeat_at for w in workers), default=None)
    _print_result(
        result if result.status != "running" else replace(result, status=_liveness("running", beat)),
        reasons,
    )
    _print_workers(workers, shards)
    for u in usage:
        typer.echo(
            f"  critic {u.critic}@{u.critic_version}: {u.calls:,} judge calls ({u.retries:,} retries) "
            f"for {u.items:,} items, {u.prompt_tokens + u.completion_tokens:,} tokens, ${u.cost_usd:.4f} "
            f"(apart from the targets' spend); {u.errors:,} critic errors"
        )
    for target in sorted({j.target for j in jobs}):
        mine = [j for j in jobs if j.target == target]
        states = ", ".join(f"{k} {v}" for k, v in sorted(Counter(j.state for j in mine).items()))
        waiting = sum(j.items for j in mine if j.state == "submitted")
        typer.echo(f"  batch jobs of {target}: {len(mine)} ({states}); {waiting} items awaiting the vendor")


def _print_workers(workers: list[WorkerInfo], shards: ShardCounts) -> None:
    import time

    if not workers and not (shards.done or shards.held or shards.expired):
        return
    typer.echo(
        f"  shards: {shards.done} done, {shards.held} held, {shards.expired} held past their lease"
        f" (taken over {shards.reclaimed} times)"
    )
    now = time.time()
    for w in workers:
        typer.echo(
            f"  worker {w.worker_id} pid {w.pid} on {w.host}: {w.state},"
            f" heartbeat {now - w.heartbeat_at:.0f} s ago, {w.done} shards done, {w.held} held"
        )


async def _show(
    ref: str, db_url: str
) -> tuple[RunResult, list[ErrorReason], list[Any], list[BatchJob], list[WorkerInfo], ShardCounts]:
    from db.coordination import Coordination
    from db.critic_records import critic_usage
    from db.store import StoreError
    from gateway.pipeline import collect_result

    store = await _open_existing(db_url)
    try:
        try:
            run = await store.get_run(ref)
        except StoreError as exc:
            raise _fail(str(exc)) from None
        if run is None:
            raise _fail(f"no run matches {ref!r}")
        from db.batch_jobs import jobs

        coord = Coordination(store.engine)
        result = await collect_result(store, run.id, None, [], None)
        async with store.reading() as q:
            reasons = await q.error_reasons(run.id)
        return (
            result,
            reasons,
            await critic_usage(store.engine, run.id),
            await jobs(store, run.id),
            await coord.workers(run.id),
            await coord.shard_counts(run.id),
        )
    finally:
        await store.close()


def _default_db() -> str:
    from db.engine import DEFAULT_URL

    return DEFAULT_URL


def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the report (and the SQLite file).")] = Path(
        "seval-demo"
    ),
    db: DbOption = None,
) -> None:
    """Run the sample suite with attacks against three simulated models, score, store and report."""
    from gateway.demo import run_demo

    done = asyncio.run(run_demo(out, db_url=db))
    _print_result(done.result)
    typer.echo(f"database: {done.db_url}")
    if done.report is not None:
        typer.echo(f"report: {done.report}")
    else:
        typer.echo("no report written (the run did not complete)", err=True)
    raise typer.Exit(_EXIT.get(done.result.status, 1))


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root app."""
    app.command("run")(run)
    app.command("demo")(demo)
    app.add_typer(runs_app, name="runs")
