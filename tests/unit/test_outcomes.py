"""Outcome classification as pure functions: retry-after parsing, error bodies, finish reasons."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from adapters.outcomes import (
    MAX_ERROR_CHARS,
    MAX_RETRY_AFTER_S,
    EndSignal,
    classify_end,
    classify_error_body,
    classify_exception,
    classify_finish,
    end_signal,
    parse_body,
    parse_duration,
    retry_after,
    short_error,
)
from core.redaction import Redactor
from core.types import Outcome


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("6m0s", 360.0),
        ("1.5s", 1.5),
        ("120ms", 0.12),
        ("1h2m3s", 3723.0),
        ("17", 17.0),
        ("0.25", 0.25),
        ("2m", 120.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "6x", "1s2", "ms", "1.5.5s"])
def test_parse_duration_rejects_garbage(text: str) -> None:
    assert parse_duration(text) is None


def test_retry_after_takes_the_max_of_every_signal() -> None:
    headers = {"retry-after": "2", "retry-after-ms": "2500", "x-ratelimit-reset-requests": "1.2s"}
    assert retry_after(headers) == pytest.approx(2.5)


def test_retry_after_ignores_a_reset_whose_dimension_is_not_exhausted() -> None:
    headers = {
        "retry-after-ms": "800",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1s",
        "x-ratelimit-remaining-tokens": "149000",
        "x-ratelimit-reset-tokens": "6m0s",
    }
    assert retry_after(headers) == pytest.approx(1.0)


def test_retry_after_reads_a_reset_duration_alone() -> None:
    assert retry_after({"x-ratelimit-reset-tokens": "6m0s"}) == pytest.approx(360.0)


def test_retry_after_http_date_and_cap() -> None:
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert retry_after({"Retry-After": later}) == pytest.approx(30, abs=2)
    assert retry_after({"retry-after": "86400"}) == MAX_RETRY_AFTER_S
    assert retry_after({"retry-after": "-5"}) is None
    assert retry_after({}) is None
    assert retry_after(None) is None


def test_retry_after_header_names_are_case_insensitive() -> None:
    assert retry_after({"Retry-After-Ms": "1500"}) == pytest.approx(1.5)
    assert retry_after(httpx.Headers({"Retry-After": "3"})) == pytest.approx(3.0)


def test_retry_after_from_gemini_retry_info() -> None:
    body = {
        "error": {
            "code": 429,
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17.5s"}],
        }
    }
    assert retry_after(None, body) == pytest.approx(17.5)


def test_parse_body_json_text_and_bytes_repr() -> None:
    assert parse_body(b'{"a": 1}') == {"a": 1}
    assert parse_body("<html>502</html>") == "<html>502</html>"
    assert parse_body('b\'{"error": {"code": 5}}\'') == {"error": {"code": 5}}
    assert parse_body(None) is None


def test_short_error_redacts_flattens_and_caps() -> None:
    key = "sk-proj-" + "A" * 40
    text = short_error(f"bad key {key}\n" + "x" * 1000, Redactor([key]))
    assert key not in text
    assert "\n" not in text
    assert len(text) == MAX_ERROR_CHARS


@pytest.mark.parametrize(
    ("raw", "outcome", "truncated"),
    [
        ("stop", Outcome.COMPLETED, False),
        ("end_turn", Outcome.COMPLETED, False),
        ("STOP", Outcome.COMPLETED, False),
        ("length", Outcome.COMPLETED, True),
        ("max_tokens", Outcome.COMPLETED, True),
        ("MAX_TOKENS", Outcome.COMPLETED, True),
        ("content_filter", Outcome.BLOCKED_BY_VENDOR, False),
        ("refusal", Outcome.BLOCKED_BY_VENDOR, False),
        ("SAFETY", Outcome.BLOCKED_BY_VENDOR, False),
        ("PROHIBITED_CONTENT", Outcome.BLOCKED_BY_VENDOR, False),
        ("RECITATION", Outcome.BLOCKED_BY_VENDOR, False),
        ("OTHER", Outcome.BLOCKED_BY_VENDOR, False),
        # Bedrock guardrails (also exercised over HTTP through litellm's bedrock provider)
        ("guardrail_intervened", Outcome.BLOCKED_BY_VENDOR, False),
        ("content_filtered", Outcome.BLOCKED_BY_VENDOR, False),
        ("error", Outcome.INCOMPLETE, False),
        ("network_error", Outcome.INCOMPLETE, False),
        (None, Outcome.INCOMPLETE, False),
        ("something_new", Outcome.INCOMPLETE, False),
    ],
)
def test_classify_finish(raw: str | None, outcome: Outcome, truncated: bool) -> None:
    result = classify_finish(raw)
    assert result.outcome is outcome
    assert result.truncated is truncated
    assert not result.retryable or outcome is Outcome.INCOMPLETE
    if raw is not None:
        assert result.vendor_code == raw


def test_unknown_finish_reason_is_not_retried_but_a_missing_one_is() -> None:
    assert classify_finish("something_new").retryable is False
    assert classify_finish(None).retryable is True


@pytest.mark.parametrize(
    ("payload", "signal"),
    [
        ({"choices": [{"finish_reason": "stop"}]}, EndSignal(finish="stop")),
        ({"choices": [{"finish_reason": None}]}, None),
        ({"choices": []}, None),
        (
            {
                "choices": [
                    {
                        "finish_reason": "content_filter",
                        "content_filter_results": {"hate": {"filtered": True}},
                    }
                ]
            },
            EndSignal(finish="content_filter", categories=("hate",)),
        ),
        (
            {"stop_reason": "refusal", "stop_details": {"category": "cyber"}},
            EndSignal("refusal", None, ("cyber",)),
        ),
        ({"type": "message_delta", "delta": {"stop_reason": "end_turn"}}, EndSignal(finish="end_turn")),
        ({"type": "content_block_delta", "delta": {"text": "x"}}, None),
        ({"promptFeedback": {"blockReason": "OTHER"}}, EndSignal(prompt_block="OTHER")),
        (
            {
                "candidates": [
                    {"finishReason": "SAFETY", "safetyRatings": [{"category": "H", "blocked": True}]}
                ]
            },
            EndSignal(finish="SAFETY", categories=("H",)),
        ),
        ({"candidates": [{"content": {"parts": [{"text": "x"}]}}]}, None),
        ({"stopReason": "guardrail_intervened"}, EndSignal(finish="guardrail_intervened")),
        ("not a dict", None),
    ],
)
def test_end_signal_reads_every_wire_format(payload: Any, signal: EndSignal | None) -> None:
    assert end_signal(payload) == signal


def test_classify_end_prompt_block_and_missing_signal() -> None:
    blocked = classify_end(EndSignal(prompt_block="SAFETY", categories=("H",)))
    assert blocked.outcome is Outcome.BLOCKED_BY_VENDOR
    assert blocked.vendor_code == "blockReason:SAFETY"
    assert classify_end(None).outcome is Outcome.INCOMPLETE


def test_blocks_win_over_quota_and_strings_only_as_fallback() -> None:
    # A structured block code wins even on a 429.
    both = {"error": {"code": "content_policy_violation", "type": "insufficient_quota", "message": "x"}}
    assert classify_error_body(429, both).outcome is Outcome.BLOCKED_BY_VENDOR
    # Body text never makes a 5xx a block.
    server = {"error": {"message": "Content Exists Risk", "type": "server_error"}}
    assert classify_error_body(500, server).outcome is Outcome.FAILED_TRANSIENT


def test_a_400_that_mentions_rate_limits_is_permanent() -> None:
    body = {"error": {"message": "rate limit exceeded? 429 please retry", "type": "invalid_request_error"}}
    result = classify_error_body(400, body)
    assert result.outcome is Outcome.FAILED_PERMANENT
    assert not result.retryable


def test_in_stream_error_is_incomplete_unless_a_block() -> None:
    assert (
        classify_error_body(None, {"error": {"type": "server_error"}}, in_stream=True).outcome
        is Outcome.INCOMPLETE
    )
    inspection = {
        "error": {
            "code": "data_inspection_failed",
            "message": "Output data may contain inappropriate content.",
        }
    }
    assert classify_error_body(None, inspection, in_stream=True).outcome is Outcome.BLOCKED_BY_VENDOR


def test_gemini_per_minute_quota_is_transient_per_day_pauses() -> None:
    def body(quota_id: str) -> dict[str, Any]:
        return {
            "error": {
                "code": 429,
                "status": "RESOURCE_EXHAUSTED",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                        "violations": [{"quotaId": quota_id}],
                    },
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "43s"},
                ],
            }
        }

    minute = classify_error_body(429, body("GenerateRequestsPerMinutePerProjectPerModel"))
    assert (minute.outcome, minute.retry_after_s, minute.pause_target) == (
        Outcome.FAILED_TRANSIENT,
        43.0,
        False,
    )
    day = classify_error_body(429, body("GenerateRequestsPerDayPerProjectPerModel-FreeTier"))
    assert (day.outcome, day.retryable, day.pause_target) == (Outcome.FAILED_PERMANENT, False, True)


def test_bedrock_error_type_header_is_the_vendor_code() -> None:
    headers = {"x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    result = classify_error_body(429, {"message": "Too many requests"}, headers)
    assert (result.outcome, result.vendor_code) == (Outcome.FAILED_TRANSIENT, "ThrottlingException")


def test_unexpected_exception_is_permanent_and_redacted() -> None:
    key = "sk-" + "Z" * 40
    result, partial = classify_exception(RuntimeError(f"boom with {key}"))
    assert result.outcome is Outcome.FAILED_PERMANENT
    assert result.vendor_code == "RuntimeError"
    assert key not in (result.error or "")
    assert partial == ""


def test_transport_errors_are_transient_or_incomplete() -> None:
    before, _ = classify_exception(httpx.ConnectError("refused"))
    assert (before.outcome, before.vendor_code, before.retryable) == (
        Outcome.FAILED_TRANSIENT,
        "connection_error",
        True,
    )
    during, _ = classify_exception(httpx.RemoteProtocolError("incomplete chunked read"), stream_started=True)
    assert (during.outcome, during.retryable) == (Outcome.INCOMPLETE, True)
    timeout, _ = classify_exception(httpx.ReadTimeout("slow"))
    assert (timeout.outcome, timeout.vendor_code) == (Outcome.FAILED_TRANSIENT, "timeout")


def _http_error(status: int, raw: bytes) -> Exception:
    """An exception chain like litellm's: a wrapper whose cause is the raw HTTP error."""
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx.Response(status, content=raw, request=request)
    raw_error = httpx.HTTPStatusError("error", request=request, response=response)
    wrapper = RuntimeError("litellm.RateLimitError: rewritten status")
    wrapper.__cause__ = raw_error
    return wrapper


