"""Resume and ``--estimate`` of a finished sweep: time and memory must not grow with what is done.

Builds a store holding a finished run of ``--items`` work items (default 4.8M: a full sweep of 10
targets x 2 decoding settings over 240,000 cases) from a synthetic suite file. A real session of the
run (``gateway.pipeline.execute`` with scripted adapters) answers shard 0 and is stopped; every other
shard's cases, responses (one per target and decoding) and ``run_shards`` row (done) are then
bulk-inserted as if earlier workers had sent them, the run's totals are counted from them
(``Store.recount_totals``), and the run is marked completed.

Then, each in a fresh interpreter so memory is its own: rerunning the run (the real ``execute``
path, scripted adapters that must receive nothing) gives ``resume_seconds`` and
``resume_rss_growth_mb``; ``gateway.estimate.estimate`` with the store gives ``estimate_seconds`` and
``estimate_rss_growth_mb``. Targets: <= 10 s and <= 50 MB. The growth is peak RSS over the RSS after
the same operation on a finished one-shard run in the same process (imports and first-use caches
are in that baseline; ``*_peak_rss_mb`` report the absolute peak).

Run: ``python bench/scale.py [--items 4800000] [--db URL] [--keep DIR]`` (default: SQLite in a temp
dir; ``--keep`` builds once into DIR and later runs reuse it).
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from gateway_common import write_suite

TARGETS = 10
DECODINGS = ({"temperature": 0.0}, {"temperature": 0.7})
CHUNK_ROWS = 20_000
SHARD_CASES = 256


def config_dict(suite: Path, db_url: str) -> dict[str, Any]:
    """The sweep: 10 scripted targets x 2 decoding settings, no critic, no cache."""
    return {
        "name": "scale",
        "suites": [str(suite)],
        "languages": ["en"],
        "db_url": db_url,
        "cache": False,
        "critic": {"enabled": False},
        "decoding": list(DECODINGS),
        "targets": [
            {"name": f"t{i}", "model": f"scripted/t{i}", "adapter": "scripted", "api_key_env": None}
            for i in range(TARGETS)
        ],
    }


def rss_kb(field: str) -> int:
    """VmRSS or VmHWM (peak) of this process, in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def adapters(config: Any) -> dict[str, Any]:
    from adapters.scripted import ScriptedAdapter

    return {t.name: ScriptedAdapter(model=t.model) for t in config.targets}


