"""The Anthropic Messages API wire format (``POST /v1/messages``), answers and failures."""

from __future__ import annotations

from typing import Any

from simulator.httpserver import Responder
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

_STOP = {"stop": "end_turn", "length": "max_tokens"}
_REFUSAL_DETAILS = {
    "type": "refusal",
    "category": "cyber",
    "explanation": "This request was declined because it could enable cyber harm.",
}


def parse(body: dict[str, Any], url_model: str | None, url_stream: bool, query: dict[str, str]) -> Fields:
    """The fields of a Messages API request (the last user message is the prompt)."""
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list")
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return Fields(
        model=str(body.get("model", "")),
        prompt=text_of(users[-1].get("content", "")) if users else "",
        stream=bool(body.get("stream", False)),
        include_usage=True,
        max_tokens=optional_int(body.get("max_tokens"), "max_tokens"),
        seed=None,
    )


def _headers(call: Call) -> list[tuple[str, str]]:
    headers = [("request-id", f"req_{call.request_id[-24:]}")]
    if call.limit is not None:
        headers += [
            ("anthropic-ratelimit-requests-limit", str(call.limit.limit)),
            ("anthropic-ratelimit-requests-remaining", str(call.limit.remaining)),
        ]
    return headers


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: %b\ndata: %b\n\n" % (name.encode(), dumps(data))


def _message_id(call: Call) -> str:
    return f"msg_{call.request_id[-24:]}"


