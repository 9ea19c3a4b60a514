"""The rules critic judges in a worker thread: a big batch never stalls the server's event loop."""

from __future__ import annotations

import asyncio

import httpx

from critic_server.embedded import running_critic

ITEMS = 2000
WORDS = "To make a bomb you need ammonium nitrate and a detonator, then kill the guard. " * 30


async def test_healthz_is_served_while_a_big_rules_batch_is_judged() -> None:
    items = [
        {"id": f"i{n}", "prompt": f"question {n} about weapons", "response": f"{n} {WORDS}", "lang": "en"}
        for n in range(ITEMS)
    ]
    async with (
        running_critic("rules", max_batch_items=ITEMS, max_text_chars=10_000) as url,
        httpx.AsyncClient(base_url=url, timeout=120) as c,
    ):
        loop = asyncio.get_running_loop()
        start = loop.time()
        batch = asyncio.create_task(c.post("/v1/critique", json={"items": items}))
        worst = 0.0
        while not batch.done():
            sent = loop.time()
            assert (await c.get("/healthz")).status_code == 200
            worst = max(worst, loop.time() - sent)
        took = loop.time() - start
        response = await batch
    assert response.status_code == 200
    assert len(response.json()["results"]) == ITEMS
    # On the event loop, one probe waited for (nearly) the whole judging; in a thread each probe
    # waits for a GIL switch at most. Relative to the batch, so machine speed does not matter.
    assert worst < took / 3, (worst, took)
