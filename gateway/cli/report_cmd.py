"""CLI commands: ``seval report RUN`` and ``seval compare RUN [RUN...]``.

Import-light: only typer and the standard library at module level; the store, SQLAlchemy and the
report modules are imported inside the commands.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from gateway.cli.db_cmd import DbOption

if TYPE_CHECKING:
    from gateway.reports.compare import Comparison
    from gateway.reports.model import RunResults

T = TypeVar("T")

CriticOption = Annotated[
    str | None,
    typer.Option(
        "--critic",
        help="Whose verdicts count: NAME (its latest version) or NAME@VERSION. "
        "Default: the critic that judged the run most recently.",
        show_default=False,
    ),
]


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _guarded(url: str, action: str, work: Callable[[], T]) -> T:
    """Run ``work``, turning report and database errors into one clear line and exit code 2."""
    from db.engine import UnsupportedDatabaseURL, describe_error
    from db.store import StoreError
    from gateway.reports.metrics import ReportError
    from gateway.reports.writers import ReportOutputError

    try:
        return work()
    except (ReportError, ReportOutputError, StoreError, UnsupportedDatabaseURL) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(describe_error(url, action, exc))


def report(
    run: Annotated[str, typer.Argument(help="Run id, unique id prefix, or run name (latest of that name).")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Folder for report.html, results.csv, summary.json [default: reports/RUN_ID]"
        ),
    ] = None,
    db: DbOption = None,
    include_text: Annotated[
        bool,
        typer.Option(
            "--include-text",
            help="Add prompt and response text to results.csv (never to the HTML or JSON). "
            "The text is harmful test content: share the file accordingly.",
        ),
    ] = False,
    critic: CriticOption = None,
) -> None:
    """Write a run's report: report.html (opens offline), results.csv (one row per item), summary.json."""
    from db.engine import DEFAULT_URL

    url = db or DEFAULT_URL

    async def work() -> tuple[Path, RunResults]:
        from gateway.reports.api import open_store, resolve_run, results_from_store
        from gateway.reports.writers import write_report

        store = await open_store(url)
        try:
            info = await resolve_run(store, run)
            folder = out if out is not None else Path("reports") / info.id[:16]
            page = await write_report(store, info.id, folder, include_text=include_text, critic=critic)
            return page, await results_from_store(store, info.id, critic=critic)
        finally:
            await store.close()

    page, res = _guarded(url, "read", lambda: asyncio.run(work()))
    _echo_summary(res)
    typer.echo(f"report: {page}")


def _echo_summary(res: RunResults) -> None:
    from gateway.reports.svg import pct

    critic = res.critic.label if res.critic else "no critic yet"
    typer.echo(f"run {res.run.id} ({res.run.name or 'unnamed'}), judged by {critic}")
    for t in res.targets:
        typer.echo(
            f"  {t.target}: safety score {pct(t.safety_score.value)} (n={t.safety_score.n}), "
            f"attack success {pct(t.attack_success.value)} (n={t.attack_success.n}), "
            f"adaptive {pct(t.adaptive_success.value)} "
            f"(with base {pct(t.adaptive_success_any.value)}), coverage {pct(t.coverage)}"
        )


def compare(
    runs: Annotated[list[str], typer.Argument(help="One or more runs (id, id prefix or name).")],
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    critic: CriticOption = None,
    all_critics: Annotated[
        bool, typer.Option("--all-critics", help="Also compare the critics that judged each run.")
    ] = False,
) -> None:
    """Line up targets, decoding settings (and critics) on the items they share; exact McNemar tests
    say which differences are real and which could be noise."""
    from db.engine import DEFAULT_URL
    from gateway.reports.api import comparisons

    url = db or DEFAULT_URL
    found = _guarded(
        url,
        "read",
        lambda: asyncio.run(comparisons(runs, db_url=url, critic=critic, all_critics=all_critics)),
    )
    if as_json:
        typer.echo(json.dumps({"runs": runs, "comparisons": [c.record() for c in found]}, indent=2))
        return
    _print_table(found)


def _print_table(found: list[Comparison]) -> None:
    from rich.console import Console
    from rich.table import Table

    from gateway.reports.compare import arm_namer
    from gateway.reports.metrics import critic_note

    shown = [c for c in found if c.paired.n > 0]
    if not shown:
        typer.echo("nothing to compare: no two arms share judged items")
        return
    name = arm_namer(shown)
    table = Table(
        title="Paired comparisons on shared items (McNemar clustered by base prompt, Holm-adjusted p; "
        "intervals Bonferroni-adjusted)"
    )
    for column in ("first vs second", "metric", "shared", "difference (adjusted CI)", "p"):
        table.add_column(column, justify="right" if column in ("shared", "p") else "left")
    table.add_column("verdict", no_wrap=True)
    for c in sorted(shown, key=lambda c: (c.kind, c.p_holm)):
        p = c.paired
        lo, hi = c.adjusted_lo or 0, c.adjusted_hi or 0  # at the multiplicity-adjusted level
        diff = f"{100 * (p.diff or 0):+.1f} pts ({100 * lo:+.1f}, {100 * hi:+.1f})"
        verdict = f"real: {name(c.safer)} safer" if c.safer else c.verdict
        if c.safer:
            notes = sorted({n for arm in (c.first, c.second) if (n := critic_note(arm.critic))})
            verdict += "".join(f"\n({n})" for n in notes)
        metric = "safety score" if c.metric == "safety_score" else "attack success"
        table.add_row(
            f"{name(c.first)} vs {name(c.second)}",
            metric,
            f"{p.n:,} ({c.clusters:,} base)",
            diff,
            f"{c.p_holm:.3g}",
            verdict,
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root app."""
    app.command("report")(report)
    app.command("compare")(compare)
