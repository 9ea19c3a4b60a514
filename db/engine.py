"""Async engine creation by URL: SQLite (the default) or Postgres, with the settings each needs.

SQLite: WAL journal (readers never block the one writer), ``synchronous=NORMAL`` (durable at every
checkpoint, fast commits), a busy timeout so a second process waits instead of failing, foreign keys
on. Transactions are begun explicitly (``BEGIN`` / ``BEGIN IMMEDIATE``) instead of by the driver, so
DDL is transactional and a writer can take the write lock before it reads.

Postgres: asyncpg with a pre-pinged pool. A ``search_path`` query parameter in the URL
(``postgresql+asyncpg://host/db?search_path=myschema``) selects the schema the store works in.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.errors import InputError
from core.redaction import Redactor

DEFAULT_URL = "sqlite+aiosqlite:///seval.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option read by the SQLite "begin" hook: "IMMEDIATE" takes the write lock up front.
SQLITE_BEGIN_OPTION = "seval_sqlite_begin"

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}
_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)[^@]*@")


class UnsupportedDatabaseURL(InputError):
    """The URL names no database this store supports (or cannot be parsed)."""


def redact_url(url: str | URL) -> str:
    """The URL as text with any password replaced by ``***``."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    return _PASSWORD_IN_URL.sub(r"\1***@", url)


def describe_error(url: str, action: str, exc: BaseException) -> str:
    """``cannot {action} {redacted url}: Type: message``, with the URL's password removed from the
    message too (drivers sometimes echo connection parameters)."""
    password = ""
    with contextlib.suppress(ArgumentError):
        password = make_url(url).password or ""
    message = f"{type(exc).__name__}: {exc}"
    return f"cannot {action} {redact_url(url)}: {Redactor([password]).redact(message)}"


def parse_url(url: str) -> URL:
    """The URL with its async driver filled in (``sqlite://`` -> aiosqlite, ``postgresql://`` -> asyncpg).

    Raises ``UnsupportedDatabaseURL`` naming the (redacted) URL for anything else.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UnsupportedDatabaseURL(f"cannot parse database URL {redact_url(url)!r}") from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise UnsupportedDatabaseURL(
            f"unsupported database URL {redact_url(parsed)!r}: use sqlite+aiosqlite:///PATH "
            "or postgresql+asyncpg://USER@HOST:PORT/DB"
        )
    return parsed.set(drivername=driver)


def create_engine(url: str = DEFAULT_URL) -> AsyncEngine:
    """An async engine for ``url`` (SQLite or Postgres), configured for the store."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return _postgres_engine(parsed)


def _sqlite_engine(url: URL) -> AsyncEngine:
    database = url.database or ""
    if database in ("", ":memory:") or "mode=memory" in database:
        # One in-memory database means one shared connection, but the writer, readers and
        # migrations each need their own.
        raise UnsupportedDatabaseURL(
            f"in-memory SQLite ({redact_url(url)!r}) is not supported: use a file, e.g. sqlite+aiosqlite:///seval.db"
        )
    if not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    # hide_parameters: SQL parameters are prompt and response text; keep them out of logs and
    # out of the text of database exceptions.
    engine = create_async_engine(url, hide_parameters=True)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Autocommit at the driver level: the "begin" hook below emits BEGIN itself.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        # busy_timeout first: switching to WAL needs a lock another process may hold.
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())

    return engine


def _postgres_engine(url: URL) -> AsyncEngine:
    connect_args: dict[str, Any] = {}
    search_path = url.query.get("search_path")
    if search_path is not None:
        if not isinstance(search_path, str):
            raise UnsupportedDatabaseURL(f"search_path given more than once in {redact_url(url)!r}")
        url = url.difference_update_query(["search_path"])
        connect_args["server_settings"] = {"search_path": search_path}
    return create_async_engine(
        url,
        connect_args=connect_args,
        hide_parameters=True,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        pool_recycle=1800,
    )
