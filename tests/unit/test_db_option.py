"""Every command takes its database from --db, else SEVAL_DB, the same way; commands that only read
never create a database (a missing SQLite file is a clear error naming the path)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from store_data import started
from typer.testing import CliRunner

from db.store import Store
from gateway.cli import app


def _url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _with_run(path: Path) -> str:
    async def fill() -> None:
        async with await Store.open(_url(path)) as store:
            await started(store, name="nightly-from-env")

    asyncio.run(fill())
    return _url(path)


@pytest.mark.parametrize("args", [["runs", "list"], ["runs", "show", "nightly-from-env"]])
def test_runs_commands_honour_seval_db(
    tmp_path: Path, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = _with_run(tmp_path / "elsewhere.db")
    result = CliRunner().invoke(app, args, env={"SEVAL_DB": url})
    assert result.exit_code == 0, result.output
    assert "nightly-from-env" in result.output or "sim-a" in result.output
    assert not (tmp_path / "seval.db").exists()


def test_run_honours_seval_db(tmp_path: Path) -> None:
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "name": "env-db",
                "suites": ["sample"],
                "languages": ["en"],
                "db_url": _url(tmp_path / "from-config.db"),
                "targets": [{"name": "a", "model": "m", "api_base": "http://127.0.0.1:9/v1"}],
            }
        )
    )
    # An unsupported URL in SEVAL_DB must be what the run tries to use (and rejects by name).
    result = CliRunner().invoke(app, ["run", str(cfg), "--estimate"], env={"SEVAL_DB": "mysql://u@h/envdb"})
    assert result.exit_code == 2, result.output
    assert "mysql" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["runs", "list"],
        ["runs", "show", "x"],
        ["report", "x"],
        ["compare", "x"],
        ["critique", "x"],
    ],
)
def test_read_only_commands_never_create_a_database(
    tmp_path: Path, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "missing.db"
    for env in ({"SEVAL_DB": _url(missing)}, {}):
        result = CliRunner().invoke(app, args, env=env)
        assert result.exit_code == 2, result.output
        assert "no database" in result.output
        assert str(missing if env else "seval.db") in result.output
        assert not missing.exists()
        assert not (tmp_path / "seval.db").exists()
