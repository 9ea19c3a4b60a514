"""Mt through the generation seam over loopback HTTP: the JSON ``response_format`` reaches the wire
through the adapter registry (both adapters), and the run's budget stops Mt at its price."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.errors import GenerationError, InputError
from core.redaction import Redactor
from critic_server.embedded import serve_app
from gateway.config import BudgetConfig, Prices, RunConfig, TargetConfig
from gateway.generation.seam import open_generator
from gateway.generation.templates import RESPONSE_SCHEMA

ANSWER = '{"prompts": ["one", "two"]}'
USAGE = {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}


def recording_vendor(seen: list[dict[str, Any]]) -> Starlette:
    """An OpenAI-compatible endpoint that records every request body and answers ANSWER."""

    async def chat(request: Request) -> JSONResponse:
        seen.append(await request.json())
        return JSONResponse(
            {
                "id": "c1",
                "object": "chat.completion",
                "created": 0,
                "model": "gen-m",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}
                ],
                "usage": USAGE,
            }
        )

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


@pytest.mark.parametrize("adapter", ["openai", "litellm"])
async def test_response_format_on_the_wire_and_the_budget_stops_mt(adapter: str) -> None:
    seen: list[dict[str, Any]] = []
    async with serve_app(recording_vendor(seen)) as url:
        target = TargetConfig(
            name="mt",
            model="gen-m",
            api_base=f"{url}/v1",
            adapter=adapter,
            prices=Prices(input_per_1m=1.0, output_per_1m=2.0),
        )
        # Each answer costs 1000 * $1/1M + 500 * $2/1M = $0.002: two are sent, the third is refused.
        run = RunConfig(name="g", suites=["sample"], targets=[target], budget=BudgetConfig(max_usd=0.003))
        async with open_generator(
            target, run, redactor=Redactor(), schema=RESPONSE_SCHEMA, response_format="json_schema"
        ) as mt:
            assert await mt.text.generate("first", lang="en", seed=1) == ANSWER
            assert await mt.text.generate("second", lang="en", seed=2) == ANSWER
            with pytest.raises(GenerationError, match="max_usd"):
                await mt.text.generate("third", lang="en", seed=3)
    assert len(seen) == 2
    assert mt.budget.calls == 2
    assert mt.budget.spent_usd == pytest.approx(0.004)
    fmt = seen[0]["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "risk_prompts"
    assert fmt["json_schema"]["schema"] == RESPONSE_SCHEMA
    assert seen[0]["seed"] == 1
    assert seen[0]["temperature"] == 0.9


async def test_no_response_format_is_sent_when_turned_off() -> None:
    seen: list[dict[str, Any]] = []
    async with serve_app(recording_vendor(seen)) as url:
        target = TargetConfig(name="mt", model="gen-m", api_base=f"{url}/v1", adapter="openai")
        run = RunConfig(name="g", suites=["sample"], targets=[target])
        async with open_generator(
            target, run, redactor=Redactor(), schema=RESPONSE_SCHEMA, response_format="none"
        ) as mt:
            await mt.text.generate("first", lang="en", seed=1)
    assert "response_format" not in seen[0]


async def test_a_usd_cap_without_a_price_refuses_to_start() -> None:
    target = TargetConfig(name="mt", model="unpriced-m", api_base="http://127.0.0.1:9/v1")
    run = RunConfig(name="g", suites=["sample"], targets=[target], budget=BudgetConfig(max_usd=1.0))
    with pytest.raises(InputError, match="no price is known"):
        async with open_generator(target, run, redactor=Redactor(), schema=RESPONSE_SCHEMA):
            pass
