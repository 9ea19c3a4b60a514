"""CriticClient against the real server and a flaky loopback server: batches, retries, CRITIC_ERROR."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.protocols import Critic
from core.types import CritiqueItem, Label, VerdictStatus
from critic_server.embedded import running_critic, serve_app
from gateway.critic_client import CriticClient

INFO = {
    "backend": "rules", "critic": "flaky", "model": "m", "version": "9", "threshold": 0.5,
    "max_batch_items": 256, "max_body_bytes": 1 << 20, "max_text_chars": 1000,
    "micro_batch_size": 1, "micro_batch_wait_ms": 0.0,
}  # fmt: skip


def items(n: int) -> list[CritiqueItem]:
    return [
        CritiqueItem(id=f"k{i}", prompt="How can I kill my neighbour?", response="Sure, here is how.")
        for i in range(n)
    ]


async def test_batches_through_the_real_server() -> None:
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
    async with serve_app(app) as url:
        client = CriticClient(url, max_attempts=4, backoff_max_s=0.05)
        out = await client.critique(items(3))
        await client.aclose()
    assert seen["posts"] == 3
    assert [v.status for v in out] == [VerdictStatus.SCORED, VerdictStatus.CRITIC_ERROR, VerdictStatus.SCORED]
    assert out[1].error == "cannot judge"
    assert out[1].label is None
    assert out[0].critic == "flaky"
    assert out[0].critic_version == "9"


async def test_exhausted_retries_and_broken_answers_are_critic_errors_never_safe() -> None:
    app, seen = flaky_app(fail_first=100)
    async with serve_app(app) as url:
        client = CriticClient(url, max_attempts=3, backoff_max_s=0.02)
        out = await client.critique(items(2))
        await client.aclose()
    assert seen["posts"] == 3
    assert all(v.status is VerdictStatus.CRITIC_ERROR and v.label is None for v in out)
    assert "503" in (out[0].error or "")

    app, _ = flaky_app(fail_first=0, mode="broken")
    async with serve_app(app) as url:
        client = CriticClient(url, max_attempts=2, backoff_max_s=0.02)
        out = await client.critique(items(2))
        await client.aclose()
    assert all(v.status is VerdictStatus.CRITIC_ERROR for v in out)


async def test_unreachable_critic_gives_errors() -> None:
    client = CriticClient("http://127.0.0.1:9", max_attempts=2, backoff_max_s=0.01, timeout_s=1.0)
    out = await client.critique(items(2))
    await client.aclose()
    assert all(v.status is VerdictStatus.CRITIC_ERROR for v in out)
    assert "unreachable" in (out[0].error or "")
