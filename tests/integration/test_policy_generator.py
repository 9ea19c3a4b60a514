"""A run whose attack generator shares its limit key with a target: both go through the run's one
call policy over loopback HTTP to the simulated vendor, and the rewrites come from the generator."""

from __future__ import annotations

import json

from sqlalchemy import select

from db.store import Store
from db.tables import CaseRow
from gateway.config import RunConfig
from gateway.sdk import run
from simulator import SimulatedVendor

FAST_RETRY = {"max_attempts": 4, "initial_wait_s": 0.01, "max_wait_s": 0.05, "deadline_s": 30}


async def test_generator_and_target_under_one_key_complete_a_run(sqlite_url: str) -> None:
    vendor = SimulatedVendor()
    async with vendor as url:
        model = {"model": "sim-compliant", "api_base": url, "limits": {"rpm": 6000, "max_in_flight": 4}}
        cfg = RunConfig.model_validate(
            {
                "name": "policy-generator",
                "suites": ["sample"],
                "languages": ["en"],
                "limit": 3,
                "targets": [{"name": "t", **model}],
                "attacks": {
                    "apply": ["positive_induction"],
                    "seed": 1,
                    "generator": {"name": "gen", **model},
                },
                "retry": FAST_RETRY,
                "db_url": sqlite_url,
                "critic": {"enabled": False},
            }
        )
        result = await run(cfg)
        sent = vendor.stats.by_model["sim-compliant"]
    assert result.status == "completed"
    assert result.target("t").outcomes == {"COMPLETED": 6}  # 3 base cases and their 3 rewrites
    assert sent == 6 + 3  # the target's answers and the generator's rewrites, each sent once
    store = await Store.open(sqlite_url)
    try:
        c = CaseRow.__table__.c  # type: ignore[attr-defined]
        async with store.engine.connect() as conn:
            rows = (await conn.execute(select(c.provenance_json).where(c.attack.is_not(None)))).all()
    finally:
        await store.close()
    assert {json.loads(row.provenance_json)["generator"] for row in rows} == {"openai:sim-compliant"}
