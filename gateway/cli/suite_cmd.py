"""CLI commands: suite (``seval suite inspect``).

Import-light on purpose: only typer and the standard library at module level, so that
``seval --help`` and ``seval suite ...`` never pay for litellm or torch.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from core.taxonomy import Taxonomy
    from gateway.suites import SuiteSummary

suite_app = typer.Typer(
    help="Inspect benchmark suites (S-Eval release files, generic JSONL/CSV, the sample)."
)

# Enough to see what went wrong; --json lists every skipped row.
_SHOWN_SKIPS = 50
_NUMERIC = frozenset({"loaded", "skipped", "cases", "line"})


@suite_app.command("inspect")
def inspect(
    paths: Annotated[
        list[str],
        typer.Argument(help="Suite files (.jsonl, .jsonl.zip, .csv, .csv.zip), directories, or 'sample'."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    taxonomy_file: Annotated[
        Path | None, typer.Option("--taxonomy", help="YAML/JSON file adding risks to the built-in taxonomy.")
    ] = None,
    mapping_spec: Annotated[
        str | None,
        typer.Option(
            "--map",
            help="Column mapping for generic JSONL/CSV files, e.g. 'text=question,risk=category,lang:=en'.",
        ),
    ] = None,
) -> None:
    """Count a suite's cases by language, dimension, kind and attack, and list the rows skipped."""
    from core.errors import TaxonomyError
    from core.taxonomy import load_taxonomy
    from gateway.suites import ColumnMapping, SuiteError, summarize

    try:
        taxonomy = load_taxonomy(taxonomy_file)
        mapping = ColumnMapping.parse(mapping_spec) if mapping_spec else None
        summary = summarize(paths, taxonomy=taxonomy, mapping=mapping)
    except (SuiteError, TaxonomyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except ValueError as exc:  # a --map string that does not parse or validate
        typer.echo(f"error: --map: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(json.dumps(summary.to_json(), ensure_ascii=False) + "\n")
    else:
        _print_tables(summary, taxonomy)


def _print_tables(summary: SuiteSummary, taxonomy: Taxonomy) -> None:
    from rich.console import Console
    from rich.table import Table

    # Rows cite file names and reasons verbatim: brackets in them are text, not rich markup.
    console = Console(markup=False, highlight=False)

    def counts(title: str, rows: list[tuple[str, ...]], headers: tuple[str, ...]) -> None:
        table = Table(title=title, title_justify="left")
        for header in headers:
            table.add_column(header, justify="right" if header in _NUMERIC else "left")
        for row in rows:
            table.add_row(*row)
        console.print(table)

    counts(
        "Files",
        [(name, str(c.loaded), str(c.skipped)) for name, c in summary.files.items()],
        ("file", "loaded", "skipped"),
    )
    counts("Languages", [(k, str(v)) for k, v in summary.by_language.items()], ("language", "cases"))
    counts(
        "Dimensions",
        [(k, _name(taxonomy, k), str(v)) for k, v in summary.by_dimension.items()],
        ("id", "dimension", "cases"),
    )
    counts("Kinds", [(k, str(v)) for k, v in summary.by_kind.items()], ("kind", "cases"))
    if summary.by_attack:
        counts("Attacks", [(k, str(v)) for k, v in summary.by_attack.items()], ("attack", "cases"))
        console.print(f"attack cases paired with their base case: {summary.attack_parents}")
    console.print(f"loaded {summary.loaded}, skipped {summary.skipped}")
    if summary.skipped_rows:
        shown = summary.skipped_rows[:_SHOWN_SKIPS]
        counts("Skipped rows", [(r.file, str(r.line), r.reason) for r in shown], ("file", "line", "reason"))
        if summary.skipped > len(shown):
            console.print(f"... and {summary.skipped - len(shown)} more (--json lists them all)")


def _name(taxonomy: Taxonomy, node_id: str) -> str:
    node = taxonomy.get(node_id)
    return node.name if node else ""


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root app."""
    app.add_typer(suite_app, name="suite")
