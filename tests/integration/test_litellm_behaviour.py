"""What litellm 1.110.2 itself does with each vendor signal (../shared/VENDOR_FAILURES.md, verified).

These tests call ``litellm.acompletion`` directly against the simulated vendor and pin the raw
behaviour the adapter's classification is built around. If a litellm upgrade changes one, the
matching test fails and ``adapters/outcomes.py`` must be re-checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from conftest import import_or_skip

import adapters.litellm_adapter  # noqa: F401  (sets the local cost map before litellm is imported)
from simulator import SimulatedVendor

litellm = import_or_skip("litellm")


def _base(vendor: SimulatedVendor, provider: str) -> str:
    return {
        "openai": vendor.base_url,
        "anthropic": vendor.root_url,
        "gemini": vendor.root_url + "/v1beta",
    }.get(provider, vendor.root_url)


async def call(vendor: SimulatedVendor, provider: str, scenario: str, *, stream: bool, **extra: Any) -> Any:
    """One litellm call; returns (finish_reason, text) or raises what litellm raises."""
    extra.setdefault("num_retries", 0)
    extra.setdefault("max_retries", 0)
    extra = {k: v for k, v in extra.items() if v is not None}  # None: leave litellm's default
    model = (
        f"bedrock/converse/sim-fault/{scenario}"
        if provider == "bedrock"
        else f"{provider}/sim-fault/{scenario}"
    )
    response = await litellm.acompletion(
        model=model,
        api_base=_base(vendor, provider),
        api_key="sk-pin-0123456789",
        messages=[{"role": "user", "content": "hello"}],
        stream=stream,
        timeout=20,
        **extra,
    )
    if not stream:
        return response.choices[0].finish_reason, response.choices[0].message.content or ""
    finish, text = None, ""
    async for chunk in response:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
    return finish, text


@dataclass(frozen=True)
class Raises:
    name: str  # exact class name
    status: int | None = None


@dataclass(frozen=True)
class Returns:
    finish: str
    text: bool


BOTH = (False, True)
PINS: list[tuple[str, str, tuple[bool, ...], Raises | Returns, str]] = [
    # blocks litellm reports as an ordinary bad request
    (
        "openai",
        "openai_policy_violation",
        BOTH,
        Raises("BadRequestError", 400),
        "not ContentPolicyViolationError",
    ),
    ("openai", "openai_invalid_prompt", BOTH, Raises("ContentPolicyViolationError", 400), "string match"),
    ("openai", "deepseek_content_risk", BOTH, Raises("BadRequestError", 400), "DeepSeek block"),
    ("openai", "dashscope_input_inspection", BOTH, Raises("BadRequestError", 400), "DashScope block"),
    ("anthropic", "content_filtering_policy", BOTH, Raises("ContentPolicyViolationError", 400), "text form"),
    # failures that look like success
    ("gemini", "cut_no_finish", (True,), Returns("stop", True), "no finishReason, yet 'stop'"),
    ("gemini", "cut_no_finish", (False,), Returns("stop", True), "no finishReason, yet 'stop'"),
    ("openai", "finish_error", (False,), Returns("stop", True), "'error' remapped to 'stop'"),
    ("openai", "no_finish_reason", (False,), Returns("stop", True), "null finish_reason becomes 'stop'"),
    ("openai", "finish_error", (True,), Raises("MidStreamFallbackError"), "streamed, it raises"),
    ("openai", "cut_after_first_chunk", (True,), Raises("MidStreamFallbackError"), "cut stream"),
    ("anthropic", "cut_after_first_chunk", (True,), Raises("MidStreamFallbackError"), "cut stream"),
    ("bedrock", "cut_after_first_chunk", (True,), Raises("MidStreamFallbackError"), "cut stream"),
    ("openai", "cut_after_first_chunk", (False,), Raises("InternalServerError", 500), "a 500 nobody sent"),
    ("anthropic", "cut_after_first_chunk", (False,), Raises("InternalServerError", 500), "a 500 nobody sent"),
    ("openai", "conn_reset", BOTH, Raises("InternalServerError", 500), "a reset becomes a 500"),
    # quota, money and size errors that look retryable or plain-bad
    ("openai", "insufficient_quota", BOTH, Raises("RateLimitError", 429), "money, not rate"),
    ("openai", "request_too_large", BOTH, Raises("RateLimitError", 429), "can never succeed"),
    ("anthropic", "spend_limit", BOTH, Raises("RateLimitError", 429), "spend cap"),
    ("gemini", "daily_quota", (False,), Raises("RateLimitError", 429), "daily quota"),
    (
        "openai",
        "deepseek_insufficient_balance",
        BOTH,
        Raises("APIError", 402),
        "VENDOR_FAILURES says BadRequestError",
    ),
    ("openai", "dashscope_arrearage", BOTH, Raises("BadRequestError", 400), "arrears"),
    ("openai", "echo_rate_limit_400", BOTH, Raises("RateLimitError", 429), "a 400 that mentions rate limits"),
    # right, if read in the right place
    ("openai", "content_filter", BOTH, Returns("content_filter", True), "no exception"),
    ("openai", "azure_output_filter", BOTH, Returns("content_filter", False), "no exception"),
    ("anthropic", "refusal", BOTH, Returns("content_filter", True), "refusal -> content_filter"),
    ("gemini", "safety", (False,), Returns("content_filter", False), "SAFETY -> content_filter"),
    ("gemini", "safety", (True,), Returns("content_filter", True), "partial text kept when streamed"),
    ("gemini", "other", (False,), Returns("content_filter", False), "OTHER looks like SAFETY"),
    ("gemini", "recitation", (False,), Returns("content_filter", False), "RECITATION -> content_filter"),
    ("gemini", "prompt_blocked", BOTH, Returns("content_filter", False), "no candidates"),
    ("gemini", "no_parts", BOTH, Returns("stop", False), "no 'Content has no parts' error on 1.110.2"),
    ("bedrock", "guardrail_intervened", BOTH, Returns("content_filter", True), "guardrail"),
    ("bedrock", "null_stop_reason", (True,), Returns("stop", True), "stopReason null, yet 'stop'"),
    ("bedrock", "no_finish_reason", (True,), Raises("MidStreamFallbackError"), "no messageStop: caught"),
    ("gemini", "rate_limit", (True,), Raises("MidStreamFallbackError", 429), "429 wrapped before any chunk"),
    ("gemini", "http_503", (True,), Raises("MidStreamFallbackError", 500), "503 wrapped, status 500"),
    ("gemini", "http_503", (False,), Raises("InternalServerError", 500), "503 reported as 500"),
    ("anthropic", "overloaded", BOTH, Raises("InternalServerError", 500), "529 reported as 500"),
]


def _params() -> list[Any]:
    return [
        pytest.param(provider, scenario, stream, expect, id=f"{provider}-{scenario}-{'s' if stream else 'n'}")
        for provider, scenario, modes, expect, _why in PINS
        for stream in modes
    ]


@pytest.mark.parametrize(("provider", "scenario", "stream", "expect"), _params())
async def test_litellm_pin(
    vendor: SimulatedVendor, provider: str, scenario: str, stream: bool, expect: Raises | Returns
) -> None:
    extra = {}
    if provider == "bedrock":
        extra = {
            "aws_access_key_id": "AKIAFAKEFAKEFAKEFAKE",
            "aws_secret_access_key": "x",
            "aws_region_name": "us-east-1",
        }
    if isinstance(expect, Returns):
        finish, text = await call(vendor, provider, scenario, stream=stream, **extra)
        assert (finish, bool(text)) == (expect.finish, expect.text)
        return
    with pytest.raises(Exception) as caught:  # noqa: PT011  (the exact class is asserted below)
        await call(vendor, provider, scenario, stream=stream, **extra)
    assert type(caught.value).__name__ == expect.name
    if expect.status is not None:
        assert caught.value.status_code == expect.status  # type: ignore[attr-defined]


async def test_anthropic_529_keeps_the_real_status_in_provider_status_code(vendor: SimulatedVendor) -> None:
    with pytest.raises(litellm.InternalServerError) as caught:
        await call(vendor, "anthropic", "overloaded", stream=False)
    assert (caught.value.status_code, caught.value.provider_status_code) == (500, 529)


async def test_gemini_streamed_429_keeps_the_real_error_in_original_exception(
    vendor: SimulatedVendor,
) -> None:
    from litellm.exceptions import MidStreamFallbackError

    with pytest.raises(MidStreamFallbackError) as caught:
        await call(vendor, "gemini", "rate_limit", stream=True)
    original = caught.value.original_exception
    assert type(original).__name__ == "RateLimitError"
    assert caught.value.is_pre_first_chunk


async def test_response_headers_ride_on_the_exception(vendor: SimulatedVendor) -> None:
    with pytest.raises(litellm.RateLimitError) as caught:
        await call(vendor, "openai", "rate_limit", stream=False)
    headers = caught.value.litellm_response_headers
    assert {"retry-after", "retry-after-ms", "x-ratelimit-reset-requests"} <= set(headers)
    with pytest.raises(litellm.RateLimitError) as anthropic:
        await call(vendor, "anthropic", "rate_limit", stream=False)
    assert "anthropic-ratelimit-requests-remaining" in anthropic.value.litellm_response_headers


async def test_anthropic_refusal_keeps_stop_details(vendor: SimulatedVendor) -> None:
    response = await litellm.acompletion(
        model="anthropic/sim-fault/refusal",
        api_base=vendor.root_url,
        api_key="sk-pin-0123456789",
        messages=[{"role": "user", "content": "hello"}],
        num_retries=0,
    )
    fields = response.choices[0].message.provider_specific_fields
    assert fields["stop_reason"] == "refusal"
    assert fields["stop_details"]["category"] == "cyber"


@pytest.mark.parametrize(
    ("provider", "scenario", "requests"),
    [
        # VENDOR_FAILURES reports 3 sends on the OpenAI path and none extra on Anthropic/Gemini;
        # 1.110.2 here sends 5 (litellm's 2 retries x the SDK's own) and 3 respectively.
        ("openai", "insufficient_quota", 5),
        ("openai", "request_too_large", 5),
        ("anthropic", "spend_limit", 3),
        ("gemini", "daily_quota", 3),
    ],
)
async def test_litellm_own_retries_resend_unretryable_errors(
    vendor: SimulatedVendor, provider: str, scenario: str, requests: int
) -> None:
    """Why the adapter forces ``num_retries=0`` and ``max_retries=0``."""
    with pytest.raises(litellm.RateLimitError):
        await call(vendor, provider, scenario, stream=False, num_retries=2, max_retries=None)
    assert vendor.stats.requests == requests
    vendor.stats.reset()
    with pytest.raises(litellm.RateLimitError):
        await call(vendor, provider, scenario, stream=False)
    assert vendor.stats.requests == 1
