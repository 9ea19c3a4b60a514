"""Alembic migrations against SQLite and the real Postgres: schema equals the tables, upgrade is
idempotent, stamp-safe and safe when several processes start together; ``seval db`` commands."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel
from typer.testing import CliRunner

from db import migrate
from db.engine import create_engine
from db.store import Store, StoreError
from gateway.cli import app

PROJECT_ROOT = Path(__file__).resolve().parents[2]


async def differences(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(migrate.schema_differences)
    finally:
        await engine.dispose()


async def revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        return await migrate.current_revision(engine)
    finally:
        await engine.dispose()


async def test_migrated_schema_matches_the_tables(db_url: str) -> None:
    async with await Store.open(db_url):
        pass
    assert await differences(db_url) == []
    assert await revision(db_url) == migrate.head_revision()


async def test_upgrade_twice_is_a_no_op(db_url: str) -> None:
    async with await Store.open(db_url) as store:
        await store.start_run(run_id="r1", name="n", spec_json="{}", targets=[])
    async with await Store.open(db_url) as store:
        assert [r.id for r in await store.list_runs()] == ["r1"]


async def test_tables_made_without_alembic_are_stamped(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all)
    finally:
        await engine.dispose()
    assert await revision(db_url) is None
    async with await Store.open(db_url) as store:
        assert await store.list_runs() == []
    assert await revision(db_url) == migrate.head_revision()


async def test_foreign_tables_without_history_are_refused(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE runs (id VARCHAR(64) PRIMARY KEY)"))
    finally:
        await engine.dispose()
    with pytest.raises(StoreError, match="no migration history"):
        await Store.open(db_url)


async def test_a_newer_schema_revision_is_refused(db_url: str) -> None:
    async with await Store.open(db_url) as store, store.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'f00dcafe'"))
    with pytest.raises(StoreError, match="newer version"):
        await Store.open(db_url)
    with pytest.raises(StoreError, match="newer version"):
        await Store.open(db_url, create=False)


def test_processes_starting_together_migrate_once(db_url: str) -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        from db.store import Store

        async def main() -> None:
            store = await Store.open(sys.argv[1])
            await store.start_run(run_id=sys.argv[2], name="n", spec_json="{}", targets=[])
            await store.close()

        asyncio.run(main())
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, db_url, f"run{i}"],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    errors = [proc.communicate(timeout=120)[1] for proc in procs]
    for proc, err in zip(procs, errors, strict=True):
        assert proc.returncode == 0, err[-2000:]
    assert asyncio.run(differences(db_url)) == []

    async def run_ids() -> list[str]:
        async with await Store.open(db_url, create=False) as store:
            return sorted(r.id for r in await store.list_runs())

    assert asyncio.run(run_ids()) == [f"run{i}" for i in range(4)]


def test_cli_db_upgrade_and_current(db_url: str) -> None:
    runner = CliRunner()
    before = runner.invoke(app, ["db", "current", "--db", db_url])
    assert before.exit_code == 0, before.output
    assert "needs `seval db upgrade`" in before.output or "no database file" in before.output
    upgraded = runner.invoke(app, ["db", "upgrade", "--db", db_url])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"schema at revision {migrate.head_revision()}" in upgraded.output
    after = runner.invoke(app, ["db", "current", "--db", db_url])
    assert after.exit_code == 0, after.output
    assert "up to date" in after.output
    assert asyncio.run(differences(db_url)) == []


def test_cli_db_upgrade_names_a_bad_url_without_its_password() -> None:
    result = CliRunner().invoke(app, ["db", "upgrade", "--db", "mysql://auditor:s3cretpass@db.example/x"])
    assert result.exit_code == 1
    assert "mysql://auditor:***@db.example/x" in result.output
    assert "s3cretpass" not in result.output


async def test_upgrade_to_run_totals_counts_the_stored_rows(db_url: str) -> None:
    from store_data import RUN, assert_totals_match, make_response, make_verdict

    from core.types import Outcome, VerdictStatus
    from db.records import response_to_row, verdict_to_row
    from db.tables import ResponseRow, RunRow, VerdictRow, utcnow

    engine = create_engine(db_url)
    try:
        await migrate.upgrade(engine, "0004")
        now = utcnow()
        responses = [
            make_response("a"),
            make_response("b", outcome=Outcome.FAILED_TRANSIENT, cost_usd=0.5),
            make_response("c", target="sim-b", prompt_tokens=7),
            make_response("d", run_id="other", cost_usd=2.0),
        ]
        async with engine.begin() as conn:
            await conn.execute(
                RunRow.__table__.insert(),  # type: ignore[attr-defined]
                [
                    {
                        "id": run,
                        "name": "n",
                        "spec_json": "{}",
                        "spec_hash": run,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for run in (RUN, "other")
                ],
            )
            await conn.execute(
                ResponseRow.__table__.insert(),  # type: ignore[attr-defined]
                [response_to_row(r, 100, now) for r in responses],
            )
            await conn.execute(
                VerdictRow.__table__.insert(),  # type: ignore[attr-defined]
                [
                    verdict_to_row(RUN, make_verdict("a"), 100, now),
                    verdict_to_row(RUN, make_verdict("c", status=VerdictStatus.CRITIC_ERROR), 100, now),
                ],
            )
    finally:
        await engine.dispose()
    assert await revision(db_url) == "0004"
    async with await Store.open(db_url) as store:
        assert await revision(db_url) == migrate.head_revision()
        await assert_totals_match(store)
        await assert_totals_match(store, "other")
        assert await store.done_counts(RUN) == {"sim-a": 2, "sim-b": 1}
        assert await store.spent_usd("other") == 2.0
        # Writes after the upgrade go on from the counted totals.
        await store.save_responses([make_response("b"), make_response("e")])
        await assert_totals_match(store)
