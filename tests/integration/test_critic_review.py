"""Two critics on one run: agreement in the report, export for human labelling, labels read back by
``seval critic validate --format review``, stored, and shown in the report."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import yaml
from cli_helpers import seval

from db.critic_records import latest_validations
from db.store import Store
from gateway.config import RunConfig
from gateway.reports.writers import write_report
from gateway.sdk import run
from simulator import SimulatedVendor

FAST_RETRY = {"max_attempts": 12, "initial_wait_s": 0.01, "max_wait_s": 0.05, "deadline_s": 30}


def config_data(db_url: str, url: str, critic: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "review-test",
        "suites": ["sample"],
        "languages": ["en", "zh"],
        "limit": 30,
        "targets": [
            {"name": "mixed", "model": "sim-mixed", "api_base": url},
            {"name": "compliant", "model": "sim-compliant", "api_base": url},
        ],
        "retry": FAST_RETRY,
        "db_url": db_url,
        "critic": critic,
    }


async def test_agreement_export_label_validate_and_report(sqlite_url: str, tmp_path: Path) -> None:
    async with SimulatedVendor() as url:
        judge = {"backend": "judge", "target": {"name": "simjudge", "model": "sim-judge", "api_base": url}}
        first = await run(RunConfig.model_validate(config_data(sqlite_url, url, {"backend": "rules"})))
        second = await run(RunConfig.model_validate(config_data(sqlite_url, url, judge)))
        assert first.run_id == second.run_id  # the critic is no part of the run id: same responses
        run_yaml = tmp_path / "judge.yaml"
        run_yaml.write_text(yaml.safe_dump(config_data(sqlite_url, url, judge)), encoding="utf-8")

        # The report: headline critic = the latest (the judge), agreement with the rules.
        html_path = await write_report(sqlite_url, first.run_id, tmp_path / "report")
        summary = json.loads((tmp_path / "report" / "summary.json").read_text(encoding="utf-8"))
        review = summary["critic_review"]
        assert review["headline"].startswith("judge:simjudge@")
        (agreement,) = review["agreements"]
        assert agreement["other"].startswith("rules@")
        assert agreement["n"] > 0
        by_dim = agreement["by_dimension"]
        disagreements = sum(d["a_unsafe_b_safe"] + d["a_safe_b_unsafe"] for d in by_dim)
        assert round(agreement["observed_agreement"] * agreement["n"]) == agreement["n"] - disagreements
        assert "Cohen&#x27;s kappa" in html_path.read_text(encoding="utf-8") or "Cohen's kappa" in (
            html_path.read_text(encoding="utf-8")
        )
        assert review["judge_usage"][0]["items"] == agreement["n"]

        # Export every item both scored, without and with texts.
        out = tmp_path / "review.jsonl"
        done = await asyncio.to_thread(
            seval, "critique", "export", first.run_id, "--out", str(out), "--db", sqlite_url
        )
        assert done.returncode == 0, done.stderr
        lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
        assert len(lines) == agreement["n"]
        assert all("prompt" not in x and x["label"] is None for x in lines)
        only = tmp_path / "disagree.jsonl"
        done = await asyncio.to_thread(
            seval,
            "critique",
            "export",
            first.run_id,
            "--disagreements",
            "--include-text",
            "--out",
            str(only),
            "--db",
            sqlite_url,
        )
        assert done.returncode == 0, done.stderr
        rows = [json.loads(x) for x in only.read_text(encoding="utf-8").splitlines()]
        assert len(rows) == disagreements
        assert all(len(set(x["critics"].values())) == 2 and x["prompt"] and x["response"] for x in rows)

        # A person labels: here the judge's label stands in for theirs, except one item left open.
        for x in lines:
            x["label"] = next(v for k, v in x["critics"].items() if k.startswith("judge:"))
        lines[0]["label"] = None
        out.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
        args = (
            "critic",
            "validate",
            "--format",
            "review",
            "--labels",
            str(out),
            "--db",
            sqlite_url,
            "--json",
        )
        rules_done = await asyncio.to_thread(seval, *args)
        assert rules_done.returncode == 0, rules_done.stderr
        rules_result = json.loads(rules_done.stdout)
        assert rules_result["n"] == len(lines) - 1
        judge_done = await asyncio.to_thread(seval, *(*args, "--config", str(run_yaml)))
        assert judge_done.returncode == 0, judge_done.stderr
        judge_result = json.loads(judge_done.stdout)
    assert judge_result["critic"] == "judge:simjudge"
    assert judge_result["balanced_accuracy"] == 1.0  # deterministic judge against its own labels
    assert set(judge_result["by_language"]) == {"en", "zh"}
    async with await Store.open(sqlite_url) as store:
        stored = await latest_validations(store.engine, "judge:simjudge")
    assert {v.lang for v in stored} == {"all", "en", "zh"}
    assert next(v for v in stored if v.lang == "all").n == len(lines) - 1
    html_path = await write_report(sqlite_url, first.run_id, tmp_path / "report2")
    page = html_path.read_text(encoding="utf-8")
    assert 'id="critic-validation"' in page
    assert "Latest validation of judge:simjudge@" in page
