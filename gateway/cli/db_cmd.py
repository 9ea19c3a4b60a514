"""CLI commands: db (``seval db upgrade``, ``seval db current``).

Import-light: SQLAlchemy and Alembic are imported inside the commands.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, NoReturn

import typer

db_app = typer.Typer(help="Create or upgrade the result database's schema.")

# The one --db option of every command: --db, else the SEVAL_DB variable, else the command's default
# (sqlite+aiosqlite:///seval.db; `seval run`: the config's db_url; `seval demo`: OUT/seval.db).
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="SEVAL_DB",
        help="Database URL: sqlite+aiosqlite:///PATH (default sqlite+aiosqlite:///seval.db; for run, "
        "the config's db_url) or postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DB[?search_path=SCHEMA]. "
        "Commands that only read never create it.",
        show_default=False,
    ),
]


@db_app.command("upgrade")
def upgrade(db: DbOption = None) -> None:
    """Create the schema, or migrate it to this version's newest revision."""
    from db.engine import DEFAULT_URL, UnsupportedDatabaseURL, create_engine, describe_error, redact_url
    from db.migrate import SchemaError, current_revision, head_revision
    from db.migrate import upgrade as upgrade_schema

    url = db or DEFAULT_URL

    async def run() -> str | None:
        engine = create_engine(url)
        try:
            await upgrade_schema(engine)
            return await current_revision(engine)
        finally:
            await engine.dispose()

    try:
        revision = asyncio.run(run())
    except (UnsupportedDatabaseURL, SchemaError) as exc:
        _fail(str(exc))
    except Exception as exc:
        _fail(describe_error(url, "upgrade", exc))
    typer.echo(f"{redact_url(url)}: schema at revision {revision} (head {head_revision()})")


@db_app.command("current")
def current(db: DbOption = None) -> None:
    """Print the database's schema revision and whether it is up to date."""
    from db.engine import (
        DEFAULT_URL,
        UnsupportedDatabaseURL,
        create_engine,
        describe_error,
        parse_url,
        redact_url,
    )
    from db.migrate import current_revision, head_revision

    url = db or DEFAULT_URL
    try:
        parsed = parse_url(url)
    except UnsupportedDatabaseURL as exc:
        _fail(str(exc))
    head = head_revision()
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and database and not Path(database).expanduser().exists():
        # Connecting would create an empty file; there is nothing to report.
        typer.echo(f"{redact_url(url)}: no database file (head {head}); run `seval db upgrade`")
        return

    async def run() -> str | None:
        engine = create_engine(url)
        try:
            return await current_revision(engine)
        finally:
            await engine.dispose()

    try:
        revision = asyncio.run(run())
    except Exception as exc:
        _fail(describe_error(url, "read", exc))
    state = "up to date" if revision == head else "needs `seval db upgrade`"
    typer.echo(f"{redact_url(url)}: schema at revision {revision or 'none'} (head {head}): {state}")


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root app."""
    app.add_typer(db_app, name="db")
