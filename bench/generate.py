"""Generation over the simulated generator model: 1,000 prompts, 20 nodes x 2 languages.

Runs ``gateway.generate`` against the simulated vendor on loopback and checks every row against
the simulator's ground truth (``simulator.generation.plan_batch``): each planted refusal,
wrong-language row, exact and near duplicate must be dropped for its reason, each whole-answer
refusal must be counted as one, and no genuine row may be dropped.

    python bench/generate.py [--per-node 25] [--nodes 20]

Ends with one JSON line: generated, kept, dropped_by_reason, answers_dropped_by_reason, planted,
missed, false_drops, all_caught, requests, seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from core.taxonomy import Taxonomy, load_taxonomy
from gateway.generation.api import generate
from gateway.generation.engine import GenerationReport
from simulator import SimulatedVendor
from simulator.generation import GenerationSpec, plan_batch

EXPECTED_DROP = {
    "refusal": "refused",
    "wrong_lang": "wrong_language",
    "dup_exact": "duplicate_exact",
    "dup_near": "duplicate_near",
}
LANGS = ("en", "zh")


def check(report: GenerationReport, vendor_seed: int, taxonomy: Taxonomy | None = None) -> dict[str, Any]:
    """Planted faults per kind, and the rows whose fate disagrees with the ground truth."""
    taxonomy = taxonomy or load_taxonomy()
    rows = {(r.node, r.lang, r.seed, r.index): r for r in report.rows}
    planted: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    false_drops = 0
    for q in report.requests:
        name = taxonomy.node(q.node).display_name(q.lang)
        truth = plan_batch(
            GenerationSpec(q.node, name, q.lang, q.count), vendor_seed=vendor_seed, request_seed=q.seed
        )
        if truth.batch_refused:
            planted["batch_refused"] += 1
            missed["batch_refused"] += q.outcome != "refused"
            continue
        for i, planted_row in enumerate(truth.rows):
            got = rows.get((q.node, q.lang, q.seed, i))
            drop = got.drop if got is not None else "absent"
            if planted_row.kind == "ok":
                false_drops += drop not in (None, "surplus")
            else:
                planted[planted_row.kind] += 1
                missed[planted_row.kind] += drop != EXPECTED_DROP[planted_row.kind]
    return {
        "planted": dict(sorted(planted.items())),
        "missed": {k: v for k, v in sorted(missed.items()) if v},
        "false_drops": false_drops,
    }


async def main() -> None:
    """Run the benchmark and print its JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-node", type=int, default=25)
    parser.add_argument("--nodes", type=int, default=20)
    args = parser.parse_args()
    nodes = [n.id for n in load_taxonomy().at_level(2)][: args.nodes]
    with tempfile.TemporaryDirectory() as tmp:
        async with SimulatedVendor(seed=0) as url:
            started = time.perf_counter()
            result = await generate(
                nodes=nodes,
                langs=LANGS,
                per_node=args.per_node,
                generator="sim-generator",
                api_base=url,
                out=Path(tmp) / "generated.jsonl",
                suites=["sample"],
            )
            seconds = time.perf_counter() - started
    report = result.report
    verdict = check(report, vendor_seed=0)
    line = {
        "generated": report.generated,
        "kept": report.kept,
        "target": args.per_node * len(nodes) * len(LANGS),
        "dropped_by_reason": report.dropped_by_reason(),
        "answers_dropped_by_reason": report.answers_dropped_by_reason(),
        **verdict,
        "all_caught": not verdict["missed"] and verdict["false_drops"] == 0,
        "requests": len(report.requests),
        "seconds": round(seconds, 3),
    }
    print(json.dumps(line))


if __name__ == "__main__":
    asyncio.run(main())