_MARKERS = (
    "content_filter",
    "content_policy",
    "invalid_prompt",
    "responsibleai",
    "data_inspection",
    "datainspection",
    "content_filtered",
    "guardrail",
    "insufficient_quota",
    "enforced_spend",
    "arrearage",
    "billing",
    "content exists risk",
    "inappropriate content",
    "content filtering",
    "safety system",
    "usage policy",
    "content management",
    "insufficient balance",
    "good standing",
    "api_key_invalid",
    "perday",
    "permonth",
)
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
_INT = st.integers(-(2**63), 2**63 - 1)
_JSON_BODY = st.one_of(
    st.fixed_dictionaries(
        {
            "error": st.fixed_dictionaries(
                {
                    "message": _TEXT,
                    "type": st.one_of(st.none(), _TEXT),
                    "code": st.one_of(st.none(), _TEXT, _INT),
                }
            )
        }
    ),
    st.fixed_dictionaries({"code": _TEXT, "message": _TEXT}),
    st.dictionaries(_TEXT, st.one_of(_TEXT, _INT, st.none()), max_size=4),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    status=st.integers(400, 499).filter(lambda s: s not in (408, 429)),
    body=st.one_of(_JSON_BODY, _TEXT),
    as_exception=st.booleans(),
)
def test_unknown_4xx_is_always_failed_permanent(status: int, body: Any, as_exception: bool) -> None:
    raw = body.encode() if isinstance(body, str) else orjson.dumps(body)
    assume(not any(marker in raw.decode("utf-8", "replace").lower() for marker in _MARKERS))
    if as_exception:
        result, _ = classify_exception(_http_error(status, raw))
    else:
        result = classify_error_body(status, parse_body(raw))
    assert result.outcome is Outcome.FAILED_PERMANENT
    assert result.retryable is False
    assert result.status_code == status


