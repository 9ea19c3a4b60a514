"""The Bedrock Converse wire format (``/model/{id}/converse`` and ``/converse-stream``).

Streams use the AWS event-stream binary framing (prelude, headers, payload, CRC32s), which is what
botocore's decoder, and therefore litellm's ``bedrock/`` provider, reads. Requests are not
signature-checked: fake static credentials are enough.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

from simulator.httpserver import Responder
from simulator.wire import (
    Call,
    Fields,
    Scenario,
    cut_body,
    dumps,
    groups,
    optional_int,
    send_json,
    send_stream,
)

_STOP = {"stop": "end_turn", "length": "max_tokens"}
_EVENT_STREAM = "application/vnd.amazon.eventstream"


def parse(body: dict[str, Any], url_model: str | None, url_stream: bool, query: dict[str, str]) -> Fields:
    """The fields of a Converse request (the last user message is the prompt)."""
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list")
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    content = users[-1].get("content", []) if users else []
    prompt = "".join(b.get("text", "") for b in content if isinstance(b, dict))
    config = body.get("inferenceConfig") or {}
    return Fields(
        model=url_model or "",
        prompt=prompt,
        stream=url_stream,
        include_usage=True,
        max_tokens=optional_int(config.get("maxTokens"), "maxTokens"),
    )


def _header(name: str, value: str) -> bytes:
    raw_name = name.encode()
    raw_value = value.encode()
    return struct.pack("!B", len(raw_name)) + raw_name + struct.pack("!BH", 7, len(raw_value)) + raw_value


def event(event_type: str, payload: dict[str, Any]) -> bytes:
    """One AWS event-stream message carrying a JSON event."""
    headers = (
        _header(":event-type", event_type)
        + _header(":content-type", "application/json")
        + _header(":message-type", "event")
    )
    body = dumps(payload)
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack("!II", total, len(headers))
    message = prelude + struct.pack("!I", zlib.crc32(prelude)) + headers + body
    return message + struct.pack("!I", zlib.crc32(message))


def _usage(call: Call, completion: int) -> dict[str, int]:
    prompt = call.reply.prompt_tokens
    return {"inputTokens": prompt, "outputTokens": completion, "totalTokens": prompt + completion}


async def _send(
    call: Call,
    responder: Responder,
    pieces: list[str],
    stop: str | None,
    cut_after: int | None = None,
    stop_event: bool = True,
) -> int:
    if call.stream:
        events = [event("messageStart", {"role": "assistant"})]
        events.extend(
            event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": p}}) for p in pieces
        )
        events.append(event("contentBlockStop", {"contentBlockIndex": 0}))
        if stop_event:
            events.append(event("messageStop", {"stopReason": stop}))
        events.append(event("metadata", {"usage": _usage(call, len(pieces)), "metrics": {"latencyMs": 1}}))
        return await send_stream(responder, call, events, [], content_type=_EVENT_STREAM, cut_after=cut_after)
    body: dict[str, Any] = {
        "output": {"message": {"role": "assistant", "content": [{"text": "".join(pieces)}]}},
        "stopReason": stop,
        "usage": _usage(call, len(pieces)),
        "metrics": {"latencyMs": 1},
    }
    if cut_after is not None:
        return cut_body(responder, body)
    return send_json(responder, 200, body)


async def answer(call: Call, responder: Responder) -> int:
    """The normal answer of a simulated model (a blocked one ends with ``content_filtered``)."""
    if call.reply.blocked:
        return await _stopped("content_filtered")(call, responder)
    return await _send(call, responder, groups(call), _STOP[call.reply.finish_reason])


def _error_headers(kind: str) -> list[tuple[str, str]]:
    return [("x-amzn-errortype", f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/")]


def error_response(status: int, message: str) -> tuple[int, dict[str, Any]]:
    """A generic Bedrock-format error body (bad JSON, unknown scenario)."""
    return status, {"message": message}


async def rate_limit_response(call: Call, responder: Responder, reset_s: float) -> int:
    """The 429 the vendor's own limiter sends (Bedrock sends no retry-after)."""
    return send_json(
        responder,
        429,
        {"message": "Too many requests, please wait before trying again."},
        _error_headers("ThrottlingException"),
    )


def _status(status: int, kind: str, message: str) -> Scenario:
    async def run(call: Call, responder: Responder) -> int:
        return send_json(responder, status, {"message": message}, _error_headers(kind))

    return run


def _stopped(reason: str) -> Scenario:
    async def run(call: Call, responder: Responder) -> int:
        return await _send(call, responder, ["Sorry, the model cannot answer this question."], reason)

    return run


async def _no_finish_reason(call: Call, responder: Responder) -> int:
    """The stream ends cleanly with no ``messageStop`` (non-streamed: ``stopReason`` null)."""
    return await _send(call, responder, groups(call), None, stop_event=False)


async def _null_stop_reason(call: Call, responder: Responder) -> int:
    """A ``messageStop`` whose ``stopReason`` is null (litellm reads it as ``stop``)."""
    return await _send(call, responder, groups(call), None)


async def _cut_after_first_chunk(call: Call, responder: Responder) -> int:
    return await _send(call, responder, groups(call), "end_turn", cut_after=3)


SCENARIOS: dict[str, Scenario] = {
    "guardrail_intervened": _stopped("guardrail_intervened"),
    "content_filtered": _stopped("content_filtered"),
    "throttling": _status(429, "ThrottlingException", "Too many requests, please wait before trying again."),
    "http_500": _status(500, "InternalServerException", "The server encountered an internal error."),
    "http_503": _status(503, "ServiceUnavailableException", "Bedrock is unable to process your request."),
    "bad_request": _status(400, "ValidationException", "The provided model identifier is invalid."),
    "auth_403": _status(
        403, "UnrecognizedClientException", "The security token included in the request is invalid."
    ),
    "cut_after_first_chunk": _cut_after_first_chunk,
    "no_finish_reason": _no_finish_reason,
    "null_stop_reason": _null_stop_reason,
}
