"""The OpenAI chat-completions wire format, and the OpenAI-compatible vendors' error shapes.

Azure OpenAI, DeepSeek and DashScope's compatible mode speak this protocol but fail in their own
ways; each scenario here reproduces one vendor's documented (or observed) response byte shape.
"""

from __future__ import annotations

import base64
from typing import Any

from simulator.httpserver import Responder
from simulator.ratelimit import format_reset
from simulator.wire import (
    Call,
    Fields,
    Scenario,
    cut_body,
    dumps,
    groups,
    json_text,
    optional_int,
    send_json,
    send_stream,
    stall,
    text_of,
)

_FINGERPRINT = "fp_sim0001"


def _error(message: str, type_: str | None, code: str | None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def rate_headers(call: Call) -> list[tuple[str, str]]:
    """``x-ratelimit-*`` headers as OpenAI sends them on every response (when a limit is set)."""
    limit = call.limit
    if limit is None:
        return [("x-request-id", call.request_id)]
    return [
        ("x-request-id", call.request_id),
        ("x-ratelimit-limit-requests", str(limit.limit)),
        ("x-ratelimit-remaining-requests", str(limit.remaining)),
        ("x-ratelimit-reset-requests", format_reset(limit.reset_s) if limit.reset_s > 0 else "0s"),
    ]


def parse(body: dict[str, Any], url_model: str | None, url_stream: bool, query: dict[str, str]) -> Fields:
    """The fields of a chat-completions request (the last user message is the prompt)."""
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list")
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    prompt = text_of(users[-1].get("content", "")) if users else ""
    options = body.get("stream_options") or {}
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    return Fields(
        model=str(body.get("model") or url_model or ""),
        prompt=prompt,
        stream=bool(body.get("stream", False)),
        include_usage=bool(options.get("include_usage", False)) if isinstance(options, dict) else False,
        max_tokens=optional_int(max_tokens, "max_tokens"),
        seed=optional_int(body.get("seed"), "seed"),
    )


# ---- successful shapes ---------------------------------------------------------------------------


def _chunk(call: Call, delta: str, finish: str | None, extra: str = "") -> bytes:
    usage = ',"usage":null' if call.include_usage else ""
    fin = "null" if finish is None else json_text(finish)
    return (
        f'data: {{"id":"{call.request_id}","object":"chat.completion.chunk","created":{call.created},'
        f'"model":{json_text(call.model)},"system_fingerprint":"{_FINGERPRINT}",'
        f'"choices":[{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{fin}{extra}}}]{usage}}}\n\n'
    ).encode()


def _usage(call: Call, completion_tokens: int | None = None) -> dict[str, int]:
    completion = call.reply.completion_tokens if completion_tokens is None else completion_tokens
    prompt = call.reply.prompt_tokens
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _usage_chunk(call: Call, completion_tokens: int | None = None) -> bytes:
    usage = dumps(_usage(call, completion_tokens)).decode()
    return (
        f'data: {{"id":"{call.request_id}","object":"chat.completion.chunk","created":{call.created},'
        f'"model":{json_text(call.model)},"system_fingerprint":"{_FINGERPRINT}","choices":[],"usage":{usage}}}\n\n'
    ).encode()


def stream_events(
    call: Call, *, finish: str | None, pieces: list[str] | None = None, extra: str = ""
) -> list[bytes]:
    """Role chunk, one chunk per group of pieces, the finish chunk, usage (if asked) and ``[DONE]``."""
    parts = groups(call) if pieces is None else pieces
    events = [_chunk(call, '{"role":"assistant","content":"","refusal":null}', None)]
    events.extend(_chunk(call, f'{{"content":{json_text(p)}}}', None) for p in parts)
    if finish is not None:
        events.append(_chunk(call, "{}", finish, extra))
    if call.include_usage:
        events.append(_usage_chunk(call, len(parts) if pieces is not None else None))
    events.append(b"data: [DONE]\n\n")
    return events


def completion_body(
    call: Call, *, content: str | None, finish: str | None, completion_tokens: int | None = None
) -> dict[str, Any]:
    """A non-streamed ``chat.completion`` object."""
    return {
        "id": call.request_id,
        "object": "chat.completion",
        "created": call.created,
        "model": call.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": _usage(call, completion_tokens),
        "system_fingerprint": _FINGERPRINT,
    }


async def _ok(call: Call, responder: Responder, finish: str | None) -> int:
    if call.stream:
        return await send_stream(responder, call, stream_events(call, finish=finish), rate_headers(call))
    body = completion_body(call, content=call.reply.text, finish=finish)
    return send_json(responder, 200, body, rate_headers(call))


async def answer(call: Call, responder: Responder) -> int:
    """The normal answer of a simulated model (a blocked one ends with ``content_filter``)."""
    if call.reply.blocked:
        return await _content_filter(call, responder)
    return await _ok(call, responder, call.reply.finish_reason)


# ---- faults --------------------------------------------------------------------------------------


def _status(
    status: int, body: dict[str, Any] | bytes, headers: list[tuple[str, str]] | None = None
) -> Scenario:
    async def run(call: Call, responder: Responder) -> int:
        extra = [*rate_headers(call), *(headers or [])]
        if isinstance(body, bytes):
            responder.send(status, [("content-type", "text/html"), *extra], body)
            return status
        return send_json(responder, status, body, extra)

    return run


def rate_limited(call: Call, reset_s: float) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """OpenAI's requests-per-minute 429 body and headers, for a wait of ``reset_s`` seconds."""
    limit = call.limit.limit if call.limit else 600
    ms = max(1, round(reset_s * 1000))
    body = _error(
        f"Rate limit reached for {call.model} in organization org-sim on requests per min (RPM): "
        f"Limit {limit}, Used {limit}, Requested 1. Please try again in {format_reset(reset_s)}. "
        "Visit https://platform.openai.com/account/rate-limits to learn more.",
        "requests",
        "rate_limit_exceeded",
    )
    headers = [
        ("x-request-id", call.request_id),
        ("retry-after", str(max(1, round(reset_s)))),
        ("retry-after-ms", str(ms)),
        ("x-ratelimit-limit-requests", str(limit)),
        ("x-ratelimit-remaining-requests", "0"),
        ("x-ratelimit-reset-requests", format_reset(reset_s)),
        ("x-ratelimit-limit-tokens", "150000"),
        ("x-ratelimit-remaining-tokens", "149000"),
        ("x-ratelimit-reset-tokens", "6m0s"),
    ]
    return body, headers


async def _rate_limit(call: Call, responder: Responder) -> int:
    body, headers = rate_limited(call, 1.5)
    return send_json(responder, 429, body, headers)


async def _rate_limit_reset_only(call: Call, responder: Responder) -> int:
    # Some gateways send only the reset duration, no retry-after.
    body, headers = rate_limited(call, 1.5)
    headers = [(k, v) for k, v in headers if not k.startswith("retry-after")]
    headers = [(k, "6m0s" if k == "x-ratelimit-reset-requests" else v) for k, v in headers]
    return send_json(responder, 429, body, headers)


async def _azure_rate_limit(call: Call, responder: Responder) -> int:
    body = {
        "error": {
            "code": "429",
            "message": "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
            "2024-10-21 have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry "
            "after 2 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further "
            "increase the default rate limit.",
        }
    }
    return send_json(responder, 429, body, [("retry-after-ms", "2000"), ("retry-after", "2")])


async def _conn_reset(call: Call, responder: Responder) -> int:
    responder.reset()
    return 0


async def _cut_before_first_chunk(call: Call, responder: Responder) -> int:
    if call.stream:
        return await send_stream(
            responder, call, stream_events(call, finish="stop"), rate_headers(call), cut_after=0
        )
    return _cut_body(call, responder)


async def _cut_after_first_chunk(call: Call, responder: Responder) -> int:
    if call.stream:
        return await send_stream(
            responder, call, stream_events(call, finish="stop"), rate_headers(call), cut_after=3
        )
    return _cut_body(call, responder)


def _cut_body(call: Call, responder: Responder) -> int:
    return cut_body(responder, completion_body(call, content=call.reply.text, finish="stop"))


async def _stream_error_event(call: Call, responder: Responder) -> int:
    """A 200 stream that carries an ``error`` object mid-way (OpenAI and compatible servers do this)."""
    if not call.stream:
        return await _status(
            500, _error("The server had an error while processing your request.", "server_error", None)
        )(call, responder)
    events = stream_events(call, finish=None)[:3]
    events.append(
        b'data: {"error":{"message":"The server had an error while processing your '
        b'request. Sorry about that!",'
        b'"type":"server_error","param":null,"code":"server_error"}}\n\n'
    )
    return await send_stream(responder, call, events, rate_headers(call))


async def _no_finish_reason(call: Call, responder: Responder) -> int:
    """Every content chunk and ``[DONE]``, but no finish reason anywhere (an upstream that gave up)."""
    return await _ok(call, responder, None)


async def _finish_error(call: Call, responder: Responder) -> int:
    """``finish_reason: "error"`` with partial text, as OpenRouter-style aggregators report a failure."""
    pieces = list(call.reply.pieces[:3])
    if call.stream:
        events = stream_events(call, finish="error", pieces=pieces)
        return await send_stream(responder, call, events, rate_headers(call))
    body = completion_body(call, content="".join(pieces), finish="error", completion_tokens=len(pieces))
    return send_json(responder, 200, body, rate_headers(call))


async def _stall(call: Call, responder: Responder) -> int:
    return await stall(responder, 200, [("content-type", "text/event-stream")], b"")


async def _stall_after_first_chunk(call: Call, responder: Responder) -> int:
    first = b"".join(stream_events(call, finish="stop")[:2])
    return await stall(responder, 200, [("content-type", "text/event-stream")], first)


# ---- safety blocks -------------------------------------------------------------------------------


async def _content_filter(call: Call, responder: Responder) -> int:
    """OpenAI: 200 with ``finish_reason="content_filter"`` after some output."""
    pieces = list(call.reply.pieces[:4])
    if call.stream:
        events = stream_events(call, finish="content_filter", pieces=pieces)
        return await send_stream(responder, call, events, rate_headers(call))
    body = completion_body(
        call, content="".join(pieces), finish="content_filter", completion_tokens=len(pieces)
    )
    return send_json(responder, 200, body, rate_headers(call))


_SAFE = {"filtered": False, "severity": "safe"}


def _azure_results(filtered: str | None) -> dict[str, Any]:
    results: dict[str, Any] = {k: dict(_SAFE) for k in ("hate", "self_harm", "sexual", "violence")}
    if filtered:
        results[filtered] = {"filtered": True, "severity": "high"}
    return results


async def _azure_output_filter(call: Call, responder: Responder) -> int:
    """Azure: 200, ``finish_reason="content_filter"``, ``content: null``, per-category results."""
    prompt_results = [{"prompt_index": 0, "content_filter_results": _azure_results(None)}]
    if call.stream:
        first = (
            f'data: {{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":'
            f"{dumps(prompt_results).decode()}}}\n\n"
        ).encode()
        results = dumps(_azure_results("violence")).decode()
        events = [
            first,
            *stream_events(
                call, finish="content_filter", pieces=[], extra=f',"content_filter_results":{results}'
            ),
        ]
        return await send_stream(responder, call, events, [("apim-request-id", call.request_id)])
    body = completion_body(call, content=None, finish="content_filter", completion_tokens=0)
    body["choices"][0]["content_filter_results"] = _azure_results("violence")
    body["prompt_filter_results"] = prompt_results
    return send_json(responder, 200, body, [("apim-request-id", call.request_id)])


async def _azure_prompt_filter(call: Call, responder: Responder) -> int:
    """Azure: 400 ``code=content_filter`` with ``innererror.code=ResponsibleAIPolicyViolation``."""
    results = _azure_results("violence")
    results["jailbreak"] = {"filtered": False, "detected": False}
    body = {
        "error": {
            "message": "The response was filtered due to the prompt triggering Azure "
            "OpenAI's content management "
            "policy. Please modify your prompt and retry. To learn more about our content filtering policies "
            "please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": results},
        }
    }
    return send_json(responder, 400, body, [("apim-request-id", call.request_id)])


