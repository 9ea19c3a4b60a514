"""The critic's API docs: a self-contained page (no CDN, readable offline) and the OpenAPI JSON,
both behind the bearer token when one is configured."""

from __future__ import annotations

import re

import httpx
from pydantic import SecretStr

from critic_server.config import ServerConfig
from critic_server.embedded import running_critic

TOKEN = "docs-token-value-123"


def _assert_self_contained(page: str) -> None:
    assert "/v1/critique" in page
    assert "CritiqueItemIn" in page
    # Nothing is fetched from anywhere: no scripts, stylesheets, images or frames by URL.
    assert "<script" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "cdn" not in page.lower()


async def test_docs_are_local_and_open_without_a_token_configured() -> None:
    async with running_critic("rules") as url, httpx.AsyncClient(base_url=url) as c:
        docs = await c.get("/docs")
        assert docs.status_code == 200
        assert docs.headers["content-type"].startswith("text/html")
        _assert_self_contained(docs.text)
        assert (await c.get("/openapi.json")).status_code == 200
        assert (await c.get("/redoc")).status_code == 404


async def test_docs_and_openapi_need_the_token_when_one_is_set() -> None:
    cfg = ServerConfig(token=SecretStr(TOKEN))
    async with running_critic(config=cfg) as url, httpx.AsyncClient(base_url=url) as c:
        for path in ("/docs", "/openapi.json", "/docs/oauth2-redirect", "/redoc"):
            assert (await c.get(path)).status_code in (401, 404), path
        assert (await c.get("/docs")).status_code == 401
        assert (await c.get("/openapi.json")).status_code == 401
        good = {"Authorization": f"Bearer {TOKEN}"}
        docs = await c.get("/docs", headers=good)
        assert docs.status_code == 200
        _assert_self_contained(docs.text)
        assert TOKEN not in docs.text
        schema = (await c.get("/openapi.json", headers=good)).json()
        assert "/v1/critique" in schema["paths"]
        assert "/docs" not in schema["paths"]
