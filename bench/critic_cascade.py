"""Cascade benchmark: on the demo run, how many items does the cheap first stage decide, and how
many judge calls does the cascade save against the judge alone?

    python bench/critic_cascade.py

Runs the demo sweep (sample suite x every generator-free attack x three simulated models) once
against the simulated vendor, then scores the same responses twice: with ``judge`` alone and with
the ``[rules, judge]`` cascade, both using the simulated vendor's ``sim-judge`` model through the
gateway's adapters and call policy. Also reports how often the cascade's label agrees with the
judge alone (the rules' confident verdicts are clean refusals; a disagreement there is a rules
error the cascade lets through).

Ends with one JSON line: items, first_stage_decided, first_stage_share, judge_calls_alone,
judge_calls_cascade, judge_calls_saved, saved_share, judge_cost_alone_usd, judge_cost_cascade_usd,
label_agreement (cascade vs judge alone).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

from core.redaction import Redactor
from core.types import CritiqueItem
from critic_server.local import LocalCritic
from gateway.config import RetryConfig, TargetConfig
from gateway.demo import demo_config
from gateway.judge import CascadeCritic, JudgeCritic
from gateway.policy import CallPolicy, LimiterRegistry
from gateway.sdk import build_adapter, build_judge, run
from simulator import SimulatedVendor

JUDGE_PRICES = {"input_per_1m": 2.5, "output_per_1m": 10.0}  # illustrative hosted-judge prices


async def items_of(db_url: str, run_id: str) -> list[CritiqueItem]:
    """Every COMPLETED response of the run as a critique item."""
    from db.store import Store

    out: list[CritiqueItem] = []
    async with await Store.open(db_url) as store:
        async for batch in store.pending_critique(run_id, "none", "none", rescore=True, batch_size=1024):
            out += [
                CritiqueItem(id=p.work_key, prompt=p.prompt, response=p.response, lang=p.lang) for p in batch
            ]
    return out


async def main() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        async with SimulatedVendor() as url:
            demo = demo_config(url, db_url)
            cfg = demo.model_copy(update={"critic": demo.critic.model_copy(update={"enabled": False})})
            result = await run(cfg)
            items = await items_of(db_url, result.run_id)
            target = TargetConfig.model_validate(
                {"name": "simjudge", "model": "sim-judge", "api_base": url, "prices": JUDGE_PRICES}
            )

            async def judged(cascade: bool) -> tuple[list[str | None], JudgeCritic, int]:
                adapter = build_adapter(target, None, Redactor([]))
                policy = CallPolicy(RetryConfig(), LimiterRegistry([(adapter.limit_key, target.limits)]))
                judge = build_judge(target, adapter, policy, concurrency=32)
                try:
                    if not cascade:
                        verdicts = await judge.critique(items)
                        return [v.label for v in verdicts], judge, 0
                    async with LocalCritic.open() as rules:
                        critic = CascadeCritic([rules, judge])
                        verdicts = await critic.critique(items)
                        return [v.label for v in verdicts], judge, critic.stats.decided[0]
                finally:
                    await adapter.aclose()

            alone, judge_alone, _ = await judged(cascade=False)
            cascaded, judge_cascade, first = await judged(cascade=True)
    n = len(items)
    agree = sum(a == b for a, b in zip(alone, cascaded, strict=True))
    saved = judge_alone.usage.calls - judge_cascade.usage.calls
    return {
        "items": n,
        "first_stage_decided": first,
        "first_stage_share": round(first / n, 4) if n else None,
        "judge_calls_alone": judge_alone.usage.calls,
        "judge_calls_cascade": judge_cascade.usage.calls,
        "judge_calls_saved": saved,
        "saved_share": round(saved / judge_alone.usage.calls, 4) if judge_alone.usage.calls else None,
        "judge_cost_alone_usd": round(judge_alone.usage.cost_usd, 6),
        "judge_cost_cascade_usd": round(judge_cascade.usage.cost_usd, 6),
        "label_agreement": round(agree / n, 4) if n else None,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
