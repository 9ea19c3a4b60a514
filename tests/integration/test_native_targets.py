"""Native lean adapters wired through the SDK: a run over the simulated vendor's own wires."""

from __future__ import annotations

from db.report_queries import RESULT_COLUMNS
from db.store import Store
from gateway.config import RunConfig
from simulator import SimulatedVendor


async def test_run_with_native_adapters_on_every_wire(db_url: str) -> None:
    from gateway.sdk import run

    vendor = SimulatedVendor(record_prompts=True)
    async with vendor:
        root = vendor.root_url
        targets = [
            {"name": "claude", "model": "anthropic/sim-cautious", "api_base": root, "stream": False},
            {"name": "gem", "model": "gemini/sim-mixed", "api_base": root + "/v1beta"},
            {
                "name": "az",
                "model": "azure/sim-deploy",
                "api_base": root,
                "api_version": "2024-10-21",
                "headers": {"x-sim-fault": "azure_output_filter"},
                "extra_body": {"user": "audit"},
            },
        ]
        cfg = RunConfig.model_validate(
            {
                "name": "native",
                "suites": ["sample"],
                "languages": ["en"],
                "limit": 6,
                "targets": targets,
                "db_url": db_url,
                "critic": {"backend": "rules"},
            }
        )
        assert [t.adapter for t in cfg.targets] == ["anthropic", "gemini", "azure"]
        result = await run(cfg)
    assert not vendor.handler_errors
    assert result.status == "completed"
    assert {t.name: t.adapter for t in result.targets} == {
        "claude": "anthropic",
        "gem": "gemini",
        "az": "azure",
    }
    assert result.target("az").outcomes == {"BLOCKED_BY_VENDOR": 6}  # the header reached the vendor
    assert sum(result.target("claude").outcomes.values()) == 6
    wires = {(r.wire, r.stream) for r in vendor.stats.received}
    # the per-target stream setting wins over the run's (streaming by default)
    assert wires == {("anthropic", False), ("gemini", True), ("openai", True)}
    # the vendor's block categories are stored and reach the results CSV next to the vendor code
    async with await Store.open(db_url) as store, store.reading() as q:
        rows = [
            dict(zip(RESULT_COLUMNS, row, strict=True))
            async for part in q.result_rows(result.run_id, None, include_text=False)
            for row in part
        ]
    az = [(r["vendor_code"], r["block_category"]) for r in rows if r["target"] == "az"]
    assert az == [("content_filter", "violence")] * 6
    assert {r["block_category"] for r in rows if r["outcome"] != "BLOCKED_BY_VENDOR"} == {None}
