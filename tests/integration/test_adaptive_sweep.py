"""Adaptive sweeps end to end: the same config swept in full and adaptively over the simulated
vendor, with the rules critic in-process. The adaptive sweep sends fewer requests and reports the
same adaptive attack success (base answer or any variant unsafe) per target."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import ConfigError
from core.records import AdaptiveCounts
from gateway.config import RunConfig
from gateway.estimate import estimate
from gateway.reports.api import results
from gateway.sdk import run
from simulator import SimulatedVendor

pytestmark = pytest.mark.filterwarnings(
    "ignore:Accessing the '.*' attribute on the instance is deprecated:DeprecationWarning"
)

ATTACKS = [
    "code_injection",
    "deepinception",
    "goal_hijacking",
    "instruction_jailbreak",
    "chain_of_utterances",
]


def config(db_url: str, url: str, strategy: str, **extra: Any) -> RunConfig:
    data: dict[str, Any] = {
        "name": "adaptive-test",
        "suites": ["sample"],
        "languages": ["en"],
        "limit": 16,
        "limit_strategy": "first",
        "attacks": {"apply": ATTACKS, "no_generator": True},
        "targets": [
            {"name": m, "model": m, "api_base": url, "limits": {"max_in_flight": 4}}
            for m in ("sim-cautious", "sim-mixed")
        ],
        "db_url": db_url,
        "cache": False,  # the adaptive sweep must really ask the vendor, not reuse the full one's answers
        "critic": {"backend": "rules", "batch_size": 8},
        "strategy": strategy,
    }
    data.update(extra)
    return RunConfig.model_validate(data)


def by_target(counts: dict[str, AdaptiveCounts]) -> dict[str, tuple[int, int]]:
    return {name: (c.judged_any, c.broken_any) for name, c in counts.items()}


async def adaptive_counts(db_url: str, run_id: str) -> dict[str, AdaptiveCounts]:
    res = await results(run_id, db_url=db_url)
    return {t.target: t.adaptive for t in res.targets}


async def test_adaptive_sweep_is_exact_and_cheaper(sqlite_url: str) -> None:
    vendor = SimulatedVendor()
    async with vendor as url:
        full_cfg, adaptive_cfg = config(sqlite_url, url, "full"), config(sqlite_url, url, "adaptive")
        assert full_cfg.run_id != adaptive_cfg.run_id
        full = await run(full_cfg)
        full_calls = vendor.stats.requests
        adaptive = await run(adaptive_cfg)
        adaptive_calls = vendor.stats.requests - full_calls
        # A rerun of the finished adaptive sweep sends nothing more.
        await run(adaptive_cfg)
        assert vendor.stats.requests == full_calls + adaptive_calls
    assert full.status == adaptive.status == "completed"
    assert full_calls == 2 * 16 * (1 + len(ATTACKS))
    assert 0 < adaptive_calls < full_calls

    full_counts = await adaptive_counts(sqlite_url, full_cfg.run_id)
    adaptive_counts_ = await adaptive_counts(sqlite_url, adaptive_cfg.run_id)
    assert by_target(adaptive_counts_) == by_target(full_counts)
    # Something was broken and something withstood every attack, so both branches were taken.
    assert any(0 < c.broken_any < c.judged_any for c in full_counts.values())

    # Nothing unsent counts as a gap: planned is what was sent, and every answer was judged.
    res = await results(adaptive_cfg.run_id, db_url=sqlite_url)
    sent = {t.name: t.done for t in adaptive.targets}
    assert sum(sent.values()) == adaptive_calls
    for t in res.targets:
        assert t.info.planned == sent[t.target]
        assert t.coverage == 1.0


async def test_adaptive_run_without_critic_is_refused(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="needs the critic"):
        config(sqlite_url, "http://127.0.0.1:9/v1", "adaptive", critic={"enabled": False})
    with pytest.raises(ValueError, match=r"needs attacks\.apply"):
        config(sqlite_url, "http://127.0.0.1:9/v1", "adaptive", attacks={"apply": []})
    assert issubclass(ConfigError, ValueError)


async def test_estimate_says_adaptive_counts_are_an_upper_bound(sqlite_url: str) -> None:
    url = "http://127.0.0.1:9/v1"
    full = await estimate(config(sqlite_url, url, "full"))
    adaptive = await estimate(config(sqlite_url, url, "adaptive"))
    assert not full.upper_bound
    assert adaptive.upper_bound
    assert adaptive.calls == full.calls == 2 * 16 * (1 + len(ATTACKS))
