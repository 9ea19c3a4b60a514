"""Counting integrity through real runs (scripted adapter, SQLite): a run where every request fails
the same permanent way pauses its target instead of grinding through every item."""

from __future__ import annotations

import asyncio

from test_engine_scripted import count_responses, execute_with, make_config, prompts

from adapters.scripted import Reply, ScriptedAdapter
from core.types import AttemptResult, ChatRequest, Outcome
from critic_server.local import LocalCritic
from db.store import Store
from gateway.pipeline import Wiring, execute

MISSING_MODEL = Reply(
    outcome=Outcome.FAILED_PERMANENT,
    status_code=404,
    vendor_code="model_not_found",
    error="The model `gpt-4o-mnii` does not exist",
)


async def test_identical_permanent_failures_pause_the_target(sqlite_url: str) -> None:
    cfg = make_config(sqlite_url, limit=40, target={"limits": {"max_in_flight": 1}})
    adapter = ScriptedAdapter(replies=[MISSING_MODEL])
    result = await execute_with(cfg, adapter)
    m = result.target("m")
    assert result.status == "partial"
    assert m.status == "paused"
    assert "model_not_found" in m.detail
    assert "5 identical permanent failures" in m.detail
    assert len(adapter.requests) == 5  # one at a time: nothing is sent after the fifth
    # the five are stored as the failures they are; the rest is left unsent for a resume
    assert await count_responses(sqlite_url, outcome="FAILED_PERMANENT") == 5


async def test_different_permanent_failures_do_not_pause(sqlite_url: str) -> None:
    cfg = make_config(sqlite_url, limit=12, target={"limits": {"max_in_flight": 1}})
    other = Reply(outcome=Outcome.FAILED_PERMANENT, status_code=404, vendor_code="not_found_error")
    adapter = ScriptedAdapter(replies=([MISSING_MODEL] * 4 + [other]) * 2 + [MISSING_MODEL] * 2)
    result = await execute_with(cfg, adapter)
    assert result.target("m").status == "done"
    assert len(adapter.requests) == 12


async def test_failures_a_prompt_can_cause_never_pause(sqlite_url: str) -> None:
    cfg = make_config(sqlite_url, limit=10, target={"limits": {"max_in_flight": 1}})
    too_long = Reply(outcome=Outcome.FAILED_PERMANENT, status_code=400, vendor_code="context_length_exceeded")
    adapter = ScriptedAdapter(replies=[too_long])
    result = await execute_with(cfg, adapter)
    assert result.target("m").status == "done"
    assert len(adapter.requests) == 10


async def test_the_threshold_is_configurable_and_zero_turns_it_off(sqlite_url: str) -> None:
    retry = {"max_attempts": 3, "initial_wait_s": 0.001, "max_wait_s": 0.01, "deadline_s": 30}
    cfg = make_config(
        sqlite_url,
        limit=10,
        retry={**retry, "pause_after_identical_failures": 0},
        target={"limits": {"max_in_flight": 1}},
    )
    adapter = ScriptedAdapter(replies=[MISSING_MODEL])
    result = await execute_with(cfg, adapter)
    assert result.target("m").status == "done"
    assert len(adapter.requests) == 10


async def test_an_empty_completed_answer_is_never_judged_safe(sqlite_url: str) -> None:
    cfg = make_config(sqlite_url, limit=4, critic={"enabled": True})
    adapter = ScriptedAdapter(replies=["", "   ", "I can't help with that."])
    store = await Store.open(cfg.db_url)
    try:
        async with LocalCritic.open() as critic:  # the built-in rules, in process
            result = await execute(cfg, Wiring(store=store, adapters={"m": adapter}, critic=critic))
        async with store.reading() as q:
            reasons = await q.error_reasons(result.run_id)
    finally:
        await store.close()
    assert result.target("m").outcomes == {"COMPLETED": 4}
    # two empty answers are left unjudged (a critic error, shown as coverage), the real ones scored
    assert dict(result.verdicts) == {"CRITIC_ERROR": 2, "SCORED": 2}, result.verdicts
    assert [(r.outcome, r.count) for r in reasons] == [("COMPLETED (empty text)", 2)]


class _Stamped:
    """A scripted adapter that notes when each prompt was sent (loop time)."""

    def __init__(self, inner: ScriptedAdapter) -> None:
        self.inner = inner
        self.sent: list[tuple[float, str]] = []

    @property
    def limit_key(self) -> str:
        return self.inner.limit_key

    @property
    def name(self) -> str:
        return self.inner.name

    async def send(self, request: ChatRequest) -> AttemptResult:
        self.sent.append((asyncio.get_running_loop().time(), request.prompt))
        return await self.inner.send(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_retry_after_holds_every_item_of_the_target_through_a_run(sqlite_url: str) -> None:
    # Four workers. The first prompt's 429 says Retry-After 0.4 s; the other in-flight items answer
    # after 0.05 s and their workers move on. Those later sends must wait out the 429's pause too,
    # not only the item that saw it (its own retry wait alone would let them go at once).
    retry = {"max_attempts": 3, "initial_wait_s": 0.001, "max_wait_s": 1.0, "deadline_s": 30}
    cfg = make_config(sqlite_url, limit=10, retry=retry, target={"limits": {"max_in_flight": 4}})
    first = prompts(cfg)[0]
    limited = Reply(
        outcome=Outcome.FAILED_TRANSIENT, status_code=429, vendor_code="rate_limit", retry_after_s=0.4
    )
    ok = Reply(text="fine", latency_s=0.05)
    adapter = _Stamped(ScriptedAdapter(replies=[ok], by_prompt={first: [limited, ok]}))
    store = await Store.open(cfg.db_url)
    try:
        result = await execute(cfg, Wiring(store=store, adapters={"m": adapter}))
    finally:
        await store.close()
    assert result.target("m").outcomes == {"COMPLETED": 10}
    t429 = next(t for t, prompt in adapter.sent if prompt == first)
    later = [t for t, _ in adapter.sent[4:]]  # everything sent after the first four in flight
    assert len(later) == 7  # six more prompts and the 429'd one again
    assert min(later) >= t429 + 0.4 - 0.01
