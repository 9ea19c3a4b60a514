"""CriticClient against the real critic app and a flaky app, through httpx's ASGI transport (no
sockets): batches, retries, CRITIC_ERROR. One test keeps a real uvicorn server on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.protocols import Critic
from core.types import CritiqueItem, Label, VerdictStatus
from critic_server.app import create_app
from critic_server.config import ServerConfig
from critic_server.embedded import running_critic
from gateway.critic_client import CriticClient

INFO = {
    "backend": "rules", "critic": "flaky", "model": "m", "version": "9", "threshold": 0.5,
    "max_batch_items": 256, "max_body_bytes": 1 << 20, "max_text_chars": 1000,
    "micro_batch_size": 1, "micro_batch_wait_ms": 0.0,
}  # fmt: skip


@asynccontextmanager
async def asgi_client(app: Starlette, **opts: Any) -> AsyncIterator[CriticClient]:
    """A CriticClient talking to ``app`` in this process; the app's lifespan runs around it (the ASGI
    transport sends no lifespan events, and the critic app loads its backend there)."""
    async with app.router.lifespan_context(app):
        client = CriticClient("http://critic.test", transport=httpx.ASGITransport(app=app), **opts)
        try:
            yield client
        finally:
            await client.aclose()


def items(n: int) -> list[CritiqueItem]:
    return [
        CritiqueItem(id=f"k{i}", prompt="How can I kill my neighbour?", response="Sure, here is how.")
        for i in range(n)
    ]


async def test_batches_through_the_real_app() -> None:
    async with asgi_client(create_app(ServerConfig()), batch_size=3) as client:
        await client.start()
        assert isinstance(client, Critic)
        out = await client.critique(items(7))
        assert client.name == "rules"
        assert client.version.endswith("+t0.5")  # rules version: data+code hash
    assert [v.id for v in out] == [f"k{i}" for i in range(7)]
    assert all(v.status is VerdictStatus.SCORED and v.label is Label.UNSAFE for v in out)


async def test_item_errors_from_the_real_app_are_critic_errors() -> None:
    app = create_app(ServerConfig(max_text_chars=50))
    long = CritiqueItem(id="long", prompt="hi", response="x" * 51)
    bad_lang = CritiqueItem(id="lang", prompt="hi", response="hello", lang="e")
    async with asgi_client(app) as client:
        out = await client.critique([long, *items(1), bad_lang])
    assert [v.status for v in out] == [
        VerdictStatus.CRITIC_ERROR, VerdictStatus.SCORED, VerdictStatus.CRITIC_ERROR
    ]  # fmt: skip
    assert "50-character limit" in (out[0].error or "")
    assert "invalid item" in (out[2].error or "")
    assert out[0].label is None
    assert out[2].label is None


async def test_batches_through_a_real_uvicorn_server() -> None:
    async with running_critic("rules") as url:
        client = CriticClient(url, batch_size=3)
        try:
            await client.start()
            assert isinstance(client, Critic)
            out = await client.critique(items(7))
            assert client.name == "rules"
            assert client.version.endswith("+t0.5")  # rules version: data+code hash
        finally:
            await client.aclose()
    assert [v.id for v in out] == [f"k{i}" for i in range(7)]
    assert all(v.status is VerdictStatus.SCORED and v.label is Label.UNSAFE for v in out)


def flaky_app(fail_first: int, mode: str = "ok") -> tuple[Starlette, dict[str, int]]:
    seen = {"posts": 0}

    async def info(_: Request) -> JSONResponse:
        return JSONResponse(INFO)

    async def critique(request: Request) -> JSONResponse:
        seen["posts"] += 1
        if seen["posts"] <= fail_first:
            return JSONResponse({"detail": "overloaded"}, status_code=503)
        body: dict[str, Any] = await request.json()
        if mode == "broken":
            return JSONResponse({"results": [{"id": "x"}]})
        results = [
            {
                "id": it["id"],
                "label": "safe",
                "risk_score": 0.2,
                "risk_tags": [],
                "explanation": "",
                "critic": "flaky",
                "critic_version": "9",
                "error": "cannot judge" if it["id"] == "k1" else None,
            }
            for it in body["items"]
        ]
        if results and mode == "errored":
            results[0] = {**results[0], "label": None, "risk_score": None, "error": "backend said no"}
        return JSONResponse({"results": results})

    return Starlette(
        routes=[Route("/v1/info", info), Route("/v1/critique", critique, methods=["POST"])]
    ), seen


async def test_retries_transient_failures() -> None:
    app, seen = flaky_app(fail_first=2)
    async with asgi_client(app, max_attempts=4, backoff_max_s=0.05) as client:
        out = await client.critique(items(3))
    assert seen["posts"] == 3
    assert [v.status for v in out] == [VerdictStatus.SCORED, VerdictStatus.CRITIC_ERROR, VerdictStatus.SCORED]
    assert out[1].error == "cannot judge"
    assert out[1].label is None
    assert out[0].critic == "flaky"
    assert out[0].critic_version == "9"


async def test_exhausted_retries_and_broken_answers_are_critic_errors_never_safe() -> None:
    app, seen = flaky_app(fail_first=100)
    async with asgi_client(app, max_attempts=3, backoff_max_s=0.02) as client:
        out = await client.critique(items(2))
    assert seen["posts"] == 3
    assert all(v.status is VerdictStatus.CRITIC_ERROR and v.label is None for v in out)
    assert "503" in (out[0].error or "")

    app, _ = flaky_app(fail_first=0, mode="broken")
    async with asgi_client(app, max_attempts=2, backoff_max_s=0.02) as client:
        out = await client.critique(items(2))
    assert all(v.status is VerdictStatus.CRITIC_ERROR for v in out)


async def test_unreachable_critic_gives_errors() -> None:
    client = CriticClient("http://127.0.0.1:9", max_attempts=2, backoff_max_s=0.01, timeout_s=1.0)
    out = await client.critique(items(2))
    await client.aclose()
    assert all(v.status is VerdictStatus.CRITIC_ERROR for v in out)
    assert "unreachable" in (out[0].error or "")
