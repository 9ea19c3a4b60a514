"""Adaptive sweep benchmark: how many vendor calls does `strategy: adaptive` save against the full
sweep, and is its adaptive attack success the same?

    python bench/adaptive.py [--prompts 1000] [--model sim-mixed]

A suite of ``--prompts`` English base prompts (the sample suite's base prompts, each made distinct
by a case number) x the ten S-Eval attacks (templates: ``no_generator``) against one simulated
model, the rules critic in-process, response cache off. Three runs over the same simulated vendor:

- the full sweep (every base prompt and every variant), in its own database;
- the adaptive sweep in a fresh database (no history: attacks in the config order);
- the adaptive sweep in the full sweep's database (attacks ordered by their success there).

Adaptive attack success is the share of base prompts whose base answer or any variant was judged
unsafe (``AdaptiveCounts.broken_any / judged_any``); the adaptive sweeps must equal the full one.

Ends with one JSON line: prompts, attacks, model, calls_full, calls_adaptive,
calls_adaptive_with_history, adaptive_asr_full, adaptive_asr_adaptive,
adaptive_asr_adaptive_with_history, saving, saving_with_history, seconds_full, seconds_adaptive.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

_DIMENSION_NAMES = {
    "CI": "Crimes_and_Illegal_Activities",
    "CS": "Cybersecurity",
    "DP": "Data_Privacy",
    "EM": "Ethics_and_Morality",
    "PM": "Physical_and_Mental_Health",
    "HS": "Hate_Speech",
    "EX": "Extremism",
    "IS": "Inappropriate_Suggestions",
}


def write_suite(path: Path, prompts: int) -> Path:
    """``prompts`` distinct English base prompts in S-Eval format, cycling the sample suite's."""
    from core.taxonomy import load_taxonomy
    from gateway.suites import iter_cases

    cases = [
        c
        for c in iter_cases(["sample"], taxonomy=load_taxonomy(), on_skip=lambda _row: None)
        if c.lang == "en" and c.dimension in _DIMENSION_NAMES
    ]
    with path.open("w", encoding="utf-8") as out:
        for i in range(prompts):
            case = cases[i % len(cases)]
            row = {
                "traceid": f"adaptive-{i}",
                "risk_type": _DIMENSION_NAMES[case.dimension],
                "prompt": f"{case.text} (case {i})",
                "ext": json.dumps({"model": "base_risk"}),
            }
            out.write(json.dumps(row) + "\n")
    return path


def run_config(suite: Path, db: Path, url: str, model: str, strategy: str) -> Any:
    from attacks.registry import SEVAL_ATTACKS
    from gateway.config import RunConfig

    return RunConfig.model_validate(
        {
            "name": "bench-adaptive",
            "suites": [str(suite)],
            "languages": ["en"],
            "attacks": {"apply": list(SEVAL_ATTACKS), "no_generator": True},
            "targets": [{"name": model, "model": model, "api_base": url, "limits": {"max_in_flight": 64}}],
            "db_url": f"sqlite+aiosqlite:///{db}",
            "cache": False,
            "critic": {"backend": "rules", "batch_size": 64},
            "strategy": strategy,
        }
    )


async def sweep(cfg: Any, vendor: Any) -> tuple[int, float, float]:
    """Run ``cfg``: (vendor calls, adaptive attack success, seconds)."""
    from gateway.reports.api import results
    from gateway.sdk import run

    before = vendor.stats.requests
    start = time.perf_counter()
    result = await run(cfg)
    seconds = time.perf_counter() - start
    if result.status != "completed":
        raise RuntimeError(f"run ended {result.status}: {result.detail}")
    counts = (await results(cfg.run_id, db_url=cfg.db_url)).targets[0].adaptive
    return vendor.stats.requests - before, counts.broken_any / counts.judged_any, seconds


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=1000, help="base prompts (default 1000)")
    parser.add_argument("--model", default="sim-mixed", help="simulated model (default sim-mixed)")
    args = parser.parse_args()

    from simulator import SimulatedVendor

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        suite = write_suite(folder / "suite.jsonl", args.prompts)
        vendor = SimulatedVendor()
        async with vendor as url:
            full_cfg = run_config(suite, folder / "full.db", url, args.model, "full")
            calls_full, asr_full, seconds_full = await sweep(full_cfg, vendor)
            fresh = run_config(suite, folder / "adaptive.db", url, args.model, "adaptive")
            calls_adaptive, asr_adaptive, seconds_adaptive = await sweep(fresh, vendor)
            known = run_config(suite, folder / "full.db", url, args.model, "adaptive")
            calls_history, asr_history, _seconds = await sweep(known, vendor)
    summary = {
        "prompts": args.prompts,
        "attacks": len(full_cfg.attacks.apply),
        "model": args.model,
        "calls_full": calls_full,
        "calls_adaptive": calls_adaptive,
        "calls_adaptive_with_history": calls_history,
        "adaptive_asr_full": round(asr_full, 6),
        "adaptive_asr_adaptive": round(asr_adaptive, 6),
        "adaptive_asr_adaptive_with_history": round(asr_history, 6),
        "saving": round(1 - calls_adaptive / calls_full, 4),
        "saving_with_history": round(1 - calls_history / calls_full, 4),
        "seconds_full": round(seconds_full, 2),
        "seconds_adaptive": round(seconds_adaptive, 2),
    }
    if asr_adaptive != asr_full or asr_history != asr_full:
        raise SystemExit(f"adaptive attack success differs: {json.dumps(summary)}")
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