@settings(max_examples=300, deadline=None)
@given(status=st.integers(400, 499), body=st.one_of(_JSON_BODY, _TEXT))
def test_no_4xx_is_ever_completed_or_incomplete(status: int, body: Any) -> None:
    result = classify_error_body(status, body)
    assert result.outcome not in (Outcome.COMPLETED, Outcome.INCOMPLETE)
    if result.outcome is Outcome.FAILED_TRANSIENT:
        assert status in (408, 429)


def test_x_should_retry_overrides_the_status_but_never_a_block() -> None:
    assert classify_error_body(409, {}, {"x-should-retry": "true"}).outcome is Outcome.FAILED_TRANSIENT
    assert classify_error_body(500, {}, {"x-should-retry": "false"}).outcome is Outcome.FAILED_PERMANENT
    block = {"error": {"code": "content_filter"}}
    assert classify_error_body(400, block, {"x-should-retry": "true"}).outcome is Outcome.BLOCKED_BY_VENDOR
    quota = {"error": {"code": "insufficient_quota"}}
    assert classify_error_body(429, quota, {"x-should-retry": "true"}).pause_target


def test_retry_after_reads_anthropic_reset_times_of_exhausted_dimensions_only() -> None:
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 40))
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 300))
    headers = {
        "retry-after": "3",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": soon,
        "anthropic-ratelimit-output-tokens-remaining": "9000",
        "anthropic-ratelimit-output-tokens-reset": later,  # not exhausted: says nothing about this 429
    }
    assert retry_after(headers) == pytest.approx(40, abs=2)
    past = {
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": "2020-01-01T00:00:00Z",
    }
    assert retry_after(past) is None
    assert (
        retry_after({"anthropic-ratelimit-tokens-remaining": "0", "anthropic-ratelimit-tokens-reset": "soon"})
        is None
    )
