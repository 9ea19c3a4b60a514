"""CLI commands: ``seval run``, ``seval runs list|show``, ``seval demo``.

Import-light: only typer and the standard library at module level; the engine, litellm and the
store are imported inside the commands.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from core.records import StoredRun
    from db.report_queries import ErrorReason
    from db.store import Store
    from gateway.config import RunConfig
    from gateway.estimate import RunEstimate
    from gateway.run_results import RunResult

runs_app = typer.Typer(help="List and inspect stored runs.", no_args_is_help=True)

_DB_HELP = "Database URL (SQLite or Postgres); default: the config's db_url, else sqlite seval.db."
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
    db: Annotated[str | None, typer.Option("--db", help=_DB_HELP)] = None,
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
) -> None:
    """Run or resume a sweep: items without a stored response are sent, and (unless
    --no-retry-failed) items an earlier session stored as FAILED_TRANSIENT or INCOMPLETE."""
    cfg = _load(config, db)
    retry_failed = cfg.retry_failed and not no_retry_failed
    if estimate_only:
        try:
            _print_estimate(asyncio.run(_estimate(cfg, retry_failed=retry_failed)))
        except ValueError as exc:
            raise _fail(str(exc)) from None
        return
    from core.errors import ConfigError
    from gateway.sdk import run as sdk_run

    try:
        result = asyncio.run(
            sdk_run(
                cfg,
                use_cache=False if no_cache else None,
                retry_failed=retry_failed,
                progress=True,
                handle_signals=True,
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


async def _estimate(cfg: RunConfig, *, retry_failed: bool) -> RunEstimate:
    from gateway.estimate import estimate

    return await estimate(cfg, done=await _done_keys(cfg, include_retryable=not retry_failed))


async def _done_keys(cfg: RunConfig, *, include_retryable: bool) -> dict[str, set[str]]:
    """Keys this run will not send again, read without creating or migrating a database."""
    from db.engine import parse_url

    url = parse_url(cfg.db_url)
    if url.get_backend_name() == "sqlite":
        exists = await asyncio.to_thread(Path(url.database or "").is_file)
        if not exists:
            return {}
    from db.store import Store, StoreError

    try:
        store = await Store.open(cfg.db_url, create=False)
    except StoreError:
        return {}
    try:
        if await store.get_run(cfg.run_id) is None:
            return {}
        return {
            t.name: await store.done_keys(cfg.run_id, t.name, include_retryable=include_retryable)
            for t in cfg.targets
        }
    finally:
        await store.close()


def _print_estimate(est: RunEstimate) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"estimate for run {est.run_id[:12]} ({est.cases} cases)", title_justify="left")
    for col in ("target", "calls", "already stored", "prompt tokens", "completion tokens", "cost (USD)"):
        table.add_column(col, justify="left" if col == "target" else "right")
    for t in est.targets:
        cost = "unknown (no price)" if t.cost_usd is None else f"{t.cost_usd:.4f}"
        table.add_row(
            t.name,
            f"{t.calls:,}",
            f"{t.already_done:,}",
            f"{t.prompt_tokens:,}",
            f"{t.completion_tokens:,}",
            cost,
        )
    Console().print(table)
    total = "unknown" if est.cost_usd is None else f"${est.cost_usd:.4f}"
    typer.echo(f"total: {est.calls:,} calls, {total}; nothing was sent")


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
def runs_list(db: Annotated[str | None, typer.Option("--db", help=_DB_HELP)] = None) -> None:
    """Every stored run, newest first."""
    rows = asyncio.run(_list_runs(db or _default_db()))
    if not rows:
        typer.echo("no runs")
        return
    for r in rows:
        typer.echo(f"{r.id[:12]}  {r.status:<17} {r.updated_at:%Y-%m-%d %H:%M}  {r.name}")


async def _list_runs(db_url: str) -> list[StoredRun]:
    store = await _open_existing(db_url)
    try:
        return list(await store.list_runs())
    finally:
        await store.close()


async def _open_existing(db_url: str) -> Store:
    from db.store import Store, StoreError

    try:
        return await Store.open(db_url, create=False)
    except StoreError as exc:
        raise _fail(str(exc)) from None


@runs_app.command("show")
def runs_show(
    ref: Annotated[
        str, typer.Argument(help="Run id, unique id prefix, or name (the latest run of that name).")
    ],
    db: Annotated[str | None, typer.Option("--db", help=_DB_HELP)] = None,
) -> None:
    """A run's status, targets, outcomes, spend and verdicts."""
    result, reasons = asyncio.run(_show(ref, db or _default_db()))
    _print_result(result, reasons)


async def _show(ref: str, db_url: str) -> tuple[RunResult, list[ErrorReason]]:
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
        result = await collect_result(store, run.id, None, [], None)
        async with store.reading() as q:
            return result, await q.error_reasons(run.id)
    finally:
        await store.close()


def _default_db() -> str:
    from gateway.config import DEFAULT_DB_URL

    return DEFAULT_DB_URL


def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the report (and the SQLite file).")] = Path(
        "seval-demo"
    ),
    db: Annotated[str | None, typer.Option("--db", help="Database URL (default: OUT/seval.db).")] = None,
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