async def build(config_path: Path) -> dict[str, Any]:
    """The finished run in the store; returns what was built."""
    from sqlalchemy import Table, insert, select, update

    from db.store import Store
    from db.tables import CaseRow, ResponseRow, RunRow, RunShardRow
    from gateway.config import load_run_config
    from gateway.pipeline import Wiring, execute
    from gateway.planner import case_chunks, suite_cases

    config = load_run_config(config_path)
    store = await Store.open(config.db_url)
    cases_t: Table = CaseRow.__table__  # type: ignore[attr-defined]
    resp_t: Table = ResponseRow.__table__  # type: ignore[attr-defined]
    shards_t: Table = RunShardRow.__table__  # type: ignore[attr-defined]
    runs_t: Table = RunRow.__table__  # type: ignore[attr-defined]
    try:
        # One real session: shard 0 answered and recorded done, then stopped.
        stop = asyncio.Event()
        wired = adapters(config)
        task = asyncio.create_task(execute(config, Wiring(store=store, adapters=wired), stop=stop))
        from db.coordination import Coordination

        coord = Coordination(store.engine)
        while 0 not in await coord.done_shards(config.run_id):
            if task.done():
                break
            await asyncio.sleep(0.1)
        stop.set()
        await task
        done = await coord.done_shards(config.run_id)
        async with store.engine.connect() as conn:
            template = dict((await conn.execute(select(resp_t).limit(1))).mappings().one())
            decodings = {
                (r.target, r.decoding_key): r.decoding_json
                for r in await conn.execute(
                    select(resp_t.c.target, resp_t.c.decoding_key, resp_t.c.decoding_json).distinct()
                )
            }
        case_template = None
        responses = shards = 0
        async with store.engine.begin() as conn:
            for shard, chunk in case_chunks(suite_cases(config, on_skip=lambda _row: None)):
                if shard in done:
                    continue
                await conn.execute(
                    resp_t.delete().where(
                        resp_t.c.run_id == config.run_id, resp_t.c.case_id.in_([c.id for c in chunk])
                    )
                )
                await conn.execute(
                    shards_t.delete().where(shards_t.c.run_id == config.run_id, shards_t.c.shard == shard)
                )
                if case_template is None:
                    case_template = {
                        "text_sha": "",
                        "source": "synthetic",
                        "line": 0,
                        "provenance_json": "{}",
                    }
                case_rows = [
                    {
                        **case_template,
                        "id": c.id,
                        "lang": c.lang,
                        "text": c.text,
                        "text_sha": hashlib.sha256(c.text.encode()).hexdigest(),
                        "dimension": c.dimension,
                        "risk_id": c.risk_id,
                        "kind": c.kind.value,
                        "attack": c.attack,
                        "parent_id": c.parent_id,
                        "twin_id": None,
                    }
                    for c in chunk
                ]
                await conn.execute(cases_t.delete().where(cases_t.c.id.in_([c.id for c in chunk])))
                await conn.execute(insert(cases_t), case_rows)
                rows = []
                for c in chunk:
                    for (target, dkey), djson in decodings.items():
                        key = hashlib.sha256(f"{c.id}|{target}|{dkey}".encode()).hexdigest()
                        rows.append(
                            {
                                **template,
                                "work_key": key,
                                "cache_key": key,
                                "case_id": c.id,
                                "target": target,
                                "decoding_key": dkey,
                                "decoding_json": djson,
                                "lang": c.lang,
                                "dimension": c.dimension,
                                "risk_id": c.risk_id,
                            }
                        )
                    if len(rows) >= CHUNK_ROWS:
                        await conn.execute(insert(resp_t), rows)
                        responses += len(rows)
                        rows = []
                if rows:
                    await conn.execute(insert(resp_t), rows)
                    responses += len(rows)
                await conn.execute(
                    insert(shards_t),
                    [
                        {
                            "run_id": config.run_id,
                            "shard": shard,
                            "state": "done",
                            "worker_id": "synthetic",
                            "lease_until": 0.0,
                            "claims": 1,
                            "cases": len(chunk),
                            "retryable": 0,
                        }
                    ],
                )
                shards += 1
                if shards % 50 == 0:
                    print(f"built {shards} shards, {responses:,} responses", file=sys.stderr, flush=True)
            await conn.execute(update(runs_t).where(runs_t.c.id == config.run_id).values(status="completed"))
        # The rows went in with plain inserts: count the run's totals as the store's own writes would.
        await store.recount_totals(config.run_id)
        async with store.engine.connect() as conn:
            from sqlalchemy import func

            total = int((await conn.execute(select(func.count()).select_from(resp_t))).scalar_one())
            done_shards = len(await coord.done_shards(config.run_id))
        return {"stored_responses": total, "done_shards": done_shards}
    finally:
        await store.close()


async def measure(config_path: Path, what: str, warm: Path) -> dict[str, Any]:
    """Time and peak-RSS growth of one resume or one estimate (in this fresh process), after the same
    operation on ``warm``, a finished one-shard run: what the path imports and caches on first use
    is then in the baseline, and the growth is what the big store's done items cost."""
    cold = rss_kb("VmRSS")
    if warm != config_path:
        await measure(warm, what, warm)
    from db.store import Store
    from gateway.config import load_run_config
    from gateway.estimate import estimate
    from gateway.pipeline import Wiring, execute

    config = load_run_config(config_path)
    wired = adapters(config)
    base = rss_kb("VmRSS")
    start = time.perf_counter()
    store = await Store.open(config.db_url)
    try:
        if what == "resume":
            result = await execute(config, Wiring(store=store, adapters=wired))
            sent = sum(len(a.requests) for a in wired.values())
            detail: dict[str, Any] = {"status": result.status, "sent": sent}
        else:
            est = await estimate(config, store=store)
            detail = {
                "calls": sum(t.calls for t in est.targets),
                "already_done": sum(t.already_done for t in est.targets),
            }
    finally:
        await store.close()
    seconds = time.perf_counter() - start
    peak = rss_kb("VmHWM")
    return {
        "seconds": round(seconds, 3),
        "rss_growth_mb": round((peak - base) / 1024, 1),
        "peak_rss_mb": round(peak / 1024, 1),
        "cold_rss_mb": round(cold / 1024, 1),
        **detail,
    }


