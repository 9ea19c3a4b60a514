"""The report folder: every text cell of results.csv is formula-safe, each file is replaced whole
(never half-written, never written through a symlink), and a bad --out is blamed on the output path."""

from __future__ import annotations

import asyncio
import csv
from dataclasses import replace
from pathlib import Path

import pytest
from report_data import ITEMS, fill, response, verdict, work_key
from typer.testing import CliRunner

from core.types import Case, Outcome
from db.store import Store
from db.tables import RunTargetRow
from gateway.cli import app
from gateway.reports import html as report_html
from gateway.reports.writers import ReportOutputError, write_report

RUN = "r-formulas"
CASE_ID = "=cmd|' /C calc'!A0"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


async def _formula_store(url: str) -> None:
    item = ITEMS[0]
    async with await Store.open(url) as store:
        await store.start_run(
            run_id=RUN,
            name="+name",
            spec_json="{}",
            targets=[RunTargetRow(run_id=RUN, target="@target", model="m", planned=1)],
        )
        await store.save_cases([Case(id=CASE_ID, lang="en", text="-prompt", dimension="CI", risk_id="CI")])
        rec = replace(
            response(item, RUN),
            case_id=CASE_ID,
            target="@target",
            outcome=Outcome.FAILED_TRANSIENT,
            finish_reason="=1+1",
            vendor_code="+SUM(A1)",
            error='=HYPERLINK("http://x")',
            text="\tresponse",
        )
        await store.save_responses([rec])
        await store.save_verdicts(RUN, [verdict(work_key(item), "unsafe", "rules", "1")])


@pytest.mark.parametrize("include_text", [False, True])
async def test_every_text_cell_is_formula_safe(sqlite_url: str, tmp_path: Path, include_text: bool) -> None:
    await _formula_store(sqlite_url)
    page = await write_report(sqlite_url, RUN, tmp_path / "out", include_text=include_text)
    rows = _rows(page.parent / "results.csv")
    assert len(rows) == 1
    for column, value in rows[0].items():
        assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (column, value)
    assert rows[0]["case_id"] == "'" + CASE_ID
    assert rows[0]["finish_reason"] == "'=1+1"
    assert rows[0]["vendor_code"] == "'+SUM(A1)"
    assert rows[0]["target"] == "'@target"
    if include_text:
        assert rows[0]["prompt"] == "'-prompt"


async def test_a_failed_rewrite_leaves_the_previous_report_whole(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with await Store.open(sqlite_url) as store:
        await fill(store)
    out = tmp_path / "out"
    await write_report(sqlite_url, "fixture-run", out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(*_args: object, **_kwargs: object) -> str:
        raise RuntimeError("killed while rendering")

    monkeypatch.setattr(report_html, "render", broken)
    with pytest.raises(RuntimeError, match="killed"):
        await write_report(sqlite_url, "fixture-run", out, include_text=True)
    # The old files are all still there, unchanged, and no temporary file is left behind.
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


async def test_symlinks_in_the_output_folder_are_replaced_not_followed(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with await Store.open(sqlite_url) as store:
        await fill(store)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "out"
    out.mkdir()
    for name in ("results.csv", "report.html", "summary.json"):
        (out / name).symlink_to(victim)
    await write_report(sqlite_url, "fixture-run", out)
    assert victim.read_text() == "precious\n"
    for name in ("results.csv", "report.html", "summary.json"):
        assert not (out / name).is_symlink()
        assert (out / name).stat().st_size > 0


def test_out_that_is_a_file_is_an_output_error(sqlite_url: str, tmp_path: Path) -> None:
    async def setup() -> None:
        async with await Store.open(sqlite_url) as store:
            await fill(store)

    asyncio.run(setup())
    target = tmp_path / "report.txt"
    target.write_text("not a folder")
    with pytest.raises(ReportOutputError, match="not a folder"):
        asyncio.run(write_report(sqlite_url, "fixture-run", target))
    result = CliRunner().invoke(app, ["report", "fixture-run", "--db", sqlite_url, "--out", str(target)])
    assert result.exit_code == 2
    assert str(target) in result.output
    assert "not a folder" in result.output
    assert "cannot read" not in result.output
    assert target.read_text() == "not a folder"
