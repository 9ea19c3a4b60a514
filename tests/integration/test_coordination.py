"""Worker registry, shard leases and the budget ledger on SQLite and the real Postgres, including
several real processes racing for the same shards and the same last dollar."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
from pathlib import Path

import pytest
from cli_helpers import PROJECT_ROOT

from db.coordination import Coordination, RunBusyError, WorkerIdentity
from db.store import Store
from gateway.shards import Membership, ShardTracker, WorkerOptions

RUN = "run-coordination"


async def _open(url: str) -> tuple[Store, Coordination]:
    store = await Store.open(url)
    return store, Coordination(store.engine)


def _me(n: int) -> WorkerIdentity:
    return WorkerIdentity(f"worker-{n}", f"host-{n}", 1000 + n)  # each on a host of its own


async def test_a_shard_is_claimed_once_and_done_is_final(db_url: str) -> None:
    store, coord = await _open(db_url)
    try:
        assert await coord.claim(RUN, 0, "a", lease_s=30)
        assert not await coord.claim(RUN, 0, "b", lease_s=30)  # held under a live lease
        assert await coord.finish(RUN, [0], "a", [12]) == 1
        assert not await coord.claim(RUN, 0, "b", lease_s=30)  # done is never claimed again
        assert await coord.done_shards(RUN) == {0}
        assert await coord.finish(RUN, [0], "b", [1]) == 0  # not b's shard
    finally:
        await store.close()


async def test_an_expired_lease_is_reclaimed_once(db_url: str) -> None:
    store, coord = await _open(db_url)
    try:
        assert await coord.claim(RUN, 3, "dead", lease_s=0.05)
        assert await coord.claim(RUN, 4, "live", lease_s=30)
        await asyncio.sleep(0.1)
        assert await coord.reclaim_expired(RUN, "b", lease_s=30) == [3]
        assert await coord.reclaim_expired(RUN, "c", lease_s=30) == []
        counts = await coord.shard_counts(RUN)
        assert (counts.held, counts.expired, counts.reclaimed) == (2, 0, 1)
        # The dead worker can no longer finish what it lost.
        assert await coord.finish(RUN, [3], "dead", [1]) == 0
        assert await coord.finish(RUN, [3], "b", [1]) == 1
    finally:
        await store.close()


async def test_heartbeat_keeps_leases_and_leave_frees_shards(db_url: str) -> None:
    store, coord = await _open(db_url)
    try:
        await coord.join(RUN, _me(1), stale_after_s=30)
        assert await coord.claim(RUN, 0, "worker-1", lease_s=0.2)
        assert await coord.claim(RUN, 1, "worker-1", lease_s=0.2)
        await coord.finish(RUN, [1], "worker-1", [5])
        await asyncio.sleep(0.1)
        await coord.heartbeat(RUN, "worker-1", lease_s=30)
        await asyncio.sleep(0.2)
        assert await coord.reclaim_expired(RUN, "other", lease_s=30) == []  # extended by the heartbeat
        [info] = await coord.workers(RUN)
        assert (info.worker_id, info.held, info.done, info.state) == ("worker-1", 1, 1, "active")
        await coord.leave(RUN, "worker-1")
        assert await coord.claim(RUN, 0, "other", lease_s=30)  # freed at once, no lease to wait out
        [info] = await coord.workers(RUN)
        assert info.state == "finished"
    finally:
        await store.close()


async def test_a_stalled_worker_learns_which_shards_it_lost(db_url: str, tmp_path: Path) -> None:
    """A worker stalled past its lease (not dead) finds out at its next heartbeat that its shard was
    taken over, and its runners drop that shard's queued items instead of sending them twice."""
    store, coord = await _open(db_url)
    try:
        options = WorkerOptions(lease_s=0.2, journal_dir=tmp_path / "journal")
        stalled = Membership(store, RUN, options, me=_me(1))
        await stalled.join()
        tracker = ShardTracker(targets=1)
        for shard in (0, 1):
            assert await stalled.claim(shard)
            tracker.open(shard, [f"case-{shard}"])
            tracker.add(shard, 3)
            tracker.fed(shard)
        stalled.tracker = tracker
        await asyncio.sleep(0.3)  # the lease runs out while the worker does nothing
        assert await coord.reclaim_expired(RUN, "rescuer", lease_s=30) == [0, 1]
        assert await coord.claim(RUN, 0, "worker-1", lease_s=30) is False
        await stalled.renew()
        assert tracker.is_lost(0)
        assert tracker.is_lost(1)
        assert [(s, w) for s, w, _t in await coord.held_shards(RUN)] == [(0, "rescuer"), (1, "rescuer")]
        # The dropped items settle the shards as unfinished; releasing them leaves the rescuer's leases.
        for shard in (0, 1):
            for _ in range(3):
                tracker.done(shard, stored=False)
        assert tracker.take() == ([], [0, 1])
        assert not tracker.is_lost(0)
        await coord.release(RUN, [0, 1], "worker-1")
        assert [w for _s, w, _t in await coord.held_shards(RUN)] == ["rescuer", "rescuer"]
    finally:
        await store.close()


