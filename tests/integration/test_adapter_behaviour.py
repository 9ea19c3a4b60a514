"""Adapter behaviour beyond outcome shapes: timeouts, length caps, pools, limit keys, settings errors."""

from __future__ import annotations

import pytest

from adapters.keys import key_fingerprint, make_limit_key
from adapters.litellm_adapter import LiteLLMAdapter
from adapters.openai_adapter import ClientPool, OpenAIAdapter
from core.protocols import TargetAdapter
from core.types import ChatRequest, Decoding, Outcome
from simulator import SimulatedVendor

API_KEY = "sk-behaviour-0123456789abcdef"


def make(kind: str, vendor: SimulatedVendor, model: str, wire: str = "openai") -> TargetAdapter:
    if kind == "fast":
        return OpenAIAdapter(model=f"openai/{model}", api_key=API_KEY, api_base=vendor.base_url)
    if wire == "anthropic":
        return LiteLLMAdapter(model=f"anthropic/{model}", api_key=API_KEY, api_base=vendor.root_url)
    if wire == "gemini":
        return LiteLLMAdapter(model=f"gemini/{model}", api_key=API_KEY, api_base=vendor.root_url + "/v1beta")
    return LiteLLMAdapter(model=f"openai/{model}", api_key=API_KEY, api_base=vendor.base_url)


KINDS = ["litellm", "fast"]


@pytest.mark.parametrize(
    ("kind", "wire"),
    [("litellm", "openai"), ("fast", "openai"), ("litellm", "anthropic"), ("litellm", "gemini")],
)
async def test_idle_timeout_before_any_data_is_transient(
    vendor: SimulatedVendor, kind: str, wire: str
) -> None:
    adapter = make(kind, vendor, "sim-fault/stall", wire)
    result = await adapter.send(ChatRequest(prompt="x", timeout_s=10, idle_timeout_s=0.3))
    await adapter.aclose()
    assert (result.outcome, result.vendor_code, result.retryable) == (
        Outcome.FAILED_TRANSIENT,
        "idle_timeout",
        True,
    )
    assert result.latency_s < 3


@pytest.mark.parametrize("kind", KINDS)
async def test_idle_timeout_after_data_is_incomplete_with_partial_text(
    vendor: SimulatedVendor, kind: str
) -> None:
    adapter = make(kind, vendor, "sim-fault/stall_after_first_chunk")
    result = await adapter.send(ChatRequest(prompt="x", timeout_s=10, idle_timeout_s=0.3))
    await adapter.aclose()
    assert (result.outcome, result.vendor_code, result.retryable) == (
        Outcome.INCOMPLETE,
        "idle_timeout",
        True,
    )
    assert result.text
    assert result.ttft_s is not None
    assert result.latency_s < 3


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_total_deadline(vendor: SimulatedVendor, kind: str, stream: bool) -> None:
    adapter = make(kind, vendor, "sim-fault/stall")
    result = await adapter.send(ChatRequest(prompt="x", stream=stream, timeout_s=0.4, idle_timeout_s=30))
    await adapter.aclose()
    assert result.outcome is Outcome.FAILED_TRANSIENT
    assert result.retryable
    assert result.vendor_code in ("timeout", "idle_timeout")
    assert result.latency_s < 3


@pytest.mark.parametrize("kind", KINDS)
async def test_response_length_cap_keeps_a_truncated_answer(vendor: SimulatedVendor, kind: str) -> None:
    adapter = make(kind, vendor, "sim-compliant")
    result = await adapter.send(ChatRequest(prompt="benign question about stocks", max_response_chars=40))
    plain = await adapter.send(
        ChatRequest(prompt="benign question about stocks", stream=False, max_response_chars=40)
    )
    await adapter.aclose()
    assert (result.outcome, result.vendor_code, result.truncated) == (
        Outcome.COMPLETED,
        "max_response_chars",
        True,
    )
    assert 0 < len(result.text) <= 40
    assert (plain.outcome, plain.truncated, len(plain.text)) == (Outcome.COMPLETED, True, 40)


