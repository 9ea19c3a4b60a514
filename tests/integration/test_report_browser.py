"""Open report.html in headless Chromium (Debian's ``chromium``): no console messages at all (the
page has no scripts, so any message is a CSP violation, a failed load or an invalid SVG attribute),
and the summary table has one row per target."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import require_or_skip
from report_data import RUN_ID, fill

from db.store import Store
from gateway.reports.writers import write_report

pytestmark = pytest.mark.browser

# Chromium logs every console message with --enable-logging=stderr --v=0 as: INFO:CONSOLE:<line>] "...".
CONSOLE_LINE = re.compile(r":CONSOLE(?::\d+|\(\d+\))\]\s*(.*)")
CANARY_PAGE = '<!DOCTYPE html><html><body><script>console.error("seval-canary")</script></body></html>'


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    require_or_skip("headless Chromium is not installed (apt-get install chromium)")
    raise AssertionError("unreachable")


def _open(browser: str, page: Path, profile: Path) -> tuple[str, list[str]]:
    """The page's DOM after load, and every console message Chromium logged for it."""
    proc = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    messages = [m.group(1) for line in proc.stderr.splitlines() if (m := CONSOLE_LINE.search(line))]
    return proc.stdout, messages


class _SummaryRows(HTMLParser):
    """Collects ``data-target`` of the rows in ``table#summary > tbody``."""

    def __init__(self) -> None:
        super().__init__()
        self.in_summary = False
        self.in_body = False
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("id") == "summary":
            self.in_summary = True
        elif tag == "tbody" and self.in_summary:
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self.targets.append(a.get("data-target") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody" and self.in_body:
            self.in_body = False
        elif tag == "table" and self.in_summary:
            self.in_summary = False


def test_report_opens_cleanly_in_headless_chromium(sqlite_url: str, tmp_path: Path) -> None:
    browser = _chromium()

    async def build() -> Path:
        store = await Store.open(sqlite_url)
        try:
            await fill(store)
            return await write_report(store, RUN_ID, tmp_path / "report", critic="rules")
        finally:
            await store.close()

    page = asyncio.run(build())

    # The capture itself must work here, or "no messages" would prove nothing.
    canary = tmp_path / "canary.html"
    canary.write_text(CANARY_PAGE, encoding="utf-8")
    _, canary_messages = _open(browser, canary, tmp_path / "profile-canary")
    assert any("seval-canary" in m for m in canary_messages), "console capture is not working"

    dom, messages = _open(browser, page, tmp_path / "profile")
    assert messages == []
    rows = _SummaryRows()
    rows.feed(dom)
    expected = [t["target"] for t in json.loads((page.parent / "summary.json").read_text())["targets"]]
    assert rows.targets == expected == ["alpha", "beta"]
    for section in (
        "summary-section",
        "dimensions",
        "attacks",
        "languages",
        "decoding",
        "comparisons",
        "coverage",
        "notes",
    ):
        assert f'id="{section}"' in dom
    assert dom.count("<svg") >= 6


def test_demo_report_shows_the_three_simulated_models(tmp_path: Path) -> None:
    browser = _chromium()
    from gateway.demo import DEMO_MODELS, run_demo

    done = asyncio.run(run_demo(tmp_path / "demo", progress=False))
    assert done.report is not None
    dom, messages = _open(browser, done.report, tmp_path / "profile")
    assert messages == []
    rows = _SummaryRows()
    rows.feed(dom)
    assert rows.targets == sorted(DEMO_MODELS)
    summary = json.loads((done.report.parent / "summary.json").read_text(encoding="utf-8"))
    for target in summary["targets"]:
        assert target["safety_score_n"] > 0
        assert target["attack_success_n"] > 0
        assert target["adaptive_success"] is not None
        assert target["coverage"] == 1.0
    csv_lines = (done.report.parent / "results.csv").read_text(encoding="utf-8").splitlines()
    assert len(csv_lines) - 1 == sum(t["base"]["items"] + t["attack"]["items"] for t in summary["targets"])
    assert any(c["verdict"] == "real difference" for c in summary["comparisons"])
