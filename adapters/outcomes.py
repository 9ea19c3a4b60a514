"""Classify how one request to a vendor ended: exactly one ``Outcome``, with the vendor's raw code.

Every adapter funnels what it saw into these functions: an HTTP error status with its body and
headers, an error object inside a stream, a finish/stop reason, or an exception (from litellm, the
openai SDK, httpx or a timeout). Rules (see ../shared/VENDOR_FAILURES.md):

1. Safety blocks are matched first, on structured fields (``error.code``, ``innererror.code``,
   ``finish_reason``, ``stop_reason``, ``blockReason``); vendor body text only as a fallback.
2. A block is terminal: ``BLOCKED_BY_VENDOR``, never retryable.
3. Quota and spend-limit errors (and authentication failures) are ``FAILED_PERMANENT`` with
   ``pause_target``: no later request to the target can succeed, so retrying only burns calls.
4. An unknown 4xx is ``FAILED_PERMANENT``, never completed and never "blocked, so safe".
5. A stream that ends in an error or without a positive end-of-stream signal is ``INCOMPLETE``.
6. litellm rewrites statuses (a 400 that mentions "rate limit" becomes a 429; a cut body becomes a
   500 nobody sent), so the status is read from the raw HTTP error in the exception chain first.

Nothing here imports litellm or the openai SDK: exceptions are recognised by duck typing, so the
fast adapter stays light.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import email.utils
import math
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import httpx
import orjson

from core.redaction import Redactor
from core.types import AttemptResult, Outcome, Usage

MAX_RETRY_AFTER_S = 600.0
"""Longest back-off taken from a vendor header or body; longer requests are capped to this."""

MAX_ERROR_CHARS = 300
"""Stored error text is cut to this many characters (after redaction)."""

_DEFAULT_REDACTOR = Redactor()


@dataclass(frozen=True, slots=True)
class Classified:
    """The classification of one attempt, before text, usage and timings are attached."""

    outcome: Outcome
    vendor_code: str | None = None
    status_code: int | None = None
    retryable: bool = False
    retry_after_s: float | None = None
    pause_target: bool = False
    categories: tuple[str, ...] = ()
    error: str | None = None
    truncated: bool = False

    def to_attempt(
        self,
        *,
        text: str = "",
        finish_reason: str | None = None,
        usage: Usage | None = None,
        latency_s: float = 0.0,
        ttft_s: float | None = None,
        truncated: bool = False,
    ) -> AttemptResult:
        """The ``AttemptResult`` for this classification plus what the adapter collected."""
        return AttemptResult(
            outcome=self.outcome,
            text=text,
            finish_reason=finish_reason,
            vendor_code=self.vendor_code,
            status_code=self.status_code,
            usage=usage,
            latency_s=latency_s,
            ttft_s=ttft_s,
            retry_after_s=self.retry_after_s,
            pause_target=self.pause_target,
            retryable=self.retryable,
            categories=self.categories,
            error=self.error,
            truncated=truncated or self.truncated,
        )


NOT_PROTOCOL = Classified(
    Outcome.FAILED_TRANSIENT,
    vendor_code="not_protocol",
    retryable=True,
    error="HTTP 200 whose body is not the vendor's protocol (e.g. a proxy's HTML page)",
)
"""A 200 that carried no protocol event or object: a failure to retry, never an (empty) answer."""

TOO_LARGE = Classified(
    Outcome.FAILED_TRANSIENT,
    vendor_code="response_too_large",
    retryable=True,
    error="response body exceeded the byte cap derived from max_response_chars",
)
"""A non-streamed body larger than ``response_byte_cap``: dropped unparsed."""


def response_byte_cap(max_response_chars: int) -> int:
    """The most bytes read from one non-streamed vendor body before it is dropped unparsed.

    JSON may escape one character as ``\\uXXXX`` (6 bytes, 12 for a surrogate pair), so 8 bytes a
    character plus 64 KiB of envelope covers every honest answer of ``max_response_chars``; a bigger
    body is not an answer worth parsing, and parsing it (litellm runs regexes over error bodies)
    would hold the event loop for seconds.
    """
    return 8 * max_response_chars + 65_536


def short_error(text: str, redactor: Redactor | None = None) -> str:
    """``text`` redacted, on one line, and cut to ``MAX_ERROR_CHARS``."""
    cleaned = (redactor or _DEFAULT_REDACTOR).redact(" ".join(text.split()))
    return cleaned if len(cleaned) <= MAX_ERROR_CHARS else cleaned[: MAX_ERROR_CHARS - 1] + "…"


# ---- retry-after ---------------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(value: str) -> float | None:
    """Seconds in a Go-style duration (``6m0s``, ``1.5s``, ``120ms``, ``1h2m3s``) or a bare number."""
    value = value.strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    total = 0.0
    pos = 0
    for match in _DURATION_PART.finditer(value):
        if match.start() != pos:
            return None
        number, unit = float(match.group(1)), match.group(2)
        total += number * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]
        pos = match.end()
    return total if pos == len(value) and pos > 0 else None


def _retry_after_header(value: str) -> float | None:
    seconds = parse_duration(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None and not isinstance(headers, httpx.Headers):
        lowered = {k.lower(): v for k, v in headers.items()}
        value = lowered.get(name)
    return value


def retry_after(headers: Mapping[str, str] | None, body: Any = None) -> float | None:
    """The vendor's requested back-off in seconds: the capped maximum of every signal present.

    Signals: ``retry-after-ms``, ``retry-after`` (seconds or an HTTP date), OpenAI's
    ``x-ratelimit-reset-{requests,tokens}`` durations (each only when that dimension's
    ``remaining`` is 0 or absent, since the other dimension's reset says nothing about this 429),
    Anthropic's ``anthropic-ratelimit-*-reset`` times of exhausted dimensions, and Gemini's
    ``RetryInfo.retryDelay`` in the error body. Negative values are dropped; the result is capped
    at ``MAX_RETRY_AFTER_S``. None when the vendor gave no hint.
    """
    found: list[float] = []
    if headers:
        ms = _header(headers, "retry-after-ms")
        if ms is not None:
            seconds = parse_duration(ms)
            if seconds is not None:
                found.append(seconds / 1000.0)
        plain = _header(headers, "retry-after")
        if plain is not None:
            seconds = _retry_after_header(plain)
            if seconds is not None:
                found.append(seconds)
        for dimension in ("requests", "tokens"):
            reset = _header(headers, f"x-ratelimit-reset-{dimension}")
            remaining = _header(headers, f"x-ratelimit-remaining-{dimension}")
            if reset is not None and (remaining is None or remaining.strip() == "0"):
                seconds = parse_duration(reset)
                if seconds is not None:
                    found.append(seconds)
        for dimension in ("requests", "tokens", "input-tokens", "output-tokens"):
            # Anthropic: an RFC 3339 reset time per dimension; only an exhausted one explains a 429.
            reset = _header(headers, f"anthropic-ratelimit-{dimension}-reset")
            remaining = _header(headers, f"anthropic-ratelimit-{dimension}-remaining")
            if reset is not None and remaining is not None and remaining.strip() == "0":
                with contextlib.suppress(ValueError):
                    found.append(datetime.fromisoformat(reset.strip()).timestamp() - time.time())
    for detail in _details(body):
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            seconds = parse_duration(str(detail.get("retryDelay", "")))
            if seconds is not None:
                found.append(seconds)
    found = [s for s in found if s >= 0 and math.isfinite(s)]
    return min(max(found), MAX_RETRY_AFTER_S) if found else None


# ---- error bodies --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ErrorInfo:
    """The fields of a vendor error body, whatever its shape."""

    code: str | None = None
    type: str | None = None
    message: str = ""
    inner_code: str | None = None
    status_name: str | None = None  # Gemini's google.rpc status (RESOURCE_EXHAUSTED)
    detail_code: str | None = None  # Anthropic's error.details.error_code
    inner: Mapping[str, Any] | None = None
    raw: Any = None


def parse_body(raw: bytes | str | None) -> Any:
    """A response body as JSON when it is JSON, else the text (for HTML error pages)."""
    if raw is None:
        return None
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith(("b'", 'b"')):
            # litellm puts stream error bodies into messages as a bytes repr
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                value = None
            if isinstance(value, bytes):
                raw = value
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "replace")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


def _str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _error_info(body: Any) -> _ErrorInfo:
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]  # Gemini's non-SSE stream wraps the error in a list
    if not isinstance(body, dict):
        return _ErrorInfo(message=body if isinstance(body, str) else "", raw=body)
    error = body.get("error", body)
    if isinstance(error, str):
        return _ErrorInfo(message=error, code=_str(body.get("code")), type=_str(body.get("type")), raw=body)
    if not isinstance(error, dict):
        return _ErrorInfo(raw=body)
    code = error.get("code")
    status_name = _str(error.get("status"))
    if isinstance(code, int):  # Gemini: code is the HTTP status, the name is in "status"
        code = None
    inner = error.get("innererror")
    details = error.get("details")
    detail_code = _str(details.get("error_code")) if isinstance(details, dict) else None
    if isinstance(details, list):  # google.rpc.ErrorInfo carries the specific reason (API_KEY_INVALID)
        reasons = [d.get("reason") for d in details if isinstance(d, dict) and d.get("reason")]
        detail_code = _str(reasons[0]) if reasons else None
    return _ErrorInfo(
        code=_str(code),
        type=_str(error.get("type")),
        message=str(error.get("message") or ""),
        inner_code=_str(inner.get("code")) if isinstance(inner, dict) else None,
        status_name=status_name if status_name and not status_name.isdigit() else None,
        detail_code=detail_code,
        inner=inner if isinstance(inner, dict) else None,
        raw=body,
    )


def _details(body: Any) -> Iterator[dict[str, Any]]:
    if isinstance(body, list) and body:
        body = body[0]
    if not isinstance(body, dict):
        return
    error = body.get("error", body)
    details = error.get("details") if isinstance(error, dict) else None
    if isinstance(details, list):
        yield from (d for d in details if isinstance(d, dict))


def _is_daily_quota(body: Any) -> str | None:
    """The quota id of a Gemini per-day (or per-month) quota violation, if that is what this is."""
    for detail in _details(body):
        if str(detail.get("@type", "")).endswith("google.rpc.QuotaFailure"):
            for violation in detail.get("violations") or []:
                if isinstance(violation, dict):
                    quota_id = str(violation.get("quotaId", ""))
                    if "PerDay" in quota_id or "PerMonth" in quota_id:
                        return quota_id
    return None


def _api_key_invalid(body: Any) -> bool:
    return any(d.get("reason") == "API_KEY_INVALID" for d in _details(body))


def _azure_categories(inner: Mapping[str, Any] | None) -> tuple[str, ...]:
    results = (inner or {}).get("content_filter_result")
    if not isinstance(results, dict):
        return ()
    return tuple(
        sorted(
            name
            for name, verdict in results.items()
            if isinstance(verdict, dict) and (verdict.get("filtered") or verdict.get("detected"))
        )
    )


# Structured codes (lower-cased) that mean "the vendor's safety system blocked this".
_BLOCK_CODES = frozenset(
    {
        "content_filter",
        "content_policy_violation",
        "invalid_prompt",
        "responsibleaipolicyviolation",
        "data_inspection_failed",
        "datainspectionfailed",
        "internalerror.algo.datainspectionfailed",
        "content_filtered",
        "guardrail_intervened",
    }
)
# Structured codes that mean "out of money or quota": pause the target.
_PAUSE_CODES = frozenset(
    {"insufficient_quota", "enforced_spend_limit_reached", "arrearage", "billing_not_active"}
)

# Body-text fallbacks, per vendor, for blocks that arrive without a structured code.
_BLOCK_TEXT: tuple[tuple[str, str], ...] = (
    ("content exists risk", "Content Exists Risk"),  # DeepSeek
    ("data may contain inappropriate content", "data_inspection_failed"),  # DashScope
    ("content filtering policy", "content_filtering_policy"),  # Anthropic
    ("rejected as a result of our safety system", "content_policy_violation"),  # OpenAI
    ("violating our usage policy", "invalid_prompt"),  # OpenAI reasoning models
    ("content management policy", "content_filter"),  # Azure OpenAI
)
_PAUSE_TEXT: tuple[tuple[str, str], ...] = (
    ("insufficient balance", "Insufficient Balance"),  # DeepSeek 402
    ("account is in good standing", "Arrearage"),  # DashScope
)


def _marker(table: tuple[tuple[str, str], ...], text: str) -> str | None:
    lowered = text.lower()
    return next((code for needle, code in table if needle in lowered), None)


_GENERIC_CODES = frozenset(
    {"invalid_request_error", "server_error", "api_error", "error", "unknown_error", "none"}
)


def _vendor_code(info: _ErrorInfo, status: int | None, headers: Mapping[str, str] | None) -> str | None:
    """The most specific raw code the vendor gave (for the store), never a made-up one."""
    amzn = _header(headers, "x-amzn-errortype") if headers else None
    if amzn:
        return amzn.split(":", 1)[0]
    for candidate in (info.detail_code, info.code, info.type, info.status_name):
        if candidate and candidate.lower() not in _GENERIC_CODES and not candidate.isdigit():
            return candidate if info.inner_code is None else f"{candidate}/{info.inner_code}"
    if info.code or info.type:
        return info.code or info.type
    return f"http_{status}" if status else None


def classify_error_body(
    status: int | None,
    body: Any,
    headers: Mapping[str, str] | None = None,
    *,
    in_stream: bool = False,
    message: str = "",
    redactor: Redactor | None = None,
) -> Classified:
    """Classify an HTTP error response, or (``in_stream``) an error object inside a 200 stream.

    ``status`` is the real HTTP status (None for an error event in a stream); ``body`` the parsed
    body (a JSON value, or text for an HTML page); ``message`` extra text (an exception's) used
    only for the string fallbacks.
    """
    info = _error_info(body)
    text = info.message or message or (body if isinstance(body, str) else "")
    error = short_error(f"{status or 'stream'}: {text}" if text else f"HTTP {status}", redactor)
    codes = {
        c.lower() for c in (info.code, info.type, info.inner_code, info.detail_code, info.status_name) if c
    }
    vendor_code = _vendor_code(info, status, headers)
    base = Classified(Outcome.FAILED_PERMANENT, vendor_code=vendor_code, status_code=status, error=error)

    # 1. blocks on structured fields
    if codes & _BLOCK_CODES:
        return replace(base, outcome=Outcome.BLOCKED_BY_VENDOR, categories=_azure_categories(info.inner))
    # 2. money and quota on structured fields
    daily = _is_daily_quota(body) if status == 429 or "resource_exhausted" in codes else None
    if codes & _PAUSE_CODES or status == 402 or daily:
        code = f"{vendor_code}:{daily}" if daily else vendor_code
        if code is None or code.lower() in _GENERIC_CODES:
            code = _marker(_PAUSE_TEXT, text) or code
        return replace(base, vendor_code=code, pause_target=True)
    # 3. per-vendor body text, only where a block or a quota error can arrive (never 5xx/429)
    lowered = f"{text} {message}"
    if status is None or status in (200, 400, 403, 422):
        block = _marker(_BLOCK_TEXT, lowered)
        if block is not None:
            return replace(base, outcome=Outcome.BLOCKED_BY_VENDOR, vendor_code=block)
        pause = _marker(_PAUSE_TEXT, lowered)
        if pause is not None:
            return replace(base, vendor_code=pause, pause_target=True)
    lowered = lowered.lower()
    # 4. a failure inside a stream that was not a block: the answer is incomplete
    if in_stream or status is None:
        return replace(base, outcome=Outcome.INCOMPLETE, retryable=True)
    # 5. by status (a vendor's explicit x-should-retry, which the OpenAI and Anthropic SDKs obey, wins)
    if status == 429 and "request too large" in lowered:
        return replace(base, vendor_code="request_too_large")  # can never fit: permanent
    should_retry = (_header(headers, "x-should-retry") or "").strip().lower() if headers else ""
    if should_retry == "true" or (should_retry != "false" and (status in (408, 429) or status >= 500)):
        return replace(
            base, outcome=Outcome.FAILED_TRANSIENT, retryable=True, retry_after_s=retry_after(headers, body)
        )
    if status in (401, 403) or _api_key_invalid(body):
        return replace(base, pause_target=True)
    return base  # every other 4xx (and anything unexpected): permanent, never safe


# ---- finish reasons ------------------------------------------------------------------------------

_COMPLETED = frozenset(
    {"stop", "end_turn", "stop_sequence", "STOP", "tool_calls", "tool_use", "function_call", "COMPLETE"}
)
_LENGTH = frozenset({"length", "max_tokens", "MAX_TOKENS", "model_context_window_exceeded"})
_BLOCKED = frozenset(
    {
        "content_filter",
        "refusal",
        "SAFETY",
        "PROHIBITED_CONTENT",
        "RECITATION",
        "BLOCKLIST",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "OTHER",
        "LANGUAGE",
        "guardrail_intervened",
        "content_filtered",
        "sensitive",
        "ERROR_TOXIC",
    }
)


def classify_finish(raw: str | None, *, categories: Iterable[str] = ()) -> Classified:
    """Classify a response that ended normally at the HTTP level, by its raw finish/stop reason.

    ``None`` means the vendor never said the answer was finished: ``INCOMPLETE``. A length stop
    (``length``/``max_tokens``) is ``COMPLETED`` with ``truncated``: the configured budget ended
    the answer, and the critic judges what the model wrote. Every safety or policy stop is
    ``BLOCKED_BY_VENDOR`` (Gemini's ``OTHER``/``RECITATION`` included; the raw code says which).
    An unknown reason is ``INCOMPLETE``: never guessed to be a finished answer.
    """
    if raw is None:
        return Classified(
            Outcome.INCOMPLETE,
            vendor_code="no_finish_reason",
            retryable=True,
            error="stream ended without a finish reason",
        )
    if raw in _COMPLETED:
        return Classified(Outcome.COMPLETED, vendor_code=raw)
    if raw in _LENGTH:
        return Classified(Outcome.COMPLETED, vendor_code=raw, truncated=True)
    if raw in _BLOCKED:
        return Classified(Outcome.BLOCKED_BY_VENDOR, vendor_code=raw, categories=tuple(categories))
    if raw.lower() in ("error", "network_error", "malformed_response"):
        return Classified(Outcome.INCOMPLETE, vendor_code=raw, retryable=True, error=f"finish_reason={raw}")
    return Classified(Outcome.INCOMPLETE, vendor_code=raw, error=f"unknown finish reason {raw!r}")


@dataclass(frozen=True, slots=True)
class EndSignal:
    """How a vendor said a response ended: its raw finish/stop reason, or a prompt-level block."""

    finish: str | None = None
    prompt_block: str | None = None
    categories: tuple[str, ...] = ()


def _blocked_ratings(ratings: Any) -> tuple[str, ...]:
    if not isinstance(ratings, list):
        return ()
    return tuple(str(r.get("category")) for r in ratings if isinstance(r, dict) and r.get("blocked"))


def end_signal(payload: Any) -> EndSignal | None:
    """The end-of-response information in a response body or stream event, in any wire format.

    Reads OpenAI ``choices[0].finish_reason`` (and Azure ``content_filter_results``), Anthropic
    ``stop_reason``/``stop_details`` (message or ``message_delta``), Gemini
    ``promptFeedback.blockReason`` and ``candidates[0].finishReason``/``safetyRatings``, and
    Bedrock ``stopReason``. None when the payload carries no end information.
    """
    if not isinstance(payload, dict):
        return None
    feedback = payload.get("promptFeedback")
    if isinstance(feedback, dict) and feedback.get("blockReason"):
        return EndSignal(
            prompt_block=str(feedback["blockReason"]),
            categories=_blocked_ratings(feedback.get("safetyRatings")),
        )
    candidates = payload.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
        reason = candidates[0].get("finishReason")
        if reason:
            return EndSignal(
                finish=str(reason), categories=_blocked_ratings(candidates[0].get("safetyRatings"))
            )
        return None
    choices = payload.get("choices")
    if isinstance(choices, list):
        if choices and isinstance(choices[0], dict) and choices[0].get("finish_reason"):
            choice = choices[0]
            return EndSignal(
                finish=str(choice["finish_reason"]),
                categories=_azure_categories({"content_filter_result": choice.get("content_filter_results")}),
            )
        return None
    delta = payload.get("delta") if payload.get("type") == "message_delta" else payload
    if isinstance(delta, dict) and delta.get("stop_reason"):
        details = delta.get("stop_details")
        category = details.get("category") if isinstance(details, dict) else None
        return EndSignal(finish=str(delta["stop_reason"]), categories=(str(category),) if category else ())
    if payload.get("stopReason"):
        return EndSignal(finish=str(payload["stopReason"]))
    return None


def classify_end(signal: EndSignal | None) -> Classified:
    """Classify a response by its end signal (None: the vendor never said it was finished)."""
    if signal is None:
        return classify_finish(None)
    if signal.prompt_block is not None:
        return Classified(
            Outcome.BLOCKED_BY_VENDOR,
            vendor_code=f"blockReason:{signal.prompt_block}",
            categories=signal.categories,
        )
    return classify_finish(signal.finish, categories=signal.categories)


# ---- exceptions ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Evidence:
    http_status: int | None = None  # from the raw HTTP response (trusted)
    provider_status: int | None = None  # what litellm says the provider returned
    wrapper_status: int | None = None  # litellm's own (possibly rewritten) status
    body: Any = None
    headers: Mapping[str, str] | None = None
    connection: bool = False
    timeout: bool = False
    mid_stream: bool = False
    partial: str = ""
    provider_fields: Mapping[str, Any] | None = None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 16:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for nxt in (getattr(current, "original_exception", None), current.__cause__, current.__context__):
            if isinstance(nxt, BaseException):
                todo.append(nxt)


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _module(exc: BaseException) -> str:
    return type(exc).__module__ or ""


def _gather(exc: BaseException) -> _Evidence:
    ev = _Evidence()
    for item in _chain(exc):
        names = _names(item)
        module = _module(item)
        if "MidStreamFallbackError" in names:
            ev.mid_stream = True
            ev.partial = ev.partial or str(getattr(item, "generated_content", "") or "")
        if isinstance(item, httpx.HTTPStatusError):
            ev.http_status = ev.http_status or item.response.status_code
            ev.headers = ev.headers or item.response.headers
            if ev.body is None:
                with contextlib.suppress(httpx.ResponseNotRead):
                    ev.body = parse_body(item.response.content) if item.response.content else None
            continue
        if isinstance(item, (httpx.TimeoutException, TimeoutError | asyncio.TimeoutError)):
            ev.timeout = True
        elif isinstance(item, httpx.TransportError | ConnectionError) or module.startswith("aiohttp"):
            ev.connection = True
        if "APITimeoutError" in names or ("Timeout" in names and module.startswith("litellm")):
            ev.timeout = True
        elif "APIConnectionError" in names:
            ev.connection = True
        status = getattr(item, "status_code", None)
        if module.startswith("openai") and isinstance(status, int) and "APIStatusError" in names:
            ev.http_status = ev.http_status or status  # the SDK's own exception: the real status
            response = getattr(item, "response", None)
            if isinstance(response, httpx.Response):
                ev.headers = ev.headers or response.headers
        elif module.startswith("litellm.llms") and isinstance(status, int):
            if not getattr(item, "status_code_is_synthesized", False):
                ev.provider_status = ev.provider_status or status
            if ev.body is None and not isinstance(getattr(item, "body", None), dict):
                parsed = parse_body(str(getattr(item, "message", "") or ""))
                ev.body = parsed if isinstance(parsed, dict | list) else None
            raw_headers = getattr(item, "headers", None)
            if ev.headers is None and isinstance(raw_headers, Mapping):
                ev.headers = raw_headers
        elif module.startswith("litellm") and isinstance(status, int):
            ev.wrapper_status = ev.wrapper_status or status
            provider = getattr(item, "provider_status_code", None)
            if isinstance(provider, int):
                ev.provider_status = ev.provider_status or provider
        body = getattr(item, "body", None)
        if ev.body is None and isinstance(body, dict):
            ev.body = body
        headers = getattr(item, "litellm_response_headers", None)
        if ev.headers is None and isinstance(headers, Mapping):
            ev.headers = headers
        fields = getattr(item, "provider_specific_fields", None)
        if ev.provider_fields is None and isinstance(fields, Mapping):
            ev.provider_fields = fields
    return ev


_FINISH_IN_TEXT = re.compile(r"finish_reason: (\w+)")


def _stream_failure_code(message: str) -> str | None:
    """What litellm's message says about a failed stream: the raw finish reason or a missing one."""
    if "Stream ended before a finish_reason" in message:
        return "no_finish_reason"
    match = _FINISH_IN_TEXT.search(message)
    return match.group(1) if match else None


def classify_exception(
    exc: BaseException, *, stream_started: bool = False, redactor: Redactor | None = None
) -> tuple[Classified, str]:
    """Classify an exception raised while sending or streaming; returns it with any partial text.

    ``stream_started``: the adapter had already received a 200 and stream data, so a failure now
    means an incomplete answer (unless the error is a block or a quota error).
    """
    ev = _gather(exc)
    message = str(exc)
    body = ev.body
    if ev.provider_fields and isinstance(body, dict) and "innererror" not in body:
        inner = ev.provider_fields.get("innererror")
        if isinstance(inner, dict):  # litellm moves Azure's innererror here (PRs #12324/#16231)
            body = {"error": {**body.get("error", body), "innererror": inner}}
    in_stream = stream_started or ev.mid_stream
    if ev.http_status is not None and ev.http_status >= 400:
        result = classify_error_body(ev.http_status, body, ev.headers, message=message, redactor=redactor)
    elif ev.connection or ev.timeout:
        kind = "timeout" if ev.timeout and not ev.connection else "connection_error"
        if in_stream:
            result = classify_error_body(
                None, body, ev.headers, in_stream=True, message=message, redactor=redactor
            )
            if result.outcome is Outcome.INCOMPLETE and body is None:
                result = replace(result, vendor_code=_stream_failure_code(message) or kind)
        else:
            result = Classified(
                Outcome.FAILED_TRANSIENT,
                vendor_code=kind,
                retryable=True,
                error=short_error(message, redactor),
            )
    elif in_stream:
        result = classify_error_body(
            None, body, ev.headers, in_stream=True, message=message, redactor=redactor
        )
        if result.outcome is Outcome.INCOMPLETE and body is None:
            result = replace(result, vendor_code=_stream_failure_code(message) or "stream_error")
    elif ev.provider_status is not None or ev.wrapper_status is not None:
        status = ev.provider_status or ev.wrapper_status
        result = classify_error_body(status, body, ev.headers, message=message, redactor=redactor)
    else:
        result = Classified(
            Outcome.FAILED_PERMANENT,
            vendor_code=type(exc).__name__,
            error=short_error(f"{type(exc).__name__}: {message}", redactor),
        )
    return result, ev.partial
