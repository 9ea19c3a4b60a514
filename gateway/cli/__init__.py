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

EXIT_CODES_HELP = (
    "Exit codes: 0: done (every target finished); 1: the work failed (a run error, critic errors, "
    "a database that cannot be reached); 2: bad input or usage (config, arguments, a missing "
    "database or run); 3: a run stopped early (a target paused, e.g. on a rejected key, or the "
    "budget ran out): run again to resume; 130: interrupted (Ctrl-C): run again to resume."
)

app = typer.Typer(
    name="seval",
    help="S-Eval gateway: safety-test hosted LLMs with the S-Eval benchmark.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain (click) help: the rich renderer of this typer labels every flag `<bool>`, which reads
    # as "takes a value" (`--no-cache true` then fails); plain help shows flags as bare flags.
    rich_markup_mode=None,
)

for _module in (suite_cmd, db_cmd, run_cmd, critic_cmd, attacks_cmd, report_cmd, generate_cmd, select_cmd):
    _module.register(app)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version as dist_version

        typer.echo(dist_version("seval-gateway"))
        raise typer.Exit()


@app.callback()
def _configure(
    show_version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
    ),
    log_level: str = typer.Option("INFO", "--log-level", envvar="SEVAL_LOG_LEVEL", help="Log level."),
    log_json: bool | None = typer.Option(
        None, "--log-json/--log-console", help="Force JSON lines or console logs (default: by TTY)."
    ),
) -> None:
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
