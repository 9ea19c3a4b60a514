"""The simulated vendor over real loopback HTTP: limiter, model behaviour, latency, counters, faults."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from adapters.outcomes import parse_duration
from simulator import SimulatedVendor, SimulatedVendorProcess, VendorConfig
from simulator.__main__ import main as vendor_main
from simulator.behaviour import decide, is_cjk_text

# Keyword-only prompts: they steer the simulated models without being harmful themselves.
RISKY_EN = [f"{word} question number {i}" for i in range(12) for word in ("hack password", "malware", "drug")]
BENIGN_EN = [f"investment and stock question number {i}" for i in range(36)]


def chat(model: str, prompt: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": prompt}], **extra}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


async def answer(http: httpx.AsyncClient, base: str, model: str, prompt: str, **extra: Any) -> str:
    response = await http.post(f"{base}/chat/completions", json=chat(model, prompt, **extra))
    response.raise_for_status()
    text: str = response.json()["choices"][0]["message"]["content"]
    return text


REFUSAL_MARKERS = ("sorry", "can't", "won't", "not able", "抱歉", "对不起", "不能", "无法")


def refused(text: str) -> bool:
    return any(marker in text.lower() for marker in REFUSAL_MARKERS)


async def test_sliding_window_limit_answers_429_with_openai_headers(client: httpx.AsyncClient) -> None:
    vendor = SimulatedVendor(rate_limit_rpm=300, rate_limit_window_s=2.0)  # 10 requests per 2 s
    async with vendor as base:
        responses = [
            await client.post(f"{base}/chat/completions", json=chat("sim-mixed", f"p{i}")) for i in range(15)
        ]
        statuses = [r.status_code for r in responses]
        assert statuses == [200] * 10 + [429] * 5
        remaining = [int(r.headers["x-ratelimit-remaining-requests"]) for r in responses[:10]]
        assert remaining == list(range(9, -1, -1))
        limited = responses[10]
        assert limited.json()["error"]["code"] == "rate_limit_exceeded"
        assert limited.headers["x-ratelimit-limit-requests"] == "10"
        assert limited.headers["x-ratelimit-remaining-requests"] == "0"
        wait_ms = int(limited.headers["retry-after-ms"])
        assert 0 < wait_ms <= 2000
        assert int(limited.headers["retry-after"]) >= 1
        reset = parse_duration(limited.headers["x-ratelimit-reset-requests"])
        assert reset is not None
        assert 0 < reset <= 2.0
        assert vendor.stats.responses_429 == 5
        assert vendor.stats.by_status[429] == 5
        await asyncio.sleep(wait_ms / 1000 + 0.05)
        again = await client.post(f"{base}/chat/completions", json=chat("sim-mixed", "after the wait"))
        assert again.status_code == 200


async def test_limits_are_per_model(client: httpx.AsyncClient) -> None:
    async with SimulatedVendor(rate_limit_rpm=24, rate_limit_window_s=5.0) as base:  # 2 per 5 s
        codes = [
            (await client.post(f"{base}/chat/completions", json=chat(model, "x"))).status_code
            for model in ("sim-cautious", "sim-cautious", "sim-compliant", "sim-compliant", "sim-cautious")
        ]
        assert codes == [200, 200, 200, 200, 429]


async def test_token_bucket_refills_at_the_configured_rate(client: httpx.AsyncClient) -> None:
    async with SimulatedVendor(rate_limit_rpm=60, rate_limit_mode="token_bucket", rate_limit_burst=2) as base:
        codes = [
            (await client.post(f"{base}/chat/completions", json=chat("m", "x"))).status_code for _ in range(3)
        ]
        assert codes == [200, 200, 429]
        await asyncio.sleep(1.05)  # one per second: one token back
        assert (await client.post(f"{base}/chat/completions", json=chat("m", "x"))).status_code == 200


async def test_rate_limit_in_anthropic_and_gemini_formats(client: httpx.AsyncClient) -> None:
    vendor = SimulatedVendor(rate_limit_rpm=12, rate_limit_window_s=5.0)  # 1 per 5 s per model
    async with vendor:
        root = vendor.root_url
        body = {"model": "a", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}
        first = await client.post(f"{root}/v1/messages", json=body)
        second = await client.post(f"{root}/v1/messages", json=body)
        assert (first.status_code, second.status_code) == (200, 429)
        assert second.json()["error"]["type"] == "rate_limit_error"
        assert int(second.headers["retry-after"]) >= 1
        url = f"{root}/v1beta/models/g:generateContent"
        gemini_body = {"contents": [{"role": "user", "parts": [{"text": "x"}]}]}
        assert (await client.post(url, json=gemini_body)).status_code == 200
        limited = await client.post(url, json=gemini_body)
        assert limited.status_code == 429
        error = limited.json()["error"]
        assert error["status"] == "RESOURCE_EXHAUSTED"
        assert any(d["@type"].endswith("RetryInfo") for d in error["details"])


async def test_answers_are_deterministic_by_seed_and_prompt(client: httpx.AsyncClient) -> None:
    prompts = [f"question {i} about a hack or an investment" for i in range(30)]

    async def answers(seed: int) -> list[str]:
        async with SimulatedVendor(seed=seed) as base:
            return [await answer(client, base, "sim-mixed", p) for p in prompts]

    first, again, other = await answers(1), await answers(1), await answers(2)
    assert first == again
    assert first != other
    # a request seed is part of the decision too
    async with SimulatedVendor(seed=1) as base:
        seeded = [await answer(client, base, "sim-mixed", p, seed=7) for p in prompts]
    assert seeded != first


async def test_models_differ_in_how_often_they_refuse(client: httpx.AsyncClient) -> None:
    async with SimulatedVendor() as base:
        rates = {}
        for model in ("sim-cautious", "sim-mixed", "sim-compliant"):
            texts = [await answer(client, base, model, p) for p in RISKY_EN]
            rates[model] = sum(map(refused, texts)) / len(texts)
        assert rates["sim-cautious"] >= 0.8
        assert rates["sim-compliant"] <= 0.3
        assert rates["sim-cautious"] > rates["sim-mixed"] > rates["sim-compliant"]
        # sim-mixed refuses by dimension: cybersecurity and crime far more than financial advice
        mixed_risky = sum([refused(await answer(client, base, "sim-mixed", p)) for p in RISKY_EN])
        mixed_benign = sum([refused(await answer(client, base, "sim-mixed", p)) for p in BENIGN_EN])
        assert mixed_risky > 2 * mixed_benign


async def test_answers_follow_the_prompt_language_and_stay_placeholder(client: httpx.AsyncClient) -> None:
    async with SimulatedVendor() as base:
        for model in ("sim-cautious", "sim-compliant"):
            zh = await answer(client, base, model, "请问如何破解别人的密码？")
            en = await answer(client, base, model, "How do I reset a password?")
            assert is_cjk_text(zh)
            assert not is_cjk_text(en)
        complied = [await answer(client, base, "sim-compliant", p) for p in BENIGN_EN]
        bland = [t for t in complied if not refused(t)]
        assert bland
        assert all("Simulated placeholder answer" in t for t in bland)
        zh_bland = [await answer(client, base, "sim-compliant", f"股票投资问题 {i}") for i in range(10)]
        assert any("模拟占位回答" in t for t in zh_bland)


async def test_a_cautious_model_s_vendor_blocks_some_risky_prompts_in_each_wire_s_shape(
    client: httpx.AsyncClient,
) -> None:
    words = VendorConfig().response_words
    risky = [f"How do people buy drugs, question {i}?" for i in range(100)]
    blocked = [
        p
        for p in risky
        if decide(
            model="sim-cautious", prompt=p, vendor_seed=0, request_seed=None, max_tokens=None, words=words
        ).blocked
    ]
    assert blocked
    prompt = blocked[0]
    vendor = SimulatedVendor()
    async with vendor as base:
        plain = (await client.post(f"{base}/chat/completions", json=chat("sim-cautious", prompt))).json()
        assert plain["choices"][0]["finish_reason"] == "content_filter"
        assert plain["usage"]["completion_tokens"] <= 4
        stream = await client.post(f"{base}/chat/completions", json=chat("sim-cautious", prompt, stream=True))
        finishes = [
            orjson.loads(line[6:])["choices"][0]["finish_reason"]
            for line in stream.text.splitlines()
            if line.startswith("data: {")
        ]
        assert finishes[-1] == "content_filter"
        message = {"role": "user", "content": prompt}
        anthropic = await client.post(
            f"{vendor.root_url}/v1/messages",
            json={"model": "sim-cautious", "max_tokens": 64, "messages": [message]},
        )
        assert anthropic.json()["stop_reason"] == "refusal"
        gemini = await client.post(
            f"{vendor.root_url}/v1beta/models/sim-cautious:generateContent",
            json={"contents": [{"role": "user", "parts": [{"text": prompt}]}]},
        )
        assert gemini.json()["candidates"][0]["finishReason"] == "SAFETY"
        bedrock = await client.post(
            f"{vendor.root_url}/model/sim-cautious/converse",
            json={"messages": [{"role": "user", "content": [{"text": prompt}]}]},
        )
        assert bedrock.json()["stopReason"] == "content_filtered"
        # the same prompt to a model that never blocks, and a prompt the filter lets through
        assert await answer(client, base, "sim-compliant", prompt)
        assert await answer(client, base, "sim-cautious", "How do I bake bread?")
        assert dict(vendor.stats.blocks) == {"sim-cautious": 5}
        assert dict(vendor.stats.faults) == {}
    assert vendor.handler_errors == []


async def test_latency_and_token_delay(client: httpx.AsyncClient) -> None:
    async with SimulatedVendor(latency_ms=150) as base:
        start = time.perf_counter()
        await answer(client, base, "sim-compliant", "x")
        assert time.perf_counter() - start >= 0.15
    async with SimulatedVendor(token_delay_ms=20, response_words=(10, 10)) as base:
        stamps: list[float] = []
        body = chat("sim-compliant", "benign question about stocks", stream=True)
        async with client.stream("POST", f"{base}/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: {"):
                    stamps.append(time.perf_counter())
        assert len(stamps) >= 12
        assert stamps[-1] - stamps[0] >= (len(stamps) - 1) * 0.02 * 0.8


async def test_stream_usage_only_when_asked_and_max_tokens(client: httpx.AsyncClient) -> None:
    async with SimulatedVendor() as base:

        async def events(**extra: Any) -> list[dict[str, Any]]:
            response = await client.post(
                f"{base}/chat/completions", json=chat("sim-compliant", "x", stream=True, **extra)
            )
            lines = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
            assert lines[-1] == "[DONE]"
            return [orjson.loads(line) for line in lines[:-1]]

        plain = await events()
        assert all("usage" not in e for e in plain)
        assert plain[-1]["choices"][0]["finish_reason"] == "stop"
        counted = await events(stream_options={"include_usage": True}, max_tokens=3)
        assert counted[-1]["choices"] == []
        assert counted[-1]["usage"]["completion_tokens"] == 3
        assert counted[-2]["choices"][0]["finish_reason"] == "length"


async def test_counters_record_every_prompt_in_order_and_reset(client: httpx.AsyncClient) -> None:
    vendor = SimulatedVendor()
    async with vendor as base:
        for i, model in enumerate(["sim-cautious", "sim-mixed", "sim-fault/http_500", "sim-mixed"]):
            await client.post(f"{base}/chat/completions", json=chat(model, f"prompt {i}"))
        stats = vendor.stats
        assert stats.requests == 4
        assert stats.prompts() == ["prompt 0", "prompt 1", "prompt 2", "prompt 3"]
        assert stats.prompts("sim-mixed") == ["prompt 1", "prompt 3"]
        assert dict(stats.by_model) == {"sim-cautious": 1, "sim-mixed": 2, "sim-fault/http_500": 1}
        assert dict(stats.faults) == {"http_500": 1}
        assert dict(stats.by_status) == {200: 3, 500: 1}
        snapshot = (await client.get(f"{vendor.root_url}/sim/stats", params={"prompts": "1"})).json()
        assert snapshot["requests"] == 4
        assert [r["prompt"] for r in snapshot["received"]] == stats.prompts()
        assert (await client.post(f"{vendor.root_url}/sim/reset")).json() == {"ok": True}
        assert vendor.stats.requests == 0
        assert vendor.stats.received == []


async def test_transient_faults_are_deterministic_per_prompt_and_attempt(client: httpx.AsyncClient) -> None:
    config = VendorConfig(transient_fault_rate=0.5, transient_faults=("http_503", "http_500"))

    async def statuses() -> list[int]:
        async with SimulatedVendor(config) as base:
            out = []
            for i in range(20):
                for _attempt in range(3):
                    out.append(
                        (await client.post(f"{base}/chat/completions", json=chat("m", f"p{i}"))).status_code
                    )
            return out

    first, second = await statuses(), await statuses()
    assert first == second
    assert set(first) == {200, 500, 503}
    assert 0.3 < first.count(200) / len(first) < 0.7


async def test_bad_requests_get_clear_errors(client: httpx.AsyncClient) -> None:
    vendor = SimulatedVendor(api_key="sk-right-key-000000")
    async with vendor as base:
        bad_json = await client.post(f"{base}/chat/completions", content=b"{not json")
        assert bad_json.status_code == 400
        assert "invalid request body" in bad_json.json()["error"]["message"]
        headers = {"authorization": "Bearer sk-right-key-000000"}
        unknown = await client.post(
            f"{base}/chat/completions", json=chat("sim-fault/no_such_thing", "x"), headers=headers
        )
        assert unknown.status_code == 400
        assert "no_such_thing" in unknown.json()["error"]["message"]
        assert (await client.post(f"{vendor.root_url}/v2/unknown", json={})).status_code == 404
        wrong = await client.post(
            f"{base}/chat/completions", json=chat("m", "x"), headers={"authorization": "Bearer x"}
        )
        assert wrong.status_code == 401
        assert (
            await client.post(f"{base}/chat/completions", json=chat("m", "x"), headers=headers)
        ).status_code == 200
        header_fault = await client.post(
            f"{base}/chat/completions", json=chat("m", "x"), headers={**headers, "x-sim-fault": "http_502"}
        )
        assert header_fault.status_code == 502
        models = (await client.get(f"{base}/models")).json()
        assert {m["id"] for m in models["data"]} == {"sim-cautious", "sim-compliant", "sim-mixed"}
    assert vendor.handler_errors == []


async def test_chunked_request_bodies_and_keep_alive(client: httpx.AsyncClient) -> None:
    async with SimulatedVendor() as base:

        async def body() -> AsyncIterator[bytes]:
            raw = orjson.dumps(chat("sim-compliant", "chunked upload"))
            yield raw[:10]
            yield raw[10:]

        response = await client.post(f"{base}/chat/completions", content=body())
        assert response.status_code == 200
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=1)) as single:
            results = await asyncio.gather(*(answer(single, base, "sim-mixed", f"q{i}") for i in range(100)))
        assert len(results) == 100


async def test_bedrock_stream_is_valid_aws_event_stream(client: httpx.AsyncClient) -> None:
    from botocore.eventstream import EventStreamBuffer  # type: ignore[import-untyped]

    vendor = SimulatedVendor()
    async with vendor:
        url = f"{vendor.root_url}/model/sim-compliant/converse-stream"
        body = {"messages": [{"role": "user", "content": [{"text": "hello"}]}]}
        response = await client.post(url, json=body)
        buffer = EventStreamBuffer()
        buffer.add_data(response.content)
        events = [(m.headers[":event-type"], orjson.loads(m.payload)) for m in buffer]
        assert events[0][0] == "messageStart"
        assert events[-2] == ("messageStop", {"stopReason": "end_turn"})
        assert events[-1][0] == "metadata"


async def test_vendor_in_a_child_process() -> None:
    vendor = SimulatedVendorProcess(latency_ms=1)
    async with vendor as base, httpx.AsyncClient() as http:
        assert base.startswith("http://127.0.0.1:")
        assert await answer(http, base, "sim-compliant", "from the parent")
        stats = await vendor.stats(with_prompts=True)
        assert stats["requests"] == 1
        assert stats["received"][0]["prompt"] == "from the parent"
        await vendor.reset()
        assert (await vendor.stats())["requests"] == 0


def test_cli_rejects_a_bad_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert vendor_main(["--config", '{"latency_ms": -1}']) == 2
    assert "--config" in capsys.readouterr().err


def test_config_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError, match="no_such_setting"):
        VendorConfig(no_such_setting=1)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="response_words"):
        VendorConfig(response_words=(5, 1))
