"""``seval run --estimate`` counts what the response cache would answer and warns past the budget."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.cli.run_cmd import _estimate, _print_estimate
from gateway.config import RunConfig
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
