"""The ``seval`` command line. Each command group lives in its own module and registers itself here.

Modules imported here must stay import-light (typer and the standard library at module level):
``seval --help`` and ``seval suite ...`` must never import litellm or torch.
"""

from __future__ import annotations

import typer

from gateway.cli import (
    attacks_cmd,
    critic_cmd,
    db_cmd,
    report_cmd,
    run_cmd,
    suite_cmd,
)

app = typer.Typer(
    name="seval",
    help="S-Eval gateway: safety-test hosted LLMs with the S-Eval benchmark.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _module in (suite_cmd, db_cmd, run_cmd, critic_cmd, attacks_cmd, report_cmd):
    _module.register(app)


@app.command("version")
def version() -> None:
    """Print the installed seval-gateway version."""
    from importlib.metadata import version as dist_version

    typer.echo(dist_version("seval-gateway"))


def main() -> None:
    """Console-script entry point."""
    app()
