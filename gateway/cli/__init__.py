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
    generate_cmd,
    report_cmd,
    run_cmd,
    select_cmd,
    suite_cmd,
)

app = typer.Typer(
    name="seval",
    help="S-Eval gateway: safety-test hosted LLMs with the S-Eval benchmark.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _module in (suite_cmd, db_cmd, run_cmd, critic_cmd, attacks_cmd, report_cmd, generate_cmd, select_cmd):
    _module.register(app)


@app.callback()
def _configure(
    log_level: str = typer.Option("INFO", "--log-level", envvar="SEVAL_LOG_LEVEL", help="Log level."),
    log_json: bool | None = typer.Option(
        None, "--log-json/--log-console", help="Force JSON lines or console logs (default: by TTY)."
    ),
) -> None:
    """S-Eval gateway: safety-test hosted LLMs with the S-Eval benchmark."""
    import os

    from core.redaction import Redactor
    from gateway.logsetup import configure_logging

    # litellm installs its own stdout handler at import; keep it to errors (ours redacts and
    # renders everything else on stderr). Read by litellm when it is first imported.
    os.environ.setdefault("LITELLM_LOG", "ERROR")
    # Logs go to stderr so that --json output on stdout stays machine-readable.
    configure_logging(redactor=Redactor.from_environment(), level=log_level.upper(), json=log_json)


@app.command("version")
def version() -> None:
    """Print the installed seval-gateway version."""
    from importlib.metadata import version as dist_version

    typer.echo(dist_version("seval-gateway"))


def main() -> None:
    """Console-script entry point."""
    app()
