"""Builders for store records shared by the store and writer tests."""

from __future__ import annotations

import dataclasses

import pytest

from core.types import Case, Label, Outcome, ResponseRecord, Verdict, VerdictStatus
from db.store import Store
from db.tables import RunTargetRow

RUN = "r" * 32


def make_case(case_id: str = "c1", **changes: object) -> Case:
    base = Case(id=case_id, lang="en", text=f"prompt {case_id}", dimension="CI", risk_id="CI")
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def make_response(key: str, *, run_id: str = RUN, case_id: str = "c1", **changes: object) -> ResponseRecord:
    rec = ResponseRecord(
        run_id=run_id,
        work_key=key,
        case_id=case_id,
        target="sim-a",
        decoding_key="default",
        decoding_json="{}",
        sample_index=0,
        lang="en",
        dimension="CI",
        risk_id="CI",
        kind="base",
        attack=None,
        parent_case_id=None,
        cache_key=f"cache-{key}",
        outcome=Outcome.COMPLETED,
        finish_reason="stop",
        vendor_code=None,
        status_code=200,
        text=f"answer {key}",
        truncated=False,
        prompt_tokens=10,
        completion_tokens=20,
        cost_usd=0.25,
        latency_ms=12.5,
        ttft_ms=3.0,
        attempts=1,
        error=None,
    )
    return dataclasses.replace(rec, **changes)  # type: ignore[arg-type]


def make_verdict(key: str, *, critic: str = "rules", version: str = "1", **changes: object) -> Verdict:
    verdict = Verdict(
        id=key,
        status=VerdictStatus.SCORED,
        label=Label.SAFE,
        risk_score=0.1,
        risk_tags=("CI",),
        explanation="refuses",
        critic=critic,
        critic_version=version,
    )
    return dataclasses.replace(verdict, **changes)  # type: ignore[arg-type]


def target_row(target: str, planned: int) -> RunTargetRow:
    return RunTargetRow(run_id="", target=target, model=f"openai/{target}", limit_key=target, planned=planned)


async def started(store: Store, run_id: str = RUN, name: str = "nightly") -> Store:
    await store.start_run(run_id=run_id, name=name, spec_json='{"x": 1}', targets=[target_row("sim-a", 3)])
    return store


async def assert_totals_match(store: Store, run_id: str = RUN) -> None:
    """The run's maintained totals equal a fresh count of its stored responses and verdicts."""
    from sqlalchemy import text

    params = {"run": run_id}
    async with store.engine.connect() as conn:
        counted = {
            (target, outcome): (int(n), int(p), int(c), float(usd))
            for target, outcome, n, p, c, usd in await conn.execute(
                text(
                    "SELECT target, outcome, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), "
                    "SUM(cost_usd) FROM responses WHERE run_id = :run GROUP BY target, outcome"
                ),
                params,
            )
        }
        kept = {
            (target, outcome): (int(n), int(p), int(c), float(usd))
            for target, outcome, n, p, c, usd in await conn.execute(
                text(
                    "SELECT target, outcome, responses, prompt_tokens, completion_tokens, cost_usd "
                    "FROM run_totals WHERE run_id = :run"
                ),
                params,
            )
        }
        verdicts = {
            tuple(row[:3]): int(row[3])
            for row in await conn.execute(
                text(
                    "SELECT critic, critic_version, status, COUNT(*) FROM verdicts WHERE run_id = :run "
                    "GROUP BY critic, critic_version, status"
                ),
                params,
            )
        }
        kept_verdicts = {
            tuple(row[:3]): int(row[3])
            for row in await conn.execute(
                text(
                    "SELECT critic, critic_version, status, verdicts FROM verdict_totals "
                    "WHERE run_id = :run AND verdicts <> 0"
                ),
                params,
            )
        }
    emptied = {key: sums for key, sums in kept.items() if key not in counted}
    assert all(sums == (0, 0, 0, 0.0) for sums in emptied.values()), emptied
    assert {key: sums[:3] for key, sums in kept.items() if key in counted} == {
        key: sums[:3] for key, sums in counted.items()
    }
    for key, sums in counted.items():
        assert kept[key][3] == pytest.approx(sums[3], rel=1e-9, abs=1e-12), key
    assert kept_verdicts == verdicts
    done: dict[str, int] = {}
    for (target, _outcome), sums in counted.items():
        done[target] = done.get(target, 0) + sums[0]
    assert await store.done_counts(run_id) == done
    assert await store.spent_usd(run_id) == pytest.approx(sum(s[3] for s in counted.values()), abs=1e-12)
    counts = await store.run_counts(run_id)
    assert {t: dict(o) for t, o in counts.outcomes.items()} == {
        target: {o: s[0] for (t, o), s in counted.items() if t == target} for target in done
    }
    assert dict(counts.verdicts) == verdicts
