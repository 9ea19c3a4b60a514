"""Bring a database's schema to the newest migration, safely when several processes start together.

Alembic is configured in code (``script_location = db:migrations``), so this works from an installed
package. The migration runs in one transaction that first takes a lock (``BEGIN IMMEDIATE`` on
SQLite, a transaction-level advisory lock on Postgres) and only then reads the current revision: a
second process waits, then finds the schema already current.
"""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import db.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from core.errors import ServiceError
from db.engine import SQLITE_BEGIN_OPTION

SCRIPT_LOCATION = "db:migrations"


class SchemaError(ServiceError):
    """The database holds tables this version cannot migrate safely."""


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    """The newest revision shipped with this package."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def _known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}


def _refuse_unknown(current: str | None) -> None:
    if current is not None and current not in _known_revisions():
        raise SchemaError(
            f"the database's schema revision {current!r} is unknown to this version of seval-gateway "
            f"(newest known: {head_revision()}); it was made by a newer version: upgrade seval-gateway"
        )


async def require_current(engine: AsyncEngine) -> None:
    """Raise ``SchemaError`` unless the database's schema is at this version's head."""
    current, head = await current_revision(engine), head_revision()
    if current == head:
        return
    _refuse_unknown(current)
    raise SchemaError(
        f"the database's schema is at revision {current or 'none'}, this version needs {head}: "
        "run `seval db upgrade --db URL`"
    )


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (``None`` for a database never migrated)."""
    async with engine.connect() as conn:
        return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` (default: head) under a lock.

    A database whose tables were created without Alembic (``SQLModel.metadata.create_all``) is
    stamped at head when it matches this version's schema exactly, and refused otherwise.
    """
    async with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn = await conn.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        async with conn.begin():
            await conn.run_sync(_upgrade_locked, revision)


def schema_differences(connection: Connection) -> list[object]:
    """What differs between the database's tables and ``db/tables.py`` (empty when they match)."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


def _upgrade_locked(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        # Keyed by schema so that stores in different schemas of one database do not wait on each other.
        connection.exec_driver_sql(
            "SELECT pg_advisory_xact_lock(hashtext('seval-migrate:' || current_schema()))"
        )
    cfg = _config(connection)
    current = MigrationContext.configure(connection).get_current_revision()
    if current is None and inspect(connection).has_table("runs"):
        differences = schema_differences(connection)
        if differences:
            raise SchemaError(
                "the database has seval tables but no migration history, and they differ from this "
                f"version's schema ({len(differences)} differences, first: {differences[0]!r}); "
                "migrate it with the version that created it, or use a fresh database"
            )
        command.stamp(cfg, "head")
        return
    _refuse_unknown(current)
    command.upgrade(cfg, revision)
