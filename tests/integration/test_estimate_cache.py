"""Cached answers: ``seval run --estimate`` counts what the response cache would answer (and warns
past the budget); the report shows what cached answers cost in the run they came from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.cli.run_cmd import _estimate, _print_estimate
from gateway.config import RunConfig
from gateway.reports.api import results
from gateway.reports.writers import write_report
from gateway.sdk import run
from simulator import SimulatedVendor

PRICES = {"input_per_1m": 1.0, "output_per_1m": 2.0}


def config(db_url: str, url: str, name: str, **extra: Any) -> RunConfig:
    data: dict[str, Any] = {
        "name": name,
        "suites": ["sample"],
        "languages": ["en"],
        "limit": 6,
        "targets": [{"name": "m", "model": "sim-mixed", "api_base": url, "prices": PRICES}],
        "db_url": db_url,
        "critic": {"enabled": False},
    }
    data.update(extra)
    return RunConfig.model_validate(data)


async def test_estimate_leaves_out_cached_answers(sqlite_url: str) -> None:
    vendor = SimulatedVendor()
    async with vendor as url:
        await run(config(sqlite_url, url, "first"))
        again = config(sqlite_url, url, "again")  # another run id, the same requests
        cached = await _estimate(again, retry_failed=True, use_cache=True)
        uncached = await _estimate(again, retry_failed=True, use_cache=False)
        sent = vendor.stats.requests
    assert sent == 6  # the first run only: estimating sends nothing
    (t,) = cached.targets
    assert (t.calls, t.cached, t.prompt_tokens, t.cost_usd) == (0, 6, 0, 0.0)
    (u,) = uncached.targets
    assert (u.calls, u.cached) == (6, 0)
    assert u.cost_usd is not None
    assert u.cost_usd > 0


async def test_estimate_over_budget_says_so(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    vendor = SimulatedVendor()
    async with vendor as url:
        cfg = config(sqlite_url, url, "capped", budget={"max_usd": 1e-6})
        est = await _estimate(cfg, retry_failed=True, use_cache=True)
        roomy = await _estimate(
            config(sqlite_url, url, "capped", budget={"max_usd": 100.0}), retry_failed=True, use_cache=True
        )
    assert est.over_budget
    assert not roomy.over_budget
    _print_estimate(est)
    err = capsys.readouterr().err
    assert "exceeds budget.max_usd $0.0000" in err
    assert "budget_exhausted" in err


async def test_report_shows_what_cached_answers_cost_in_their_source_run(
    sqlite_url: str, tmp_path: Path
) -> None:
    vendor = SimulatedVendor()
    async with vendor as url:
        first = await run(config(sqlite_url, url, "first"))
        second = await run(config(sqlite_url, url, "again"))
    assert first.spent_usd > 0
    assert second.spent_usd == 0.0
    res = await results(second.run_id, db_url=sqlite_url)
    total = res.target("m").all
    assert (total.cached, total.cost_usd) == (6, 0.0)
    assert total.cached_cost_usd == pytest.approx(first.spent_usd)
    assert (await results(first.run_id, db_url=sqlite_url)).target("m").all.cached == 0
    await write_report(sqlite_url, second.run_id, tmp_path / "report")
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "cached (6 answers)" in page
    spend = json.loads((tmp_path / "report" / "summary.json").read_text())["targets"][0]["spend"]
    assert spend["cached_answers"] == 6
    assert spend["cached_cost_usd"] == pytest.approx(first.spent_usd)