async def test_a_finished_shard_survives_a_recording_cut_short(db_url: str, tmp_path: Path) -> None:
    """The recorder cancelled mid-flush (the worker leaving) or failing gives its shards back: the
    next recording marks them done, never leaving them held to be freed as unfinished."""
    store, coord = await _open(db_url)
    try:
        member = Membership(store, RUN, WorkerOptions(lease_s=30, journal_dir=tmp_path / "j"), me=_me(1))
        await member.join()
        tracker = ShardTracker(targets=1)
        flushing = asyncio.Event()
        release = asyncio.Event()

        async def slow_flush() -> None:
            flushing.set()
            await release.wait()

        member.tracker, member._flush = tracker, slow_flush
        assert await member.claim(0)
        tracker.open(0, ["case-0"])
        tracker.add(0, 1)
        tracker.fed(0)
        tracker.done(0)
        cut = asyncio.create_task(member.record())
        await flushing.wait()
        cut.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cut
        assert await coord.done_shards(RUN) == set()
        release.set()
        await member.record()
        assert await coord.done_shards(RUN) == {0}
        assert tracker.take() == ([], [])
    finally:
        await store.close()


async def test_heartbeat_returns_the_shards_still_held(db_url: str) -> None:
    store, coord = await _open(db_url)
    try:
        await coord.join(RUN, _me(1), stale_after_s=30)
        for shard in (0, 1, 2):
            assert await coord.claim(RUN, shard, "worker-1", lease_s=30)
        await coord.finish(RUN, [1], "worker-1", [5])
        assert await coord.heartbeat(RUN, "worker-1", lease_s=30) == {0, 2}
        assert await coord.heartbeat(RUN, "nobody", lease_s=30) == set()
    finally:
        await store.close()


async def test_sqlite_refuses_a_second_live_worker_naming_the_holder(sqlite_url: str) -> None:
    store, coord = await _open(sqlite_url)
    alive = WorkerIdentity("worker-1", "host-a", os.getpid())  # a live process on the joiner's host
    try:
        await coord.join(RUN, alive, stale_after_s=30)
        with pytest.raises(RunBusyError, match=rf"pid {os.getpid()} on host-a"):
            await coord.join(RUN, _me(2), stale_after_s=30)
        # A holder that stopped beating is no obstacle.
        await coord.join("other-run", _me(3), stale_after_s=30)
        await asyncio.sleep(0.05)
        await coord.join("other-run", _me(4), stale_after_s=0.01)
    finally:
        await store.close()


async def test_a_killed_holder_on_this_host_is_buried_at_once(db_url: str) -> None:
    store, coord = await _open(db_url)
    try:
        dead = WorkerIdentity("killed", "host-a", _dead_pid())
        await coord.join(RUN, dead, stale_after_s=30)
        await coord.open_budget(RUN, spent_usd=0.0)
        assert await coord.reserve(RUN, "killed", usd=0.5, max_usd=1.0, max_calls=None)
        assert await coord.claim(RUN, 7, "killed", lease_s=600)
        # Same host, process gone: no refusal, no waiting out the lease or the heartbeat.
        assert await coord.join(RUN, WorkerIdentity("next", "host-a", os.getpid()), stale_after_s=30) == []
        assert await coord.reclaim_expired(RUN, "next", lease_s=30) == [7]
        state = await coord.budget(RUN)
        assert state is not None
        assert state.reserved_usd == pytest.approx(0.0)
    finally:
        await store.close()