_POLICY = _error(
    "Your request was rejected as a result of our safety system. Your request may "
    "contain content that is not "
    "allowed by our safety system.",
    "invalid_request_error",
    "content_policy_violation",
)
_INVALID_PROMPT = _error(
    "Invalid prompt: your prompt was flagged as potentially violating our usage "
    "policy. Please try again with a "
    "different prompt: https://platform.openai.com/docs/guides/reasoning#advice-on-prompting",
    "invalid_request_error",
    "invalid_prompt",
)
_DEEPSEEK_RISK = _error("Content Exists Risk", "invalid_request_error", "invalid_request_error")
_DASHSCOPE_INPUT = {
    "error": {
        "code": "data_inspection_failed",
        "param": None,
        "message": "Input data may contain inappropriate content.",
        "type": "data_inspection_failed",
    },
    "id": "chatcmpl-sim",
    "request_id": "00000000-0000-0000-0000-000000000000",
}
_DASHSCOPE_NATIVE = {
    "code": "DataInspectionFailed",
    "message": "Input data may contain inappropriate content.",
    "request_id": "00000000-0000-0000-0000-000000000000",
}


async def _dashscope_output_inspection(call: Call, responder: Responder) -> int:
    """DashScope: the output check fails mid-stream (an ``error`` event), or a 400 when not streaming."""
    error = {
        "error": {
            "code": "data_inspection_failed",
            "param": None,
            "message": "Output data may contain inappropriate content.",
            "type": "data_inspection_failed",
        }
    }
    if not call.stream:
        return send_json(responder, 400, error)
    events = [*stream_events(call, finish=None)[:3], b"data: " + dumps(error) + b"\n\n"]
    return await send_stream(responder, call, events, [])


