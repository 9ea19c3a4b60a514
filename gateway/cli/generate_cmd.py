"""CLI command: ``seval generate`` (new base risk prompts for taxonomy nodes, written by Mt).

Import-light: typer and the standard library at module level.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer


def generate(
    nodes: Annotated[
        list[str], typer.Option("--node", help="Taxonomy node id (or unique name); repeat for several.")
    ],
    generator: Annotated[
        str,
        typer.Option(
            "--generator",
            help="Mt: a target name from --config (or its attack generator), else a litellm model string.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="The generated suite (JSONL).")],
    langs: Annotated[
        str, typer.Option("--lang", help="Comma-separated languages (templates: en, zh).")
    ] = "zh,en",
    per_node: Annotated[
        int, typer.Option("--per-node", min=1, help="Prompts kept per node and language.")
    ] = 20,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Run YAML: generator target, limits, retry policy, budget, taxonomy."),
    ] = None,
    taxonomy: Annotated[
        Path | None, typer.Option("--taxonomy", help="YAML/JSON file adding risks to the taxonomy.")
    ] = None,
    api_base: Annotated[
        str | None, typer.Option("--api-base", help="OpenAI-compatible base URL for a bare model name.")
    ] = None,
    suites: Annotated[
        list[str] | None,
        typer.Option("--suite", help="Existing suite: seed examples and prompts not to repeat (repeatable)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generation requests.")] = 0,
    report: Annotated[
        Path | None, typer.Option("--report", help="Report JSON (default: <out>.report.json).")
    ] = None,
    response_format: Annotated[
        str, typer.Option("--response-format", help="auto, json_schema, json_object or none.")
    ] = "auto",
    near: Annotated[
        float, typer.Option("--near-threshold", min=0.01, max=1.0, help="Jaccard of a near duplicate.")
    ] = 0.7,
    max_usd: Annotated[float | None, typer.Option("--max-usd", help="Spending cap for Mt.")] = None,
    max_calls: Annotated[int | None, typer.Option("--max-calls", help="Cap on calls to Mt.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as one JSON line.")] = False,
) -> None:
    """Generate base risk prompts for taxonomy nodes with a generator model, filtered and deduplicated."""
    from core.errors import SevalError
    from gateway.config import BudgetConfig
    from gateway.generation.api import generate as run_generate

    if response_format not in ("auto", "json_schema", "json_object", "none"):
        typer.echo("error: --response-format must be auto, json_schema, json_object or none", err=True)
        raise typer.Exit(2)
    budget = BudgetConfig(max_usd=max_usd, max_calls=max_calls) if max_usd or max_calls else None
    try:
        result = asyncio.run(
            run_generate(
                nodes=nodes,
                langs=[x.strip() for x in langs.split(",") if x.strip()],
                per_node=per_node,
                generator=generator,
                out=out,
                config=config,
                taxonomy=taxonomy,
                suites=suites or [],
                api_base=api_base,
                seed=seed,
                report_path=report,
                response_format=response_format,  # type: ignore[arg-type]  # checked above
                near_threshold=near,
                budget=budget,
            )
        )
    except SevalError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(json.dumps(result.report.to_json(), ensure_ascii=False) + "\n")
    else:
        typer.echo(result.report.summary())
        typer.echo(f"suite: {result.out}\nreport: {result.report_path}")
    if result.report.stopped:
        raise typer.Exit(3)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root app."""
    app.command("generate")(generate)