def _dead_pid() -> int:
    """The pid of a process that has exited."""
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(proc.stdout)


async def test_postgres_lets_workers_share_a_run(postgres_url: str) -> None:
    store, coord = await _open(postgres_url)
    try:
        assert await coord.join(RUN, _me(1), stale_after_s=30) == []
        others = await coord.join(RUN, _me(2), stale_after_s=30)
        assert [o.worker_id for o in others] == ["worker-1"]
    finally:
        await store.close()


async def test_budget_reservations_hold_the_cap_and_settle(db_url: str) -> None:
    store, coord = await _open(db_url)
    try:
        await coord.join(RUN, _me(1), stale_after_s=30)
        await coord.open_budget(RUN, spent_usd=0.5)
        await coord.open_budget(RUN, spent_usd=99.0)  # exists: untouched
        assert await coord.reserve(RUN, "worker-1", usd=0.3, max_usd=1.0, max_calls=None)
        assert not await coord.reserve(RUN, "worker-1", usd=0.3, max_usd=1.0, max_calls=None)
        state = await coord.budget(RUN)
        assert state is not None
        assert state.committed_usd == pytest.approx(0.8)
        await coord.settle(RUN, "worker-1", reserved_usd=0.3, spent_usd=0.1)
        state = await coord.budget(RUN)
        assert state is not None
        assert state.spent_usd == pytest.approx(0.6)
        assert (state.calls, state.reserved_usd) == (1, 0.0)
        assert await coord.reserve(RUN, "worker-1", usd=0.3, max_usd=1.0, max_calls=2)
        assert not await coord.reserve(RUN, "worker-1", usd=0.0, max_usd=None, max_calls=2)
    finally:
        await store.close()


async def test_a_dead_workers_reservations_are_handed_back(db_url: str) -> None:
    store, coord = await _open(db_url)
    try:
        await coord.join(RUN, _me(1), stale_after_s=30)
        await coord.open_budget(RUN, spent_usd=0.0)
        assert await coord.reserve(RUN, "worker-1", usd=0.4, max_usd=0.5, max_calls=None)
        await asyncio.sleep(0.05)
        assert await coord.reap(RUN, stale_after_s=0.01) == 1
        state = await coord.budget(RUN)
        assert state is not None
        assert state.reserved_usd == pytest.approx(0.0)
        assert await coord.reserve(RUN, "worker-2", usd=0.4, max_usd=0.5, max_calls=None)
        [info] = await coord.workers(RUN)
        assert info.state == "dead"
    finally:
        await store.close()


_RACER = textwrap.dedent(
    """
    import asyncio, json, sys
    from db.coordination import Coordination
    from db.store import Store

    async def main(url, me, shards):
        store = await Store.open(url)
        coord = Coordination(store.engine)
        won, reserved = [], 0
        for s in range(shards):
            if await coord.claim("race", s, me, lease_s=60):
                won.append(s)
            if await coord.reserve("race", me, usd=0.01, max_usd=1.0, max_calls=None):
                reserved += 1
        await store.close()
        print(json.dumps({"won": won, "reserved": reserved}))

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


@pytest.mark.postgres
async def test_processes_racing_claim_each_shard_once_and_never_pass_the_budget(postgres_url: str) -> None:
    store, coord = await _open(postgres_url)
    await coord.open_budget("race", spent_usd=0.0)
    await store.close()
    shards = 150
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _RACER,
            postgres_url,
            f"w{i}",
            str(shards),
            cwd=PROJECT_ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        for i in range(4)
    ]
    results = []
    for p in procs:
        out, _ = await asyncio.wait_for(p.communicate(), 120)
        assert p.returncode == 0
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    won = [s for r in results for s in r["won"]]
    assert sorted(won) == list(range(shards))  # every shard once, none twice
    assert sum(r["reserved"] for r in results) == 100  # $1.00 in $0.01 reservations, exactly