# ---- quota, auth, bad requests ---------------------------------------------------------------------

_INSUFFICIENT_QUOTA = _error(
    "You exceeded your current quota, please check your plan and billing details. "
    "For more information on this "
    "error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
    "insufficient_quota",
    "insufficient_quota",
)
_TOO_LARGE = _error(
    "Request too large for gpt-4o in organization org-sim on tokens per min (TPM): "
    "Limit 30000, Requested 45210. "
    "The input or output tokens must be reduced in order to run successfully. Visit "
    "https://platform.openai.com/account/rate-limits to learn more.",
    "tokens",
    "rate_limit_exceeded",
)
_DEEPSEEK_BALANCE = _error("Insufficient Balance", "unknown_error", "invalid_request_error")
_DASHSCOPE_ARREARAGE = {
    "error": {
        "code": "Arrearage",
        "param": None,
        "message": "Access denied, please make sure your account is in good standing.",
        "type": "Arrearage",
    },
    "request_id": "00000000-0000-0000-0000-000000000000",
}


async def _auth_401(call: Call, responder: Responder) -> int:
    # Echoes the whole key on purpose (real vendors echo a masked one): proves the gateway redacts.
    body = _error(
        f"Incorrect API key provided: {call.api_key}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    )
    return send_json(responder, 401, body, [("x-request-id", call.request_id)])


async def _custom_error(call: Call, responder: Responder) -> int:
    """Status from ``x-sim-status`` and raw body from ``x-sim-body`` (base64): for property tests."""
    status = int(call.headers.get("x-sim-status", "400"))
    if not 100 <= status <= 599:
        raise ValueError(f"x-sim-status out of range: {status}")
    body = base64.b64decode(call.headers.get("x-sim-body", ""))
    content_type = call.headers.get("x-sim-content-type", "application/json")
    responder.send(status, [("content-type", content_type)], body)
    return status


async def _echo_rate_limit_400(call: Call, responder: Responder) -> int:
    """A 400 whose message echoes the prompt (which here talks about rate limits)."""
    body = _error(
        "Invalid request: unsupported content in message: "
        f"'how do I avoid a rate limit 429 when {call.prompt[:40]}'",
        "invalid_request_error",
        None,
    )
    return send_json(responder, 400, body)


SCENARIOS: dict[str, Scenario] = {
    # transient
    "http_500": _status(
        500,
        _error(
            "The server had an error while processing your request. Sorry about that!", "server_error", None
        ),
    ),
    "http_502": _status(
        502, b"<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>"
    ),
    "http_503": _status(
        503,
        _error("The engine is currently overloaded, please try again later.", "server_error", None),
        [("retry-after", "2")],
    ),
    "http_504": _status(504, b"<html><body><h1>504 Gateway Time-out</h1></body></html>"),
    "http_408": _status(408, _error("Request timed out.", "timeout", None)),
    "rate_limit": _rate_limit,
    "rate_limit_reset_only": _rate_limit_reset_only,
    "azure_rate_limit": _azure_rate_limit,
    "conn_reset": _conn_reset,
    "cut_before_first_chunk": _cut_before_first_chunk,
    "cut_after_first_chunk": _cut_after_first_chunk,
    "stream_error_event": _stream_error_event,
    "no_finish_reason": _no_finish_reason,
    "finish_error": _finish_error,
    "stall": _stall,
    "stall_after_first_chunk": _stall_after_first_chunk,
    # safety blocks
    "content_filter": _content_filter,
    "azure_output_filter": _azure_output_filter,
    "azure_prompt_filter": _azure_prompt_filter,
    "openai_policy_violation": _status(400, _POLICY),
    "openai_invalid_prompt": _status(400, _INVALID_PROMPT),
    "deepseek_content_risk": _status(400, _DEEPSEEK_RISK),
    "dashscope_input_inspection": _status(400, _DASHSCOPE_INPUT),
    "dashscope_output_inspection": _dashscope_output_inspection,
    "dashscope_native_inspection": _status(400, _DASHSCOPE_NATIVE),
    # quota and permanent
    "insufficient_quota": _status(429, _INSUFFICIENT_QUOTA),
    "request_too_large": _status(429, _TOO_LARGE),
    "deepseek_insufficient_balance": _status(402, _DEEPSEEK_BALANCE),
    "dashscope_arrearage": _status(400, _DASHSCOPE_ARREARAGE),
    "auth_401": _auth_401,
    "auth_403": _status(
        403,
        _error(
            "Country, region, or territory not supported",
            "request_forbidden",
            "unsupported_country_region_territory",
        ),
    ),
    "bad_request": _status(
        400,
        _error(
            "Invalid value for 'temperature': must be between 0 and 2.",
            "invalid_request_error",
            "invalid_value",
            "temperature",
        ),
    ),
    "not_found": _status(
        404,
        _error(
            "The model `sim-missing` does not exist or you do not have access to it.",
            "invalid_request_error",
            "model_not_found",
        ),
    ),
    # a 200 that is not the vendor's protocol: a proxy's maintenance page, small and huge (10 MB)
    "html_200": _status(200, b"<html><body><h1>Down for maintenance</h1></body></html>"),
    "huge_html_200": _status(200, b"<html><body>" + b"<p>maintenance</p>" * 600_000 + b"</body></html>"),
    "unknown_4xx": _status(418, _error("I'm a teapot.", "teapot", "teapot")),
    "echo_rate_limit_400": _echo_rate_limit_400,
    "custom_error": _custom_error,
}


def error_response(status: int, message: str) -> tuple[int, dict[str, Any]]:
    """A generic OpenAI-format error (bad JSON, unknown scenario, wrong key)."""
    code = "invalid_api_key" if status == 401 else None
    return status, _error(message, "invalid_request_error", code)


async def rate_limit_response(call: Call, responder: Responder, reset_s: float) -> int:
    """The 429 the vendor's own limiter sends."""
    body, headers = rate_limited(call, reset_s)
    return send_json(responder, 429, body, headers)


__all__ = ["SCENARIOS", "answer", "error_response", "parse", "rate_limit_response"]
