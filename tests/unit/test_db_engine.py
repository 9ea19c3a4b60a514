"""Engine creation by URL: drivers, SQLite settings, clear errors without passwords."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from db.engine import UnsupportedDatabaseURL, create_engine, describe_error, parse_url, redact_url
from db.records import clean_text
from db.store import Store, StoreError


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite"),
        ("postgresql://u@h/db", "postgresql+asyncpg"),
        ("postgres://u@h/db", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg"),
    ],
)
def test_async_driver_is_filled_in(url: str, driver: str) -> None:
    assert parse_url(url).drivername == driver


@pytest.mark.parametrize(
    "url",
    ["mysql://root:hunter2secret@db/x", "postgresql+psycopg2://root:hunter2secret@db/x", "not a url"],
)
def test_unsupported_urls_are_named_without_password(url: str) -> None:
    with pytest.raises(UnsupportedDatabaseURL) as err:
        parse_url(url)
    assert "hunter2secret" not in str(err.value)
    assert ("root:***@db/x" in str(err.value)) or url == "not a url"


@pytest.mark.parametrize("url", ["sqlite+aiosqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_is_refused(url: str) -> None:
    with pytest.raises(UnsupportedDatabaseURL, match="in-memory SQLite"):
        create_engine(url)


def test_redaction_of_urls_and_error_text() -> None:
    assert redact_url("postgresql://auditor:pa55word@h:5432/db") == "postgresql://auditor:***@h:5432/db"
    assert redact_url("sqlite:///seval.db") == "sqlite:///seval.db"
    exc = OSError("connect to postgresql://auditor:pa55word-long@h failed (password pa55word-long)")
    message = describe_error("postgresql://auditor:pa55word-long@h/db", "open", exc)
    assert "pa55word-long" not in message
    assert message.startswith("cannot open postgresql://auditor:***@h/db: OSError:")


async def test_sqlite_settings(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'deeper' / 'seval.db'}")
    try:
        async with engine.connect() as conn:
            pragmas = {
                name: (await conn.execute(text(f"PRAGMA {name}"))).scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
    finally:
        await engine.dispose()
    assert pragmas == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 30_000}
    assert (tmp_path / "deeper" / "seval.db").exists()


def test_search_path_becomes_a_server_setting() -> None:
    engine = create_engine("postgresql+asyncpg://u@127.0.0.1/db?search_path=audit")
    try:
        assert "search_path" not in engine.url.query
    finally:
        engine.sync_engine.dispose()


@pytest.mark.parametrize(
    ("raw", "limit", "expected"),
    [
        ("a\x00b\x00", 10, ("ab", False)),
        ("abcdef", 3, ("abc", True)),
        ("abc", 3, ("abc", False)),
        ("x", None, ("x", False)),
        ("a\ud83d\ude00b", None, ("a\U0001f600b", False)),  # a pair split across stream chunks
        ("x\ud800y", None, ("x\ufffdy", False)),
        ("ab\ud83d\ude00", 3, ("ab\ufffd", True)),
    ],
)
def test_clean_text(raw: str, limit: int | None, expected: tuple[str, bool]) -> None:
    assert clean_text(raw, limit) == expected


async def test_unreachable_database_is_a_clear_error_without_password() -> None:
    with pytest.raises(StoreError) as err:
        await Store.open("postgresql+asyncpg://auditor:pa55word-long@127.0.0.1:1/seval")
    assert str(err.value).startswith(
        "cannot open database postgresql+asyncpg://auditor:***@127.0.0.1:1/seval: "
    )
    assert "pa55word-long" not in str(err.value)
