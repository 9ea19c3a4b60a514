"""The store against SQLite in a temp dir and the real Postgres (the ``db_url`` fixture)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, text
from store_data import RUN, assert_totals_match, make_case, make_response, make_verdict, started, target_row

from core.types import (
    CaseKind,
    Label,
    Outcome,
    ResponseRecord,
    SkippedRow,
    VerdictStatus,
)
from db.store import Store, StoreError


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(db_url, max_text_chars=50)
    try:
        yield opened
    finally:
        await opened.close()


async def test_dialect_and_schema_follow_url(store: Store, db_url: str) -> None:
    if db_url.startswith("sqlite"):
        assert store.dialect == "sqlite"
        return
    assert store.dialect == "postgresql"
    async with store.engine.connect() as conn:
        schema = await conn.scalar(text("SELECT current_schema()"))
        tables = await conn.scalar(
            text("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()")
        )
    assert f"search_path={schema}" in db_url
    assert tables == 15  # 14 tables (migrations 0001-0005) and alembic_version


async def test_start_and_resume_run_updates_planned_counts(store: Store) -> None:
    assert await store.start_run(run_id=RUN, name="n", spec_json="{}", targets=[target_row("a", 5)])
    resumed = await store.start_run(
        run_id=RUN, name="n", spec_json="{}", targets=[target_row("a", 7), target_row("b", 2)]
    )
    assert resumed is False
    targets = await store.run_targets(RUN)
    assert [(t.run_id, t.target, t.planned, t.model) for t in targets] == [
        (RUN, "a", 7, "openai/a"),
        (RUN, "b", 2, "openai/b"),
    ]
    run = await store.get_run(RUN)
    assert run is not None
    assert (run.name, run.spec_hash, run.status) == ("n", RUN, "created")
    assert run.created_at.tzinfo is not None
    assert run.updated_at >= run.created_at


async def test_statuses(store: Store) -> None:
    await started(store)
    await store.set_run_status(RUN, "running", "2 targets")
    await store.set_target_status(RUN, "sim-a", "paused", "quota exhausted")
    run = await store.get_run(RUN)
    assert run is not None
    assert (run.status, run.status_detail) == ("running", "2 targets")
    (target,) = await store.run_targets(RUN)
    assert (target.status, target.status_detail) == ("paused", "quota exhausted")
    with pytest.raises(LookupError, match="no run"):
        await store.set_run_status("missing", "running")
    with pytest.raises(LookupError, match="no target"):
        await store.set_target_status(RUN, "nope", "paused")


async def test_get_run_by_id_prefix_and_name(store: Store) -> None:
    await started(store, "abc111", name="sweep")
    await started(store, "abc222", name="sweep")
    await started(store, "def333", name="other")
    found = await store.get_run("abc1")
    assert found is not None
    assert found.id == "abc111"
    latest = await store.get_run("sweep")
    assert latest is not None
    assert latest.id == "abc222"
    by_name = await store.get_run("other")
    assert by_name is not None
    assert by_name.id == "def333"
    with pytest.raises(StoreError, match="several run ids"):
        await store.get_run("abc")
    assert await store.get_run("zzz") is None
    assert await store.get_run("") is None
    assert await store.get_run("%") is None  # LIKE wildcards are escaped
    assert [r.id for r in await store.list_runs()] == ["def333", "abc222", "abc111"]


async def test_cases_round_trip(store: Store) -> None:
    base = make_case("b1", source="base_risk_set_en_small.jsonl", line=7, twin_id="zh-1")
    attacked = make_case(
        "h1",
        kind=CaseKind.ATTACK,
        attack="dan",
        parent_id="b1",
        provenance=(("attack", "dan"), ("version", "1"), ("seed", "3")),
        text="attacked \x00text",
    )
    await store.save_cases([base, attacked])
    await store.save_cases([dataclasses.replace(base, text="changed")])  # insert-or-ignore by id
    got = await store.get_cases(["b1", "h1", "unknown", "b1"])
    assert got["b1"] == base
    assert got["h1"] == dataclasses.replace(attacked, text="attacked text")
    assert got["h1"].provenance_dict() == {"attack": "dan", "version": "1", "seed": "3"}
    assert await store.cases_by_parent("b1", "dan") == [got["h1"]]
    assert await store.cases_by_parent("b1", "other") == []


async def test_save_responses_twice_keeps_one_row_per_key(store: Store) -> None:
    await started(store)
    batch = [make_response(f"k{i}") for i in range(5)]
    assert await store.save_responses(batch) == 5
    again = [*batch, make_response("k5"), make_response("k5")]
    assert await store.save_responses(again) == 1
    async with store.engine.connect() as conn:
        count = await conn.scalar(text("SELECT COUNT(*) FROM responses"))
    assert count == 6
    assert await store.done_keys(RUN) == {f"k{i}" for i in range(6)}


async def test_any_output_is_storable_and_long_text_truncated(store: Store) -> None:
    await started(store)
    long = "x" * 80
    await store.save_responses(
        [
            make_response(
                "nul", text="a\x00b", error="bad\x00", finish_reason="st\x00op", vendor_code="v" * 300
            ),
            make_response("long", text=long),
            make_response("flagged", text="short", truncated=True),
            make_response("surrogates", text="ok \ud83d\ude00 \ud800"),
        ]
    )
    cached = await store.find_cached(["cache-nul", "cache-long", "cache-flagged"])
    assert cached["cache-nul"].text == "ab"
    assert cached["cache-nul"].error == "bad"
    assert cached["cache-nul"].finish_reason == "stop"
    assert cached["cache-nul"].vendor_code == "v" * 200
    assert cached["cache-nul"].truncated is False
    assert cached["cache-long"].text == long[:50]
    assert cached["cache-long"].truncated is True
    assert cached["cache-flagged"].truncated is True
    surrogates = await store.find_cached(["cache-surrogates"])
    assert surrogates["cache-surrogates"].text == "ok \U0001f600 \ufffd"


async def test_find_cached_only_completed_or_blocked_from_any_run(store: Store) -> None:
    await started(store)
    await started(store, "other-run")
    stored = [
        make_response("a", cache_key="ck1"),
        make_response("b", cache_key="ck2", outcome=Outcome.BLOCKED_BY_VENDOR, text=""),
        make_response("c", cache_key="ck3", outcome=Outcome.FAILED_TRANSIENT),
        make_response("d", cache_key="ck4", outcome=Outcome.INCOMPLETE),
    ]
    await store.save_responses(stored)
    await store.save_responses([make_response("e", run_id="other-run", cache_key="ck1", text="later")])
    found = await store.find_cached(["ck1", "ck2", "ck3", "ck4", "ck5"])
    assert set(found) == {"ck1", "ck2"}
    assert found["ck1"] == stored[0]
    assert found["ck2"].outcome is Outcome.BLOCKED_BY_VENDOR


async def test_done_keys_by_target(store: Store) -> None:
    await started(store)
    await store.save_responses(
        [make_response("a1"), make_response("b1", target="sim-b"), make_response("b2", target="sim-b")]
    )
    assert await store.done_keys(RUN, "sim-b") == {"b1", "b2"}
    assert await store.done_keys(RUN, "sim-c") == set()
    assert await store.done_keys("nothing") == set()


async def stored_rows(store: Store) -> dict[str, tuple[object, ...]]:
    query = text(
        "SELECT work_key, outcome, text, attempts, prompt_tokens, completion_tokens, cost_usd FROM responses"
    )
    async with store.engine.connect() as conn:
        return {row[0]: tuple(row[1:]) for row in (await conn.execute(query)).all()}


async def verdict_keys(store: Store) -> set[str]:
    async with store.engine.connect() as conn:
        return set((await conn.scalars(text("SELECT work_key FROM verdicts"))).all())


async def test_save_replaces_only_transient_and_incomplete_rows(store: Store) -> None:
    await started(store)
    first = [
        make_response(
            "t",
            outcome=Outcome.FAILED_TRANSIENT,
            text="",
            attempts=3,
            cost_usd=0.0,
            prompt_tokens=0,
            completion_tokens=0,
        ),
        make_response(
            "i",
            outcome=Outcome.INCOMPLETE,
            text="part",
            attempts=2,
            cost_usd=0.1,
            prompt_tokens=5,
            completion_tokens=7,
        ),
        make_response("c", text="kept"),
        make_response("b", outcome=Outcome.BLOCKED_BY_VENDOR, text=""),
        make_response("p", outcome=Outcome.FAILED_PERMANENT, text=""),
    ]
    assert await store.save_responses(first) == 5
    assert await store.done_keys(RUN) == {"t", "i", "c", "b", "p"}
    assert await store.done_keys(RUN, "sim-a", include_retryable=False) == {"c", "b", "p"}
    # A verdict on the partial answer (no engine path writes one; a stale one must not outlive it).
    await store.save_verdicts(RUN, [make_verdict("i"), make_verdict("c")])

    rerun = [make_response(key, text="new") for key in ("t", "i", "c", "b", "p")]
    assert await store.save_responses(rerun) == 2  # replaced rows count as written
    rows = await stored_rows(store)
    assert rows["t"] == ("COMPLETED", "new", 4, 10, 20, pytest.approx(0.25))
    # attempts, tokens and cost add up over every try; text and outcome are the latest answer's
    assert rows["i"] == ("COMPLETED", "new", 3, 15, 27, pytest.approx(0.35))
    assert rows["c"] == ("COMPLETED", "kept", 1, 10, 20, pytest.approx(0.25))
    assert rows["b"][:2] == ("BLOCKED_BY_VENDOR", "")
    assert rows["p"][:2] == ("FAILED_PERMANENT", "")
    assert await verdict_keys(store) == {"c"}
    assert await store.done_keys(RUN, include_retryable=False) == {"t", "i", "c", "b", "p"}
    assert await store.spent_usd(RUN) == pytest.approx(0.25 * 4 + 0.35)

    # Saved twice more: still one row per key, nothing written, the final answers untouched.
    assert await store.save_responses(rerun) == 0
    assert await store.save_responses([make_response("t", outcome=Outcome.FAILED_TRANSIENT)]) == 0
    assert await stored_rows(store) == rows
    async with store.engine.connect() as conn:
        assert await conn.scalar(text("SELECT COUNT(*) FROM responses")) == 5
    await assert_totals_match(store)


async def test_retryable_row_replaced_by_another_failure_and_same_key_within_one_call(store: Store) -> None:
    await started(store)
    failed = make_response("k", outcome=Outcome.FAILED_TRANSIENT, text="", cost_usd=0.0)
    assert await store.save_responses([failed]) == 1
    cut = make_response("k", outcome=Outcome.INCOMPLETE, text="pa", cost_usd=0.5)
    assert await store.save_responses([cut]) == 1
    assert (await stored_rows(store))["k"][:4] == ("INCOMPLETE", "pa", 2, 20)
    assert await store.find_cached(["cache-k"]) == {}  # a failure is never a cache answer
    # One call with several rows for a key applies them in order: a failure, then the answer.
    batch = [
        make_response("k", outcome=Outcome.FAILED_TRANSIENT, text="", prompt_tokens=0, completion_tokens=0),
        make_response("k", text="done"),
        make_response("k", text="ignored"),
        make_response("n", outcome=Outcome.FAILED_TRANSIENT, text=""),
        make_response("n", outcome=Outcome.FAILED_TRANSIENT, text=""),
        make_response("f", text="final"),
        make_response("f", outcome=Outcome.FAILED_TRANSIENT, text=""),
    ]
    assert await store.save_responses(batch) == 3
    rows = await stored_rows(store)
    assert rows["k"] == ("COMPLETED", "done", 4, 30, 60, pytest.approx(1.0))
    assert rows["n"][:4] == ("FAILED_TRANSIENT", "", 2, 20)
    assert rows["f"][:2] == ("COMPLETED", "final")
    assert (await store.find_cached(["cache-k"]))["cache-k"].text == "done"
    await assert_totals_match(store)


async def test_spent_usd(store: Store) -> None:
    await started(store)
    assert await store.spent_usd(RUN) == 0.0
    await store.save_responses([make_response("a"), make_response("b", cost_usd=1.5)])
    assert await store.spent_usd(RUN) == pytest.approx(1.75)


async def test_verdict_upsert_per_critic_and_version(store: Store) -> None:
    await started(store)
    await store.save_responses([make_response("k1")])
    await store.save_verdicts(RUN, [make_verdict("k1"), make_verdict("k1", critic="judge", version="2")])
    await store.save_verdicts(RUN, [make_verdict("k1", label=Label.UNSAFE, risk_score=0.9)])
    # A failed rescore keeps the earlier score.
    await store.save_verdicts(
        RUN,
        [make_verdict("k1", critic="judge", version="2", status=VerdictStatus.CRITIC_ERROR, label=None)],
    )
    async with store.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT critic, critic_version, status, label, risk_score, risk_tags_json "
                    "FROM verdicts ORDER BY critic"
                )
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("judge", "2", "SCORED", "safe", 0.1, '["CI"]'),
        ("rules", "1", "SCORED", "unsafe", 0.9, '["CI"]'),
    ]
    await assert_totals_match(store)


async def test_totals_follow_every_kind_of_write(store: Store) -> None:
    await started(store)
    await started(store, "other-run")
    assert await store.run_counts(RUN) == await store.run_counts("nothing")

    def failed(key: str, target: str = "sim-a") -> ResponseRecord:
        return make_response(
            key, target=target, outcome=Outcome.FAILED_TRANSIENT, text="", prompt_tokens=3, cost_usd=0.01
        )

    await store.save_responses(
        [
            make_response("a1"),
            failed("a2"),
            make_response("a3", outcome=Outcome.INCOMPLETE, cost_usd=0.125),
            make_response("b1", target="sim-b", outcome=Outcome.BLOCKED_BY_VENDOR, cost_usd=0.0),
            failed("b2", "sim-b"),
            make_response("o1", run_id="other-run", cost_usd=7.0),
        ]
    )
    await assert_totals_match(store)
    await assert_totals_match(store, "other-run")
    await store.save_verdicts(
        RUN,
        [
            make_verdict("a1"),
            make_verdict("a2", status=VerdictStatus.CRITIC_ERROR, label=None),
            make_verdict("a3"),
            make_verdict("a3", critic="judge"),
            make_verdict("zz"),  # a verdict without a stored response counts too
        ],
    )
    await assert_totals_match(store)
    # Replacements (one into another retryable outcome), ignored duplicates, same-key folding, two
    # runs in one call; the replaced rows' verdicts go.
    await store.save_responses(
        [
            make_response("a1", text="ignored"),
            make_response("a2", outcome=Outcome.INCOMPLETE, cost_usd=0.5),
            make_response("a3", target="sim-a", cost_usd=0.25),
            failed("b2", "sim-b"),
            make_response("b2", target="sim-b", outcome=Outcome.COMPLETED),
            failed("b3", "sim-b"),
            failed("b3", "sim-b"),
            make_response("o1", run_id="other-run", outcome=Outcome.FAILED_TRANSIENT),
            make_response("o2", run_id="other-run", outcome=Outcome.FAILED_PERMANENT),
        ]
    )
    assert await verdict_keys(store) == {"a1", "zz"}
    await assert_totals_match(store)
    await assert_totals_match(store, "other-run")
    counts = await store.run_counts(RUN)
    assert counts.outcomes == {
        "sim-a": {"COMPLETED": 2, "INCOMPLETE": 1},
        "sim-b": {"BLOCKED_BY_VENDOR": 1, "COMPLETED": 1, "FAILED_TRANSIENT": 1},
    }
    assert await store.done_counts(RUN, include_retryable=False) == {"sim-a": 2, "sim-b": 2}
    # Verdict upserts: an error replaced by a score, a score by a score, an error never over a score.
    await store.save_verdicts(RUN, [make_verdict("a2", status=VerdictStatus.CRITIC_ERROR, label=None)])
    await store.save_verdicts(
        RUN,
        [
            make_verdict("a1", status=VerdictStatus.CRITIC_ERROR, label=None),
            make_verdict("zz", label=Label.UNSAFE),
            make_verdict("b2", status=VerdictStatus.CRITIC_ERROR, label=None),
            make_verdict("b2"),
        ],
    )
    await store.save_verdicts(RUN, [make_verdict("a2")])
    await assert_totals_match(store)
    assert (await store.run_counts(RUN)).verdicts == {("rules", "1", "SCORED"): 4}


async def test_totals_stay_exact_under_concurrent_writers(db_url: str) -> None:
    # Two engines (on Postgres: real concurrent transactions) write overlapping keys: new rows,
    # failures and their replacements, duplicates, verdicts, and verdicts deleted with a replaced
    # answer, in random order.
    stores = [await Store.open(db_url) for _ in range(2)]
    try:
        await started(stores[0])
        rng = random.Random(7)
        outcomes = [
            Outcome.COMPLETED,
            Outcome.FAILED_TRANSIENT,
            Outcome.INCOMPLETE,
            Outcome.BLOCKED_BY_VENDOR,
        ]

        async def writer(store: Store, seed: int) -> None:
            mine = random.Random(seed)
            for _ in range(12):
                keys = mine.sample(range(60), 15)
                batch = [
                    make_response(
                        f"k{k}",
                        target=f"t{k % 3}",
                        outcome=mine.choice(outcomes),
                        prompt_tokens=mine.randrange(50),
                        cost_usd=mine.randrange(100) / 64,
                    )
                    for k in keys
                ]
                await store.save_responses(batch)
                statuses = [VerdictStatus.SCORED, VerdictStatus.CRITIC_ERROR]
                await store.save_verdicts(
                    RUN,
                    [
                        make_verdict(f"k{k}", status=mine.choice(statuses), critic=mine.choice(["a", "b"]))
                        for k in mine.sample(range(60), 10)
                    ],
                )

        await asyncio.gather(*(writer(s, rng.randrange(1 << 30)) for s in stores for _ in range(3)))
        await assert_totals_match(stores[0])
    finally:
        for s in stores:
            await s.close()


async def test_recount_totals_after_rows_loaded_with_plain_sql(store: Store) -> None:
    from db.records import response_to_row, verdict_to_row
    from db.tables import ResponseRow, VerdictRow, utcnow

    await started(store)
    await store.save_responses([make_response("a")])
    now = utcnow()
    rows = [response_to_row(make_response(f"k{i}", target=f"t{i % 2}"), 100, now) for i in range(5)]
    async with store.engine.begin() as conn:
        await conn.execute(ResponseRow.__table__.insert(), rows)  # type: ignore[attr-defined]
        await conn.execute(
            VerdictRow.__table__.insert(),  # type: ignore[attr-defined]
            [verdict_to_row(RUN, make_verdict(f"k{i}"), 100, now) for i in range(3)],
        )
    assert await store.done_counts(RUN) == {"sim-a": 1}  # the plain inserts bypassed the totals
    await store.recount_totals(RUN)
    await assert_totals_match(store)
    assert await store.done_counts(RUN) == {"sim-a": 1, "t0": 3, "t1": 2}


async def test_pending_critique(store: Store) -> None:
    await started(store)
    await store.save_cases([make_case("c1"), make_case("c2", lang="zh", text="提示")])
    await store.save_responses(
        [make_response(f"k{i}", case_id="c1") for i in range(5)]
        + [
            make_response("z", case_id="c2", lang="zh"),
            make_response("failed", outcome=Outcome.FAILED_PERMANENT),
            make_response("blocked", outcome=Outcome.BLOCKED_BY_VENDOR),
            make_response("orphan", case_id="not-stored"),
        ]
    )
    await store.save_verdicts(
        RUN,
        [
            make_verdict("k0"),
            make_verdict("k1", status=VerdictStatus.CRITIC_ERROR, label=None, risk_score=None),
            make_verdict("k2", critic="other"),
        ],
    )

    async def keys(**kwargs: object) -> list[list[str]]:
        return [
            [p.work_key for p in batch]
            async for batch in store.pending_critique(RUN, "rules", "1", batch_size=2, **kwargs)  # type: ignore[arg-type]
        ]

    assert await keys() == [["k1", "k2"], ["k3", "k4"], ["z"]]
    assert await keys(rescore=True) == [["k0", "k1"], ["k2", "k3"], ["k4", "z"]]
    batches = [b async for b in store.pending_critique(RUN, "rules", "1", batch_size=10)]
    (zh,) = [p for p in batches[0] if p.work_key == "z"]
    assert (zh.prompt, zh.response, zh.lang, zh.dimension, zh.run_id) == ("提示", "answer z", "zh", "CI", RUN)


async def test_pending_critique_survives_verdicts_saved_between_batches(store: Store) -> None:
    await started(store)
    await store.save_cases([make_case("c1")])
    await store.save_responses([make_response(f"k{i:02d}") for i in range(7)])
    seen: list[str] = []
    async for batch in store.pending_critique(RUN, "rules", "1", batch_size=3):
        seen.extend(p.work_key for p in batch)
        await store.save_verdicts(RUN, [make_verdict(p.work_key) for p in batch])
    assert seen == [f"k{i:02d}" for i in range(7)]
    assert [b async for b in store.pending_critique(RUN, "rules", "1")] == []


async def test_skipped_rows(store: Store) -> None:
    await started(store)
    rows = [SkippedRow("a.jsonl", 3, "invalid JSON"), SkippedRow("a.jsonl", 9, "empty\x00 prompt")]
    await store.save_skipped(RUN, rows)
    await store.save_skipped(RUN, rows[:1])
    async with store.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT file, line, reason FROM skipped_rows ORDER BY line"))).all()
    assert [tuple(r) for r in stored] == [("a.jsonl", 3, "invalid JSON"), ("a.jsonl", 9, "empty prompt")]


async def test_response_round_trip_is_exact(store: Store) -> None:
    await started(store)
    rec = make_response(
        "rt",
        attack="dan",
        kind="attack",
        parent_case_id="c0",
        decoding_key="t=0.7",
        decoding_json=json.dumps({"temperature": 0.7}),
        sample_index=2,
        ttft_ms=None,
        status_code=None,
        error="RateLimitError: slow down",
        attempts=4,
        cached_from="prev-run",
    )
    await store.save_responses([rec])
    assert (await store.find_cached([rec.cache_key]))[rec.cache_key] == rec


async def test_block_category_is_stored_and_read_back(store: Store) -> None:
    await started(store)
    rec = make_response(
        "blk", outcome=Outcome.BLOCKED_BY_VENDOR, text="", block_category="HARM_CATEGORY_HATE_SPEECH"
    )
    await store.save_responses([rec])
    assert (await store.find_cached([rec.cache_key]))[
        rec.cache_key
    ].block_category == "HARM_CATEGORY_HATE_SPEECH"


async def test_open_without_create_requires_current_schema(db_url: str) -> None:
    with pytest.raises(StoreError, match="seval db upgrade"):
        await Store.open(db_url, create=False)
    async with await Store.open(db_url):
        pass
    async with await Store.open(db_url, create=False) as reopened, reopened.engine.connect() as conn:
        assert (await conn.execute(select(text("1")))).scalar() == 1
