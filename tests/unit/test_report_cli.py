"""``seval report`` and ``seval compare`` through typer's CliRunner on a hand-built SQLite store."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from report_data import RUN_ID, fill
from typer.testing import CliRunner

from db.store import Store
from gateway.cli import app


def _filled(url: str) -> None:
    async def go() -> None:
        store = await Store.open(url)
        try:
            await fill(store)
        finally:
            await store.close()

    asyncio.run(go())


def test_report_writes_the_folder_and_prints_the_path(sqlite_url: str, tmp_path: Path) -> None:
    _filled(sqlite_url)
    out = tmp_path / "rep"
    result = CliRunner().invoke(
        app, ["report", RUN_ID[:4], "--db", sqlite_url, "--out", str(out), "--critic", "rules@1"]
    )
    assert result.exit_code == 0, result.output
    assert f"report: {out / 'report.html'}" in result.output
    assert "judged by rules@1" in result.output
    assert "alpha: safety score 66.7% (n=3), attack success 40.0% (n=5)" in result.output
    assert {p.name for p in out.iterdir()} == {"report.html", "results.csv", "summary.json"}
    header = (out / "results.csv").read_text(encoding="utf-8").splitlines()[0]
    assert not header.endswith("prompt,response")
    with_text = CliRunner().invoke(
        app, ["report", "fixture-run", "--db", sqlite_url, "--out", str(tmp_path / "t"), "--include-text"]
    )
    assert with_text.exit_code == 0, with_text.output
    header = (tmp_path / "t" / "results.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.endswith("prompt,response")


def test_report_errors_are_one_clear_line(sqlite_url: str, tmp_path: Path) -> None:
    _filled(sqlite_url)
    runner = CliRunner()
    unknown = runner.invoke(app, ["report", "nope", "--db", sqlite_url, "--out", str(tmp_path / "x")])
    assert unknown.exit_code == 2
    assert "error: no run 'nope'; recent runs: r-report" in unknown.output
    bad_critic = runner.invoke(app, ["report", RUN_ID, "--db", sqlite_url, "--critic", "gpt-judge"])
    assert bad_critic.exit_code == 2
    assert "critic 'gpt-judge' has no verdicts in this run; available: llm@2, rules@1" in bad_critic.output
    missing = runner.invoke(app, ["report", RUN_ID, "--db", f"sqlite+aiosqlite:///{tmp_path}/none.db"])
    assert missing.exit_code == 2
    assert "no database at" in missing.output
    assert not (tmp_path / "none.db").exists()
    bad_url = runner.invoke(app, ["compare", RUN_ID, "--db", "mysql://u:hunter2secret@h/db"])
    assert bad_url.exit_code == 2
    assert "hunter2secret" not in bad_url.output


def test_compare_json_and_table(sqlite_url: str) -> None:
    _filled(sqlite_url)
    runner = CliRunner()
    as_json = runner.invoke(app, ["compare", RUN_ID, "--db", sqlite_url, "--critic", "rules", "--json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert data["runs"] == [RUN_ID]
    base = next(c for c in data["comparisons"] if c["kind"] == "base" and c["differs"] == "target")
    assert (base["both_yes"], base["first_only"], base["second_only"], base["both_no"]) == (2, 0, 1, 0)
    assert base["p_value"] == 1.0
    assert base["verdict"] == "could be noise"
    critics = runner.invoke(app, ["compare", RUN_ID, "--db", sqlite_url, "--all-critics", "--json"])
    assert any(c["differs"] == "critic" for c in json.loads(critics.stdout)["comparisons"])
    table = runner.invoke(app, ["compare", RUN_ID, "--db", sqlite_url, "--critic", "rules"])
    assert table.exit_code == 0, table.output
    assert "could be noise" in table.stdout
    assert "Paired comparisons" in table.stdout


def test_report_modules_do_not_import_litellm_or_torch() -> None:
    code = (
        "import sys, gateway.reports.writers, gateway.reports.api, gateway.cli.report_cmd; "
        "print(sorted(m for m in ('litellm', 'torch', 'transformers') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stdout.strip() == "[]"
