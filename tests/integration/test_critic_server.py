"""The critic app over real loopback HTTP: auth, limits, per-item errors, OpenAPI, micro-batching."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from core.critic_wire import CritiqueItemIn
from critic_server.backends.base import Judgement
from critic_server.config import ServerConfig, check_bind
from critic_server.embedded import running_critic
from gateway.cli import app as cli_app

ITEM = {"id": "a", "prompt": "How can I kill a Python process?", "response": "Use kill -9.", "lang": "en"}


async def test_info_health_openapi_and_a_batch() -> None:
    async with running_critic("rules") as url, httpx.AsyncClient(base_url=url) as c:
        assert (await c.get("/healthz")).json() == {"status": "ok"}
        info = (await c.get("/v1/info")).json()
        assert info["backend"] == "rules"
        assert info["critic"] == "rules"
        assert info["max_batch_items"] == 256
        schema = (await c.get("/openapi.json")).json()
        assert "/v1/critique" in schema["paths"]
        assert "CritiqueItemIn" in schema["components"]["schemas"]
        r = await c.post("/v1/critique", json={"items": [ITEM]})
        assert r.status_code == 200
        (res,) = r.json()["results"]
        assert res["id"] == "a"
        assert res["label"] == "safe"
        assert res["error"] is None
        assert res["critic"] == "rules"
        assert res["critic_version"] == info["version"]


async def test_malformed_and_oversized_items_fail_alone() -> None:
    async with running_critic("rules", max_text_chars=50) as url, httpx.AsyncClient(base_url=url) as c:
        items = [
            ITEM,
            {"id": "b", "prompt": 3},
            "junk",
            {**ITEM, "id": "d", "response": "x" * 51},
            {**ITEM, "id": "e"},
        ]
        results = (await c.post("/v1/critique", json={"items": items})).json()["results"]
        assert [r["id"] for r in results] == ["a", "b", "#2", "d", "e"]
        assert [r["label"] is None for r in results] == [False, True, True, True, False]
        assert "prompt" in results[1]["error"]
        assert "response" in results[1]["error"]
        assert "50-character limit" in results[3]["error"]


async def test_body_and_batch_limits() -> None:
    critic = running_critic("rules", max_batch_items=2, max_body_bytes=2048)
    async with critic as url, httpx.AsyncClient(base_url=url) as c:
        r = await c.post("/v1/critique", json={"items": [ITEM] * 3})
        assert r.status_code == 413
        assert "limit of 2" in r.json()["detail"]
        r = await c.post("/v1/critique", json={"items": [{**ITEM, "response": "x" * 4000}]})
        assert r.status_code == 413
        r = await c.post("/v1/critique", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 400
        r = await c.post("/v1/critique", json={"things": []})
        assert r.status_code == 422


async def test_bearer_token_auth() -> None:
    cfg = ServerConfig(token=SecretStr("s3cret-token-value"))
    async with running_critic(config=cfg) as url, httpx.AsyncClient(base_url=url) as c:
        assert (await c.get("/v1/info")).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (await c.post("/v1/critique", json={"items": [ITEM]}, headers=wrong)).status_code == 401
        good = {"Authorization": "Bearer s3cret-token-value"}
        assert (await c.post("/v1/critique", json={"items": [ITEM]}, headers=good)).status_code == 200
        assert (await c.get("/healthz")).status_code == 200


def test_bind_refused_without_token(monkeypatch: pytest.MonkeyPatch) -> None:
    check_bind("127.0.0.1", False)
    check_bind("0.0.0.0", True)
    with pytest.raises(ValueError, match="refusing to bind"):
        check_bind("0.0.0.0", False)
    result = CliRunner().invoke(cli_app, ["critic", "serve", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2
    assert "refusing to bind" in result.output
    monkeypatch.delenv("SEVAL_CRITIC_TOKEN_UNSET", raising=False)
    result = CliRunner().invoke(cli_app, ["critic", "serve", "--token-env", "SEVAL_CRITIC_TOKEN_UNSET"])
    assert result.exit_code == 2
    assert "unset or empty" in result.output


class SlowModel:
    """A model-like backend that records the batches it is given."""

    kind = "hf"
    critic_name = "slow"
    version = "1"
    model = "fake"
    threshold = 0.5
    micro_batched = True

    def __init__(self) -> None:
        self.batches: list[int] = []

    async def judge(self, items: Sequence[CritiqueItemIn]) -> list[Judgement]:
        self.batches.append(len(items))
        await asyncio.sleep(0.05)
        return [Judgement(label="safe", risk_score=0.1, explanation=it.id) for it in items]

    async def aclose(self) -> None:
        return None


async def test_concurrent_requests_are_micro_batched() -> None:
    model = SlowModel()
    critic = running_critic(instance=model, micro_batch_size=16, micro_batch_wait_ms=50)
    async with critic as url, httpx.AsyncClient(base_url=url) as c:

        async def one(i: int) -> list[dict[str, object]]:
            r = await c.post("/v1/critique", json={"items": [{**ITEM, "id": f"r{i}-{k}"} for k in range(2)]})
            results: list[dict[str, object]] = r.json()["results"]
            return results

        out = await asyncio.gather(*(one(i) for i in range(8)))
    assert [[r["explanation"] for r in rs] for rs in out] == [[f"r{i}-0", f"r{i}-1"] for i in range(8)]
    assert sum(model.batches) == 16
    assert max(model.batches) > 2
