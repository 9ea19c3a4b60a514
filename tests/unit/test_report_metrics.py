"""Report aggregation in SQL on a hand-built store with known answers (SQLite and Postgres)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from report_data import RUN_ID, RUN_NAME, filled_store

from gateway.reports.api import results, results_sync
from gateway.reports.metrics import ReportError
from gateway.reports.model import Counts, RunResults, TargetSummary
from gateway.reports.stats import Rate


async def _results(url: str, critic: str | None = "rules") -> RunResults:
    store = await filled_store(url)
    await store.close()
    return await results(RUN_ID, db_url=url, critic=critic)


def _pair(k: int, n: int, rate: Rate | None) -> None:
    assert rate is not None
    assert (rate.k, rate.n) == (k, n)


async def test_target_summaries_with_known_answers(db_url: str) -> None:
    res = await _results(db_url)
    assert res.critic is not None
    assert res.critic.label == "rules@1"
    assert [t.target for t in res.targets] == ["alpha", "beta"]
    alpha = res.target("alpha")
    # Blocked counts as safe; the failed base prompt is left out of the denominator.
    _pair(2, 3, alpha.safety_score)
    assert alpha.safety_score.value == pytest.approx(2 / 3)
    assert alpha.safety_score.lo is not None
    assert alpha.safety_score.lo < 2 / 3 < (alpha.safety_score.hi or 0)
    # Critic error, incomplete and unscored attack responses are excluded.
    _pair(2, 5, alpha.attack_success)
    _pair(2, 3, alpha.adaptive_success)
    assert (alpha.adaptive.prompts, alpha.adaptive.judged, alpha.adaptive.broken) == (4, 3, 2)
    beta = res.target("beta")
    _pair(5, 6, beta.safety_score)
    _pair(1, 8, beta.attack_success)
    _pair(1, 4, beta.adaptive_success)


async def test_exclusions_blocked_and_coverage(db_url: str) -> None:
    alpha = (await _results(db_url)).target("alpha")
    base, attack = alpha.base, alpha.attack
    assert (base.items, base.blocked, base.failed, base.judged_safe, base.judged_unsafe) == (4, 1, 1, 1, 1)
    assert (base.safe, base.unsafe, base.evaluated, base.excluded) == (2, 1, 3, 1)
    assert (attack.items, attack.blocked, attack.critic_error, attack.incomplete, attack.unscored) == (
        8,
        1,
        1,
        1,
        1,
    )
    assert attack.failed == 0
    assert (attack.safe, attack.unsafe, attack.evaluated) == (3, 2, 5)
    total = alpha.all
    assert total.blocked == 2
    assert alpha.info.planned == 20
    assert alpha.coverage == pytest.approx(8 / 20)
    # Spend: answered items cost 0.001 and 10 + 20 tokens; the failed one nothing.
    assert total.cost_usd == pytest.approx(0.011)
    assert (total.prompt_tokens, total.completion_tokens) == (110, 220)
    assert (alpha.info.model, alpha.info.adapter) == ("sim/alpha", "litellm")


async def test_default_critic_is_latest_and_choice_by_name(db_url: str) -> None:
    res = await _results(db_url, critic=None)
    assert res.critic is not None
    assert res.critic.label == "llm@2"
    assert [c.label for c in res.critics] == ["llm@2", "rules@1"]
    alpha = res.target("alpha")
    # Under llm@2 every completed alpha response is unsafe; blocked ones still count as safe.
    _pair(1, 3, alpha.safety_score)
    _pair(6, 7, alpha.attack_success)
    # llm@2 never judged beta: nothing evaluated, no rate claimed.
    beta = res.target("beta")
    assert beta.safety_score.value is None
    assert beta.base.unscored == 6
    by_version = await results(RUN_ID, db_url=db_url, critic="rules@1")
    _pair(2, 3, by_version.target("alpha").safety_score)
    with pytest.raises(ReportError, match=r"available: llm@2, rules@1"):
        await results(RUN_ID, db_url=db_url, critic="rules@9")


async def test_breakdowns(db_url: str) -> None:
    res = await _results(db_url)
    by_lang = {(g.value("target"), g.value("lang")): g for g in res.breakdown("target", "lang")}
    _pair(1, 2, by_lang["alpha", "en"].safety_score)
    _pair(1, 1, by_lang["alpha", "zh"].safety_score)
    assert by_lang["alpha", "zh"].base.failed == 1
    # Adaptive by language: en B1 broken, B2 not; zh B4 broken, B3 unjudged.
    assert by_lang["alpha", "en"].adaptive_success is not None
    _pair(1, 2, by_lang["alpha", "en"].adaptive_success)
    _pair(1, 1, by_lang["alpha", "zh"].adaptive_success)
    by_dim = {(g.value("target"), g.value("dimension")): g for g in res.breakdown("target", "dimension")}
    _pair(2, 2, by_dim["alpha", "CI"].safety_score)
    _pair(0, 1, by_dim["alpha", "CS"].safety_score)
    by_dec = {(g.value("target"), g.value("decoding")): g for g in res.breakdown("target", "decoding")}
    _pair(4, 4, by_dec["beta", "default"].safety_score)
    _pair(1, 2, by_dec["beta", "t=1"].safety_score)
    assert by_dec["beta", "t=1"].attack.items == 0
    by_attack = {(g.value("target"), g.value("attack")): g for g in res.breakdown("target", "attack")}
    _pair(1, 2, by_attack["alpha", "code_injection"].attack_success)
    _pair(1, 3, by_attack["alpha", "deepinception"].attack_success)
    # Base prompts roll up under attack None, and adaptive success is undefined across attacks.
    assert by_attack["alpha", None].base.items == 4
    assert by_attack["alpha", None].adaptive_success is None
    assert res.values("lang") == ["en", "zh"]
    assert res.values("attack") == ["code_injection", "deepinception", None]
    by_risk = {g.value("risk_id"): g for g in res.breakdown("risk_id")}
    assert set(by_risk) == {"CI.x", "CS"}
    with pytest.raises(ValueError, match="unknown axis"):
        res.breakdown("colour")  # type: ignore[arg-type]


async def test_cells_add_up_to_summaries(db_url: str) -> None:
    res = await _results(db_url)
    for summary in res.targets:
        cells = [c.counts for c in res.cells if c.target == summary.target]
        total = Counts()
        for c in cells:
            total = total + c
        expected = summary.all
        assert total.cost_usd == pytest.approx(expected.cost_usd)
        assert replace(total, cost_usd=0.0) == replace(expected, cost_usd=0.0)


async def test_unknown_run_and_database(db_url: str, tmp_path: object) -> None:
    await _results(db_url)
    with pytest.raises(ReportError, match=r"no run 'nope'; recent runs: r-report"):
        await results("nope", db_url=db_url)
    by_name = await results(RUN_NAME, db_url=db_url)
    assert by_name.run.id == RUN_ID
    assert by_name.run.name == RUN_NAME


async def test_missing_sqlite_file_is_a_clear_error(tmp_path: object) -> None:
    with pytest.raises(ReportError, match="no database at"):
        await results("x", db_url=f"sqlite+aiosqlite:///{tmp_path}/missing.db")


def test_results_sync_and_dataframe(sqlite_url: str) -> None:
    import asyncio

    async def fill() -> None:
        store = await filled_store(sqlite_url)
        await store.close()

    asyncio.run(fill())
    res = results_sync(RUN_ID, db_url=sqlite_url, critic="rules")
    assert isinstance(res.targets[0], TargetSummary)
    with pytest.raises(AttributeError):
        res.targets[0].base.items = 3  # type: ignore[misc]
    df = res.to_dataframe("target")
    assert list(df["target"]) == ["alpha", "beta"]
    assert df.loc[df["target"] == "alpha", "safety_score"].iloc[0] == pytest.approx(2 / 3)
    assert df.loc[df["target"] == "beta", "attack_success_n"].iloc[0] == 8
    fine = res.to_dataframe()
    assert {"target", "decoding", "lang", "dimension", "risk_id", "attack", "safety_score_lo"} <= set(
        fine.columns
    )
    assert fine["items"].sum() == 26


def test_sdk_names_and_pandas_hint(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import sys

    import gateway

    assert gateway.results is results
    assert gateway.results_sync is results_sync

    async def fill() -> None:
        store = await filled_store(sqlite_url)
        await store.close()

    asyncio.run(fill())
    res = gateway.results_sync(RUN_ID, db_url=sqlite_url)
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"needs pandas: pip install pandas"):
        res.to_dataframe()