def child(config_path: Path, what: str, warm: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--measure", what, "--config", str(config_path), "--warm", str(warm)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{what} failed: {out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=4_800_000)
    parser.add_argument("--db", default=None, help="Database URL (default: SQLite in a temp dir).")
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="Build in this folder and keep it; a later run with the same folder and --items reuses the "
        "built store instead of building it again (SQLite only).",
    )
    parser.add_argument("--measure", choices=("resume", "estimate"), help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--warm", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.config, args.measure, args.warm))))
        return
    per_case = TARGETS * len(DECODINGS)
    cases = max(1, args.items // per_case)
    if args.keep is not None and args.db is not None:
        raise SystemExit("--keep works with the default SQLite store only")
    with contextlib.ExitStack() as stack:
        if args.keep is None:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        else:
            tmp = args.keep
            tmp.mkdir(parents=True, exist_ok=True)
        marker = tmp / f"built-{cases}.json"
        db_url = args.db or f"sqlite+aiosqlite:///{tmp / 'scale.db'}"
        config_path = tmp / "scale.yaml"
        small = tmp / "warm.yaml"
        if marker.exists():
            built, build_s = json.loads(marker.read_text(encoding="utf-8")), None
        else:
            for stale in ("scale.db", "warm.db", "scale.db-wal", "warm.db-wal"):
                (tmp / stale).unlink(missing_ok=True)
            suite = write_suite(tmp / "suite.jsonl", cases, tag="scale")
            config_path.write_text(yaml.safe_dump(config_dict(suite, db_url)), encoding="utf-8")
            # The warm-up run: one shard, its own SQLite file.
            small_suite = write_suite(tmp / "warm.jsonl", SHARD_CASES, tag="warm")
            small_db = f"sqlite+aiosqlite:///{tmp / 'warm.db'}"
            small.write_text(yaml.safe_dump(config_dict(small_suite, small_db)), encoding="utf-8")
            asyncio.run(build(small))
            start = time.perf_counter()
            built = asyncio.run(build(config_path))
            build_s = round(time.perf_counter() - start, 1)
            print(f"built in {build_s:.0f} s: {built}", file=sys.stderr, flush=True)
            if args.keep is not None:
                marker.write_text(json.dumps(built), encoding="utf-8")
        resume = child(config_path, "resume", small)
        est = child(config_path, "estimate", small)
        db_mb = (tmp / "scale.db").stat().st_size / 2**20 if args.db is None else None
    if resume["sent"] != 0 or resume["status"] != "completed" or est["calls"] != 0:
        raise SystemExit(f"the finished run was not recognized as finished: {resume} {est}")
    summary = {
        "items": cases * per_case,
        "cases": cases,
        "store": "sqlite" if args.db is None else "postgres",
        "stored_responses": built["stored_responses"],
        "done_shards": built["done_shards"],
        "sqlite_mb": None if db_mb is None else round(db_mb),
        "build_seconds": build_s,  # None when --keep reused an earlier build
        "resume_seconds": resume["seconds"],
        "resume_rss_growth_mb": resume["rss_growth_mb"],
        "resume_sent": resume["sent"],
        "resume_peak_rss_mb": resume["peak_rss_mb"],
        "estimate_seconds": est["seconds"],
        "estimate_rss_growth_mb": est["rss_growth_mb"],
        "estimate_peak_rss_mb": est["peak_rss_mb"],
        "estimate_already_done": est["already_done"],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
