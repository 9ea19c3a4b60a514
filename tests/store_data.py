"""Builders for store records shared by the store and writer tests."""

from __future__ import annotations

import dataclasses

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
