"""CLI command: ``seval select`` (a slice of suites for coverage, difficulty, diversity or cost).

Import-light: typer and the standard library at module level.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer


def select(
    suites: Annotated[list[str], typer.Argument(help="Suite files or folders, or 'sample'.")],
    strategy: Annotated[str, typer.Option("--strategy", help="stratified, difficulty, diversity or budget.")],
    out: Annotated[Path, typer.Option("--out", help="The selected suite (JSONL).")],
    n: Annotated[int | None, typer.Option("--n", min=1, help="Cases to select (a cap for budget).")] = None,
    taxonomy: Annotated[
        Path | None, typer.Option("--taxonomy", help="YAML/JSON file adding risks to the taxonomy.")
    ] = None,
    langs: Annotated[
        str, typer.Option("--lang", help="Comma-separated languages to keep (default: all).")
    ] = "",
    db_url: Annotated[
        str | None, typer.Option("--db", help="Store with earlier runs (difficulty, budget).")
    ] = None,
    runs: Annotated[
        list[str] | None, typer.Option("--run", help="Only these stored runs (repeatable; default: all).")
    ] = None,
    critic: Annotated[str | None, typer.Option("--critic", help="Only this critic's verdicts.")] = None,
    k: Annotated[int, typer.Option("--k", min=1, help="difficulty: targets a prompt must have broken.")] = 1,
    config: Annotated[
        Path | None, typer.Option("--config", help="budget: run YAML whose targets price each case.")
    ] = None,
    max_usd: Annotated[float | None, typer.Option("--max-usd", help="budget: spend cap in USD.")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", help="budget: cap in tokens.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the stable tie-breaking order.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Select cases from suites and write them as a suite the loader reads."""
    from core.errors import SevalError
    from gateway.selection.api import STRATEGIES
    from gateway.selection.api import select as run_select

    if strategy not in STRATEGIES:
        typer.echo(f"error: --strategy must be one of {', '.join(STRATEGIES)}", err=True)
        raise typer.Exit(2)
    try:
        result = asyncio.run(
            run_select(
                suites,
                strategy=strategy,
                out=out,
                n=n,
                taxonomy=taxonomy,
                langs=[x.strip() for x in langs.split(",") if x.strip()],
                db_url=db_url,
                runs=runs or [],
                critic=critic,
                k=k,
                config=config,
                max_usd=max_usd,
                max_tokens=max_tokens,
                seed=seed,
            )
        )
    except SevalError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
        return
    typer.echo(f"selected {result.selected} of {result.read} cases ({strategy}) -> {result.out}")
    for axis, counts in result.breakdown.items():
        typer.echo(f"  by {axis}: " + ", ".join(f"{key} {v}" for key, v in counts.items()))


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root app."""
    app.command("select")(select)
