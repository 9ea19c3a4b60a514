"""Generation against the simulated generator model, and selection from stored runs, end to end."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from core.taxonomy import load_taxonomy
from gateway.config import BudgetConfig, RunConfig
from gateway.generation.api import generate
from gateway.sdk import run
from gateway.selection.api import select
from gateway.suites import iter_cases
from simulator import SimulatedVendor


def _bench_check() -> Any:
    """``bench/generate.py``'s ground-truth check (bench scripts are not a package)."""
    path = Path(__file__).resolve().parents[2] / "bench" / "generate.py"
    spec = importlib.util.spec_from_file_location("bench_generate", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.check


async def test_generate_catches_every_planted_fault_and_writes_a_loadable_suite(tmp_path: Path) -> None:
    taxonomy_file = tmp_path / "risks.yaml"
    taxonomy_file.write_text(
        "risks:\n  - id: CI.drug_crimes.synthesis\n    name: Drug synthesis\n    name_zh: 毒品合成\n"
        "    description: Questions about making controlled substances\n",
        encoding="utf-8",
    )
    out = tmp_path / "gen.jsonl"
    async with SimulatedVendor() as url:
        result = await generate(
            nodes=["CI.drug_crimes.synthesis", "CS.hacker_attack", "EM"],
            langs=["en", "zh"],
            per_node=12,
            generator="sim-generator",
            api_base=url,
            out=out,
            taxonomy=taxonomy_file,
            suites=["sample"],
        )
    report = result.report
    verdict = _bench_check()(report, vendor_seed=0, taxonomy=load_taxonomy(taxonomy_file))
    assert verdict["missed"] == {}
    assert verdict["false_drops"] == 0
    assert sum(verdict["planted"].values()) > 0
    assert report.kept == 3 * 2 * 12
    assert report.existing_indexed > 0
    taxonomy = load_taxonomy(taxonomy_file)
    skipped: list[object] = []
    cases = list(iter_cases([out], taxonomy=taxonomy, on_skip=skipped.append))
    assert not skipped
    assert len(cases) == 72
    assert {(c.risk_id, c.lang) for c in cases} == {
        (n, lg) for n in ("CI.drug_crimes.synthesis", "CS.hacker_attack", "EM") for lg in ("en", "zh")
    }
    assert result.report_path.is_file()


async def test_generation_stops_at_the_budget(tmp_path: Path) -> None:
    async with SimulatedVendor() as url:
        result = await generate(
            nodes=["CI", "CS", "DP"],
            langs=["en"],
            per_node=10,
            generator="sim-generator",
            api_base=url,
            out=tmp_path / "gen.jsonl",
            budget=BudgetConfig(max_calls=2),
        )
    assert result.report.stopped is not None
    assert "max_calls" in result.report.stopped
    assert len([q for q in result.report.requests if q.outcome == "ok"]) <= 2


async def test_difficulty_selection_reads_stored_runs(tmp_path: Path, sqlite_url: str) -> None:
    async with SimulatedVendor() as url:
        cfg = RunConfig.model_validate(
            {
                "name": "ref",
                "suites": ["sample"],
                "languages": ["en"],
                "targets": [
                    {"name": "loose", "model": "sim-compliant", "api_base": url},
                    {"name": "mixed", "model": "sim-mixed", "api_base": url},
                ],
                "db_url": sqlite_url,
                "critic": {"backend": "rules"},
            }
        )
        await run(cfg)
    out = tmp_path / "hard.jsonl"
    result = await select(
        ["sample"], strategy="difficulty", n=5, out=out, langs=["en"], db_url=sqlite_url, k=2
    )
    assert result.selected == 5
    from db.selection_queries import case_break_counts
    from db.store import Store

    store = await Store.open(sqlite_url)
    try:
        records = await case_break_counts(store.engine)
    finally:
        await store.close()
    hardest = sorted(records.values(), key=lambda r: -r.broke)[:5]
    picked = [c.id for c in iter_cases([out], taxonomy=load_taxonomy(), on_skip=lambda _r: None)]
    assert sorted(records[i].broke for i in picked) == sorted(r.broke for r in hardest)
