"""The engine (dispatch + pipeline) through the in-memory scripted adapter: no network, no vendor.

Each test plays a script (answers, transient failures with Retry-After, quota errors, vendor blocks)
into a real run over SQLite in a temp dir and checks what was sent (the adapter records every
request), stored and reported. The loopback tests in tests/integration cover the same paths over
HTTP with the simulated vendor.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from adapters.scripted import Reply, ScriptedAdapter
from core.types import AttemptResult, ChatRequest, Outcome, Usage
from db.store import Store
from db.tables import ResponseRow
from gateway.config import RunConfig
from gateway.pipeline import Wiring, execute
from gateway.planner import suite_cases
from gateway.run_results import RunResult
from gateway.sdk import run

FAST_RETRY = {"max_attempts": 3, "initial_wait_s": 0.001, "max_wait_s": 0.01, "deadline_s": 30}
TRANSIENT = Reply(
    outcome=Outcome.FAILED_TRANSIENT, status_code=503, vendor_code="http_503", retry_after_s=0.001
)


def make_config(db_url: str, *, name: str = "scripted", limit: int | None = 6, **extra: Any) -> RunConfig:
    target = {"name": "m", "model": "scripted/m", "adapter": "scripted", "limits": {"max_in_flight": 4}}
    target.update(extra.pop("target", {}))
    data: dict[str, Any] = {
        "name": name,
        "suites": ["sample"],
        "languages": ["en"],
        "kinds": ["base"],
        "limit": limit,
        "targets": [target],
        "retry": FAST_RETRY,
        "db_url": db_url,
        "critic": {"enabled": False},
    }
    data.update(extra)
    return RunConfig.model_validate(data)


def prompts(cfg: RunConfig) -> list[str]:
    return [c.text for c in suite_cases(cfg, on_skip=lambda _: None)]


async def execute_with(cfg: RunConfig, adapter: ScriptedAdapter, **kwargs: Any) -> RunResult:
    store = await Store.open(cfg.db_url)
    try:
        return await execute(cfg, Wiring(store=store, adapters={"m": adapter}), **kwargs)
    finally:
        await store.close()


async def count_responses(db_url: str, **where: Any) -> int:
    store = await Store.open(db_url)
    try:
        table: Any = ResponseRow.__table__  # type: ignore[attr-defined]
        c = table.c
        query = select(func.count()).select_from(table)
        for k, v in where.items():
            query = query.where(c[k] == v)
        async with store.engine.connect() as conn:
            return int(await conn.scalar(query) or 0)
    finally:
        await store.close()


async def test_every_case_is_sent_once_and_stored(sqlite_url: str) -> None:
    cfg = make_config(sqlite_url)
    adapter = ScriptedAdapter(replies=["I can't help with that."])
    result = await execute_with(cfg, adapter)
    assert result.status == "completed"
    m = result.target("m")
    assert m.adapter == "scripted"
    assert m.outcomes == {"COMPLETED": 6}
    assert sorted(r.prompt for r in adapter.requests) == sorted(prompts(cfg))
    assert m.retries == 0


async def test_transient_failures_are_retried_until_answered(sqlite_url: str) -> None:
    cfg = make_config(sqlite_url)
    first = prompts(cfg)[0]
    adapter = ScriptedAdapter(replies=["fine"], by_prompt={first: [TRANSIENT, TRANSIENT, "finally"]})
    result = await execute_with(cfg, adapter)
    assert result.target("m").outcomes == {"COMPLETED": 6}
    assert Counter(r.prompt for r in adapter.requests)[first] == 3
    assert len(adapter.requests) == 8
    assert result.target("m").retries == 2


async def test_transient_forever_ends_failed_after_max_attempts(sqlite_url: str) -> None:
    cfg = make_config(sqlite_url, limit=4)
    adapter = ScriptedAdapter(replies=[TRANSIENT])
    result = await execute_with(cfg, adapter)
    assert result.target("m").outcomes == {"FAILED_TRANSIENT": 4}
    assert len(adapter.requests) == 4 * FAST_RETRY["max_attempts"]


async def test_blocked_and_permanent_outcomes_are_final_at_once(sqlite_url: str) -> None:
    cfg = make_config(sqlite_url)
    first, second = prompts(cfg)[:2]
    blocked = Reply(outcome=Outcome.BLOCKED_BY_VENDOR, vendor_code="content_filter", categories=("violence",))
    bad = Reply(outcome=Outcome.FAILED_PERMANENT, status_code=400, vendor_code="bad_request")
    adapter = ScriptedAdapter(replies=["ok"], by_prompt={first: [blocked], second: [bad]})
    result = await execute_with(cfg, adapter)
    assert result.status == "completed"
    assert result.target("m").outcomes == {"COMPLETED": 4, "BLOCKED_BY_VENDOR": 1, "FAILED_PERMANENT": 1}
    assert len(adapter.requests) == 6  # neither was retried


async def test_quota_error_pauses_the_target_and_stores_nothing(sqlite_url: str) -> None:
    cfg = make_config(sqlite_url, limit=20)
    quota = Reply(
        outcome=Outcome.FAILED_PERMANENT,
        status_code=429,
        vendor_code="insufficient_quota",
        pause_target=True,
        error="You exceeded your current quota",
    )
    adapter = ScriptedAdapter(replies=[quota])
    result = await execute_with(cfg, adapter)
    assert result.status == "partial"
    m = result.target("m")
    assert m.status == "paused"
    assert "insufficient_quota" in m.detail
    assert m.outcomes == {}  # left unsent: a resume sends them once the account is fixed
    assert len(adapter.requests) <= 4  # at most what was in flight when the first answer came


async def test_budget_cap_stops_new_sends(sqlite_url: str) -> None:
    prices = {"input_per_1m": 1_000_000.0, "output_per_1m": 0.0}  # $1 per prompt token
    cfg = make_config(
        sqlite_url,
        limit=20,
        budget={"max_usd": 40.0},
        target={"prices": prices, "limits": {"max_in_flight": 1}},
    )
    paid = AttemptResult(
        outcome=Outcome.COMPLETED, text="ok", usage=Usage(prompt_tokens=2, completion_tokens=1)
    )
    adapter = ScriptedAdapter(replies=[paid])
    result = await execute_with(cfg, adapter)
    assert result.status == "budget_exhausted"
    assert "max_usd" in result.detail
    # Each item reserves its estimated cost (its prompt's estimated tokens, at least $2) and settles at
    # $2: sending stops once spend plus the next reservation would pass the cap, never after passing it.
    calls = len(adapter.requests)
    assert 1 <= calls < 20
    assert result.target("m").done == calls
    assert result.spent_usd == pytest.approx(2.0 * calls)
    assert result.spent_usd <= 40.0


async def test_cache_reuses_answers_of_an_earlier_run(sqlite_url: str) -> None:
    first = await execute_with(make_config(sqlite_url), ScriptedAdapter(replies=["original"]))
    again = ScriptedAdapter(replies=["must not be sent"])
    second = await execute_with(make_config(sqlite_url, name="again"), again)
    assert first.run_id != second.run_id
    assert again.requests == []
    assert second.target("m").outcomes == {"COMPLETED": 6}
    assert await count_responses(sqlite_url, run_id=second.run_id, cached_from=first.run_id) == 6
    fresh = ScriptedAdapter(replies=["new"])
    await execute_with(make_config(sqlite_url, name="fresh"), fresh, use_cache=False)
    assert len(fresh.requests) == 6


async def test_resume_sends_only_what_is_missing(sqlite_url: str) -> None:
    capped = make_config(sqlite_url, budget={"max_calls": 2}, target={"limits": {"max_in_flight": 1}})
    first = ScriptedAdapter(replies=["one"])
    partial = await execute_with(capped, first)
    assert partial.status == "budget_exhausted"
    assert partial.target("m").done == 2
    # Raising a budget is operational: the same run id, so the rerun resumes the same run.
    resumed = ScriptedAdapter(replies=["two"])
    full = await execute_with(make_config(sqlite_url), resumed, use_cache=False)
    assert full.run_id == partial.run_id
    assert full.status == "completed"
    assert full.target("m").outcomes == {"COMPLETED": 6}
    sent_first = {r.prompt for r in first.requests}
    sent_again = [r.prompt for r in resumed.requests]
    assert len(sent_again) == 4
    assert sent_first.isdisjoint(sent_again)


async def test_resume_resends_transient_failures_unless_told_not_to(sqlite_url: str) -> None:
    cfg = make_config(sqlite_url, limit=3)
    failed = await execute_with(cfg, ScriptedAdapter(replies=[TRANSIENT]))
    assert failed.target("m").outcomes == {"FAILED_TRANSIENT": 3}
    kept = ScriptedAdapter(replies=["ok"])
    await execute_with(cfg, kept, retry_failed=False)
    assert kept.requests == []
    retried = ScriptedAdapter(replies=["ok"])
    result = await execute_with(cfg, retried)
    assert len(retried.requests) == 3
    assert result.target("m").outcomes == {"COMPLETED": 3}


async def test_scripted_target_configured_inline_runs_through_the_sdk(sqlite_url: str) -> None:
    script = {"replies": ["Sorry, I can't help."], "by_prompt": {}}
    cfg = make_config(sqlite_url, target={"options": script})
    result = await run(cfg)
    assert result.status == "completed"
    assert result.target("m").outcomes == {"COMPLETED": 6}
    # The script is part of the work definition: another script is another run.
    other = make_config(sqlite_url, target={"options": {"replies": ["Sure, here it is."]}})
    assert other.run_id != cfg.run_id


class _BrokenAfter(ScriptedAdapter):
    """Answers ``good`` requests, then raises what no adapter should: a bug, not a vendor outcome."""

    def __init__(self, good: int) -> None:
        super().__init__(replies=["Fine."])
        self._good = good

    async def send(self, request: ChatRequest) -> AttemptResult:
        if len(self.requests) >= self._good:
            raise RuntimeError("adapter bug")
        return await super().send(request)


@pytest.mark.timeout(60)
async def test_an_unexpected_worker_error_fails_the_run_instead_of_hanging_it(
    sqlite_url: str, tmp_path: Path
) -> None:
    # Far more items than the send queue holds: a dead worker must not leave the feed blocked on it.
    suite = tmp_path / "suite.jsonl"
    suite.write_text(
        "".join(json.dumps({"q": f"Prompt {i}: one word.", "cat": "CI"}) + "\n" for i in range(400))
    )
    cfg = make_config(
        sqlite_url, suites=[str(suite)], mapping="text=q,risk=cat,lang:=en", limit=None, kinds=["base"]
    )
    adapter = _BrokenAfter(good=20)
    with pytest.raises(RuntimeError, match="adapter bug"):
        await execute_with(cfg, adapter)
    assert len(adapter.requests) < 40  # the target halted at the first error, the rest went unsent
    assert await count_responses(sqlite_url) == 20
