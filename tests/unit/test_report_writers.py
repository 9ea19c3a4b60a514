"""report.html, results.csv and summary.json written from hand-built stores (SQLite and Postgres)."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest
from report_data import EVIL_TEXT, ITEMS, RUN_ID, fill, response, verdict, work_key

from db.store import Store
from db.tables import RunTargetRow
from gateway.reports.writers import CSV_COLUMNS, TEXT_COLUMNS, write_report

EVIL_RUN = "r-evil"
EVIL_NAME = '<b>run</b> & "quoted"'
EVIL_TARGET = "<img src=x onerror=alert(1)>"
EVIL_MODEL = "vendor/<svg onload=alert(2)>"
FORMULA = '=HYPERLINK("http://attacker.example","click")'


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


async def test_csv_and_json_contents(db_url: str, tmp_path: Path) -> None:
    store = await Store.open(db_url)
    try:
        await fill(store)
        html_path = await write_report(store, RUN_ID, tmp_path / "out", critic="rules")
    finally:
        await store.close()
    out = html_path.parent
    assert html_path.name == "report.html"
    rows = _rows(out / "results.csv")
    assert len(rows) == len(ITEMS)
    assert tuple(rows[0]) == CSV_COLUMNS
    by_key = {r["work_key"]: r for r in rows}
    blocked = by_key["alpha|default|B3|0"]
    assert (blocked["outcome"], blocked["label"], blocked["counted_as"]) == ("BLOCKED_BY_VENDOR", "", "safe")
    error = by_key["alpha|default|B2-code_injection|0"]
    assert (error["verdict_status"], error["counted_as"]) == ("CRITIC_ERROR", "excluded")
    unsafe = by_key["alpha|default|B2|0"]
    assert (unsafe["label"], unsafe["counted_as"], unsafe["critic"]) == ("unsafe", "unsafe", "rules@1")
    assert float(unsafe["risk_score"]) == pytest.approx(0.9)
    failed = by_key["alpha|default|B4|0"]
    assert (failed["outcome"], failed["counted_as"], failed["vendor_code"]) == (
        "FAILED_TRANSIENT",
        "excluded",
        "429",
    )
    attack = by_key["beta|default|B1-code_injection|0"]
    assert (attack["kind"], attack["attack"], attack["parent_case_id"], attack["risk_id"]) == (
        "attack",
        "code_injection",
        "B1",
        "CI.x",
    )
    assert by_key["beta|t=1|B1|0"]["decoding"] == "t=1"
    assert all(EVIL_TEXT not in ",".join(r.values()) for r in rows)

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["critic"] == {"name": "rules", "version": "1", "verdicts": 21}
    targets = {t["target"]: t for t in summary["targets"]}
    assert list(targets) == ["alpha", "beta"]
    alpha = targets["alpha"]
    assert (alpha["safety_score_k"], alpha["safety_score_n"]) == (2, 3)
    assert (alpha["attack_success_k"], alpha["attack_success_n"]) == (2, 5)
    assert (alpha["adaptive_success_k"], alpha["adaptive_success_n"]) == (2, 3)
    assert alpha["safety_score_lo"] < alpha["safety_score"] < alpha["safety_score_hi"]
    assert alpha["blocked_by_vendor"] == 2
    assert alpha["coverage"] == pytest.approx(0.4)
    assert alpha["base"]["failed"] == 1
    assert alpha["attack"]["critic_error"] == 1
    assert alpha["spend"]["cost_usd"] == pytest.approx(0.011)
    assert (alpha["model"], alpha["adapter"], alpha["planned"]) == ("sim/alpha", "litellm", 20)
    assert summary["totals"]["items"] == len(ITEMS)
    dims = {(r["target"], r["dimension"]): r for r in summary["by_dimension"]}
    assert (dims["alpha", "CS"]["safety_score_k"], dims["alpha", "CS"]["safety_score_n"]) == (0, 1)
    decodings = {(r["target"], r["decoding"]) for r in summary["by_decoding"]}
    assert decodings == {("alpha", "default"), ("beta", "default"), ("beta", "t=1")}
    assert sum(r["items"] for r in summary["cells"]) == len(ITEMS)
    assert {c["kind"] for c in summary["comparisons"]} == {"base", "attack"}
    assert EVIL_TEXT not in json.dumps(summary)


async def test_include_text_only_in_csv(sqlite_url: str, tmp_path: Path) -> None:
    store = await Store.open(sqlite_url)
    try:
        await fill(store)
        plain = await write_report(store, RUN_ID, tmp_path / "plain")
        with_text = await write_report(store, RUN_ID, tmp_path / "text", include_text=True)
    finally:
        await store.close()
    assert "prompt" not in _rows(plain.parent / "results.csv")[0]
    rows = _rows(with_text.parent / "results.csv")
    assert tuple(rows[0])[-2:] == TEXT_COLUMNS
    row = next(r for r in rows if r["work_key"] == "alpha|default|B1|0")
    assert row["prompt"] == f"base prompt B1 {EVIL_TEXT}"
    assert row["response"] == f"response to B1 {EVIL_TEXT}"
    for name in ("report.html", "summary.json"):
        text = (with_text.parent / name).read_text(encoding="utf-8")
        assert "base prompt B1" not in text
        assert "response to B1" not in text
    # Default critic is the latest one (llm@2).
    assert row["critic"] == "llm@2"


async def test_html_escapes_everything_and_has_no_scripts(sqlite_url: str, tmp_path: Path) -> None:
    item = ITEMS[0]
    store = await Store.open(sqlite_url)
    try:
        await store.start_run(
            run_id=EVIL_RUN,
            name=EVIL_NAME,
            spec_json="{}",
            targets=[RunTargetRow(run_id=EVIL_RUN, target=EVIL_TARGET, model=EVIL_MODEL, planned=1)],
        )
        rec = replace(response(item, EVIL_RUN), target=EVIL_TARGET, text=FORMULA)
        await store.save_responses([rec])
        await store.save_verdicts(EVIL_RUN, [verdict(work_key(item), "unsafe", "crit<ic>", "v&1")])
        page_path = await write_report(store, EVIL_RUN, tmp_path / "evil", include_text=True)
    finally:
        await store.close()
    page = page_path.read_text(encoding="utf-8")
    for raw in (EVIL_NAME, EVIL_TARGET, EVIL_MODEL, "crit<ic>", "<script", "<img", "<svg onload"):
        assert raw not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;b&gt;run&lt;/b&gt; &amp; &quot;quoted&quot;" in page
    assert "crit&lt;ic&gt;" in page
    # No external references of any kind: the page must open with no network.
    for ref in ('src="http', 'href="http', "@import", "url(http", "<link", "<script"):
        assert ref not in page
    assert "Content-Security-Policy" in page
    rows = _rows(page_path.parent / "results.csv")
    # A response that a spreadsheet would run as a formula is neutralised in the CSV.
    assert rows[0]["response"] == "'" + FORMULA
    assert rows[0]["target"] == EVIL_TARGET


async def test_write_report_from_url_and_unknown_run(sqlite_url: str, tmp_path: Path) -> None:
    store = await Store.open(sqlite_url)
    await fill(store)
    await store.close()
    path = await write_report(sqlite_url, "fixture-run", tmp_path / "by-name")
    assert path.is_file()
    assert (path.parent / "results.csv").is_file()
    from gateway.reports.metrics import ReportError

    with pytest.raises(ReportError, match="no run 'missing'"):
        await write_report(sqlite_url, "missing", tmp_path / "nope")


async def test_empty_run_without_critic(db_url: str, tmp_path: Path) -> None:
    store = await Store.open(db_url)
    try:
        await store.start_run(
            run_id="r-empty",
            name="empty",
            spec_json="{}",
            targets=[RunTargetRow(run_id="r-empty", target="solo", model="sim/solo", planned=10)],
        )
        page_path = await write_report(store, "r-empty", tmp_path / "empty")
    finally:
        await store.close()
    page = page_path.read_text(encoding="utf-8")
    assert "No critic has judged this run yet" in page
    assert 'data-target="solo"' in page
    assert "This run sent no attacked prompts." in page
    summary = json.loads((page_path.parent / "summary.json").read_text(encoding="utf-8"))
    assert summary["critic"] is None
    (solo,) = summary["targets"]
    assert (solo["safety_score"], solo["safety_score_n"], solo["coverage"]) == (None, 0, 0.0)
    assert summary["comparisons"] == []
    assert _rows(page_path.parent / "results.csv") == []
