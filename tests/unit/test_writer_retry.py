"""Which database errors a write may simply repeat: any passing one for idempotent writes
(``transient_db_error``), only a lock's refusal for any write (``lock_wait_error``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError, OperationalError

from db.writer import lock_wait_error, transient_db_error, wait_out_locks


class _PgError(Exception):
    """Stands in for a driver error carrying a Postgres SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _wrapped(orig: BaseException) -> OperationalError:
    return OperationalError("UPDATE shards", {}, orig)


def _real_sqlite_busy(tmp_path: Path) -> sqlite3.OperationalError:
    db = tmp_path / "busy.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA journal_mode = WAL")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        return exc
    finally:
        other.close()
        holder.close()
    raise AssertionError("the second BEGIN IMMEDIATE was not refused")


def test_a_lock_refusal_is_safe_to_repeat_and_a_lost_connection_is_not(tmp_path: Path) -> None:
    busy = _wrapped(_real_sqlite_busy(tmp_path))
    lost = _wrapped(_PgError("08006"))  # connection_failure: a commit may have happened
    assert lock_wait_error(busy)
    assert transient_db_error(busy)
    # Postgres' lock timeout reaches SQLAlchemy as a plain DBAPIError, not an OperationalError.
    pg_lock_timeout = DBAPIError("SELECT", {}, _PgError("55P03"))  # lock_not_available
    assert lock_wait_error(pg_lock_timeout)
    assert transient_db_error(pg_lock_timeout)
    assert lock_wait_error(_wrapped(_PgError("40P01")))  # deadlock_detected
    assert transient_db_error(lost)
    assert not lock_wait_error(lost)
    assert not lock_wait_error(OSError("connection reset"))
    assert not lock_wait_error(_wrapped(sqlite3.OperationalError("no such table: shards")))


async def test_wait_out_locks_repeats_a_refused_write_and_raises_anything_else(tmp_path: Path) -> None:
    busy = _wrapped(_real_sqlite_busy(tmp_path))
    attempts = 0

    async def locked_twice() -> str:
        nonlocal attempts
        attempts += 1
        if attempts <= 2:
            raise busy
        return "claimed"

    assert await wait_out_locks(locked_twice, for_s=30) == "claimed"
    assert attempts == 3

    lost = _wrapped(_PgError("08006"))
    calls = 0

    async def connection_lost() -> None:
        nonlocal calls
        calls += 1
        raise lost

    with pytest.raises(OperationalError):
        await wait_out_locks(connection_lost, for_s=30)
    assert calls == 1