@pytest.mark.parametrize("kind", KINDS)
async def test_ttft_reflects_vendor_latency(kind: str) -> None:
    async with SimulatedVendor(latency_ms=120, token_delay_ms=5, response_words=(10, 10)) as base:
        if kind == "fast":
            adapter: TargetAdapter = OpenAIAdapter(
                model="openai/sim-compliant", api_key=API_KEY, api_base=base
            )
        else:
            adapter = LiteLLMAdapter(model="openai/sim-compliant", api_key=API_KEY, api_base=base)
        result = await adapter.send(
            ChatRequest(prompt="benign question about stocks", decoding=Decoding(seed=3))
        )
        await adapter.aclose()
    assert result.outcome is Outcome.COMPLETED
    assert result.ttft_s is not None
    assert 0.12 <= result.ttft_s < result.latency_s
    assert result.latency_s - result.ttft_s >= 0.05  # ~17 more chunks, 5 ms apart


async def test_both_adapters_send_the_same_request_and_get_the_same_answer(vendor: SimulatedVendor) -> None:
    request = ChatRequest(
        prompt="What is a stock?", system="Be brief.", decoding=Decoding(temperature=0.5, seed=9)
    )
    results = []
    for kind in KINDS:
        adapter = make(kind, vendor, "sim-mixed")
        results.append(await adapter.send(request))
        await adapter.aclose()
    assert results[0].text == results[1].text
    assert results[0].usage == results[1].usage
    assert vendor.stats.prompts() == ["What is a stock?", "What is a stock?"]


async def test_pool_shares_one_session_per_endpoint(vendor: SimulatedVendor) -> None:
    pool = ClientPool()
    first = pool.session_for(vendor.base_url)
    assert pool.session_for(vendor.base_url) is first
    adapters = [
        OpenAIAdapter(model=f"openai/{m}", api_key=API_KEY, api_base=vendor.base_url, session=first)
        for m in ("sim-cautious", "sim-compliant")
    ]
    for adapter in adapters:
        assert (await adapter.send(ChatRequest(prompt="x"))).outcome is Outcome.COMPLETED
        await adapter.aclose()  # a shared session belongs to the pool
    assert not first.closed
    await pool.aclose()
    assert first.closed


def test_limit_keys_are_shared_across_adapters_and_never_hold_the_key() -> None:
    fast = OpenAIAdapter(model="deepseek/deepseek-chat", api_key=API_KEY)
    slow = LiteLLMAdapter(model="deepseek/deepseek-chat", api_key=API_KEY)
    assert fast.limit_key == slow.limit_key == f"deepseek:{key_fingerprint(API_KEY)}:deepseek-chat"
    assert API_KEY not in fast.limit_key
    assert make_limit_key("gpt-4o", None, None) == "openai:nokey:gpt-4o"
    assert make_limit_key("openai/m", "k1", "http://h:1/v1") != make_limit_key(
        "openai/m", "k2", "http://h:1/v1"
    )
    assert make_limit_key("openai/m", "k", "http://h:1/v1") != make_limit_key(
        "openai/m", "k", "http://h:2/v1"
    )
    assert isinstance(fast, TargetAdapter)
    assert isinstance(slow, TargetAdapter)
    assert (fast.name, slow.name) == ("openai", "litellm")


def test_settings_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="num_retries"):
        LiteLLMAdapter(model="openai/x", extra_params={"num_retries": 3})
    with pytest.raises(ValueError, match="stream"):
        OpenAIAdapter(model="openai/x", extra_params={"stream": False})
    with pytest.raises(ValueError, match="no api_base"):
        OpenAIAdapter(model="hosted_vllm/llama")
    with pytest.raises(ValueError, match="extra_headers"):
        OpenAIAdapter(model="openai/x", extra_params={"extra_headers": ["not", "a", "mapping"]})