def _events(
    call: Call, pieces: list[str], stop_reason: str | None, stop_details: dict[str, Any] | None = None
) -> list[bytes]:
    start = {
        "type": "message_start",
        "message": {
            "id": _message_id(call),
            "type": "message",
            "role": "assistant",
            "model": call.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": call.reply.prompt_tokens, "output_tokens": 1},
        },
    }
    events = [
        _event("message_start", start),
        _event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        b'event: ping\ndata: {"type": "ping"}\n\n',
    ]
    events.extend(
        f'event: content_block_delta\ndata: {{"type":"content_block_delta","index":0,'
        f'"delta":{{"type":"text_delta","text":{json_text(p)}}}}}\n\n'.encode()
        for p in pieces
    )
    events.append(_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    if stop_reason is not None:
        delta: dict[str, Any] = {"stop_reason": stop_reason, "stop_sequence": None}
        if stop_details is not None:
            delta["stop_details"] = stop_details
        events.append(
            _event(
                "message_delta",
                {"type": "message_delta", "delta": delta, "usage": {"output_tokens": len(pieces)}},
            )
        )
        events.append(_event("message_stop", {"type": "message_stop"}))
    return events


def _message(
    call: Call, text: str, stop_reason: str, tokens: int, stop_details: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": _message_id(call),
        "type": "message",
        "role": "assistant",
        "model": call.model,
        "content": [{"type": "text", "text": text}] if text else [],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": call.reply.prompt_tokens, "output_tokens": tokens},
    }
    if stop_details is not None:
        body["stop_details"] = stop_details
    return body


async def answer(call: Call, responder: Responder) -> int:
    """The normal answer of a simulated model (a blocked one ends with ``stop_reason: refusal``)."""
    if call.reply.blocked:
        return await _refusal(call, responder)
    stop = _STOP[call.reply.finish_reason]
    if call.stream:
        return await send_stream(responder, call, _events(call, groups(call), stop), _headers(call))
    body = _message(call, call.reply.text, stop, call.reply.completion_tokens)
    return send_json(responder, 200, body, _headers(call))


def _error(type_: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": type_, "message": message}
    if details is not None:
        error["details"] = details
    return {"type": "error", "error": error, "request_id": "req_011SimulatedRequest00000"}


def error_response(status: int, message: str) -> tuple[int, dict[str, Any]]:
    """A generic Anthropic-format error (bad JSON, unknown scenario, wrong key)."""
    return status, _error("authentication_error" if status == 401 else "invalid_request_error", message)


def _rate_headers(retry_after_s: int) -> list[tuple[str, str]]:
    return [
        ("retry-after", str(retry_after_s)),
        ("anthropic-ratelimit-requests-limit", "50"),
        ("anthropic-ratelimit-requests-remaining", "0"),
        ("anthropic-ratelimit-requests-reset", "2026-01-01T00:00:03Z"),
        ("anthropic-ratelimit-input-tokens-limit", "30000"),
        ("anthropic-ratelimit-input-tokens-remaining", "30000"),
    ]


async def rate_limit_response(call: Call, responder: Responder, reset_s: float) -> int:
    """The 429 the vendor's own limiter sends."""
    body = _error(
        "rate_limit_error",
        "This request would exceed the rate limit for your organization of 50 requests per minute.",
    )
    return send_json(responder, 429, body, _rate_headers(max(1, round(reset_s))))


def _status(status: int, body: dict[str, Any], headers: list[tuple[str, str]] | None = None) -> Scenario:
    async def run(call: Call, responder: Responder) -> int:
        return send_json(responder, status, body, [*_headers(call), *(headers or [])])

    return run


async def _refusal(call: Call, responder: Responder) -> int:
    pieces = list(call.reply.pieces[:2])
    if call.stream:
        events = _events(call, pieces, "refusal", _REFUSAL_DETAILS)
        return await send_stream(responder, call, events, _headers(call))
    body = _message(call, "".join(pieces), "refusal", len(pieces), _REFUSAL_DETAILS)
    return send_json(responder, 200, body, _headers(call))


async def _stream_error_event(call: Call, responder: Responder) -> int:
    if not call.stream:
        return send_json(responder, 529, _error("overloaded_error", "Overloaded"), _headers(call))
    events = _events(call, list(call.reply.pieces[:3]), None)[:5]
    events.append(_event("error", _error("overloaded_error", "Overloaded")))
    return await send_stream(responder, call, events, _headers(call))


async def _cut_before_first_chunk(call: Call, responder: Responder) -> int:
    if not call.stream:
        return cut_body(responder, _message(call, call.reply.text, "end_turn", call.reply.completion_tokens))
    events = _events(call, groups(call), "end_turn")
    return await send_stream(responder, call, events, _headers(call), cut_after=0)


async def _cut_after_first_chunk(call: Call, responder: Responder) -> int:
    if not call.stream:
        return cut_body(responder, _message(call, call.reply.text, "end_turn", call.reply.completion_tokens))
    events = _events(call, groups(call), "end_turn")
    return await send_stream(responder, call, events, _headers(call), cut_after=5)


async def _no_finish_reason(call: Call, responder: Responder) -> int:
    """The HTTP stream ends cleanly after the content, with no ``message_delta``/``message_stop``."""
    if not call.stream:
        body = _message(call, call.reply.text, "end_turn", call.reply.completion_tokens)
        body["stop_reason"] = None
        return send_json(responder, 200, body, _headers(call))
    return await send_stream(responder, call, _events(call, groups(call), None), _headers(call))


async def _stall(call: Call, responder: Responder) -> int:
    return await stall(responder, 200, [("content-type", "text/event-stream")], b"")


SCENARIOS: dict[str, Scenario] = {
    "refusal": _refusal,
    "rate_limit": _status(
        429,
        _error(
            "rate_limit_error",
            "This request would exceed the rate limit for your organization of 50 requests per minute.",
        ),
        _rate_headers(3),
    ),
    "spend_limit": _status(
        429,
        _error(
            "rate_limit_error",
            "You have reached your specified API usage limits. You will regain access on "
            "2026-02-01 at 00:00 UTC.",
            {"error_code": "enforced_spend_limit_reached"},
        ),
    ),
    "overloaded": _status(529, _error("overloaded_error", "Overloaded")),
    "http_500": _status(500, _error("api_error", "Internal server error")),
    "stream_error_event": _stream_error_event,
    "cut_before_first_chunk": _cut_before_first_chunk,
    "cut_after_first_chunk": _cut_after_first_chunk,
    "no_finish_reason": _no_finish_reason,
    "stall": _stall,
    "content_filtering_policy": _status(
        400, _error("invalid_request_error", "Output blocked by content filtering policy")
    ),
    "auth_401": _status(401, _error("authentication_error", "invalid x-api-key")),
    "auth_403": _status(
        403,
        _error("permission_error", "Your API key does not have permission to use the specified resource."),
    ),
    "bad_request": _status(400, _error("invalid_request_error", "max_tokens: Field required")),
    "not_found": _status(404, _error("not_found_error", "model: sim-missing")),
}
