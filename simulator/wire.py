"""What every wire format (OpenAI, Anthropic, Gemini, Bedrock) shares: the call and stream helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from simulator.behaviour import Reply
from simulator.httpserver import Responder
from simulator.ratelimit import Decision


@dataclass(frozen=True, slots=True)
class Fields:
    """What the vendor needs from a request body, whatever its wire format."""

    model: str
    prompt: str
    stream: bool
    include_usage: bool = False
    max_tokens: int | None = None
    seed: int | None = None


def text_of(content: Any) -> str:
    """The text of a message ``content``: a string, or a list of ``{"type":"text","text":...}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    raise ValueError("message content must be a string or a list of parts")


def optional_int(value: Any, name: str) -> int | None:
    """``value`` as an int, or None; a clear error for anything else."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer")
    return value


@dataclass(frozen=True, slots=True)
class Call:
    """One request to a simulated model, decoded from whichever wire format it came in."""

    model: str  # as the client named it (``sim-fault/<scenario>`` included)
    prompt: str
    stream: bool
    include_usage: bool
    reply: Reply
    scenario: str | None
    request_id: str
    created: int
    api_key: str
    token_delay_s: float
    tokens_per_chunk: int
    limit: Decision | None
    headers: Mapping[str, str]  # the request's headers (lower-case names)


def dumps(value: Any) -> bytes:
    """Compact JSON bytes."""
    return orjson.dumps(value)


def json_text(value: str) -> str:
    """A JSON string literal."""
    return orjson.dumps(value).decode()


def groups(call: Call) -> list[str]:
    """The reply's pieces joined into stream chunks of ``tokens_per_chunk`` pieces."""
    pieces = call.reply.pieces
    n = call.tokens_per_chunk
    if n == 1:
        return list(pieces)
    return ["".join(pieces[i : i + n]) for i in range(0, len(pieces), n)]


def send_json(responder: Responder, status: int, body: Any, headers: Sequence[tuple[str, str]] = ()) -> int:
    """Send a JSON response; returns the status."""
    responder.send(status, [("content-type", "application/json"), *headers], dumps(body))
    return status


async def send_stream(
    responder: Responder,
    call: Call,
    events: Sequence[bytes],
    headers: Sequence[tuple[str, str]],
    *,
    content_type: str = "text/event-stream",
    cut_after: int | None = None,
) -> int:
    """Stream ``events`` as one 200 response, pacing them by the configured token delay.

    With ``cut_after`` the connection is closed after that many events without the terminating
    chunk: the client sees a stream that simply stops.
    """
    responder.start_stream(200, [("content-type", content_type), ("cache-control", "no-cache"), *headers])
    todo = list(events if cut_after is None else events[:cut_after])
    delay = call.token_delay_s
    if delay <= 0:
        payload = b"".join(todo)
        if cut_after is None:
            responder.end_stream(payload)
        else:
            cut(responder, payload)
        return 200
    for index, event in enumerate(todo):
        if index:
            await asyncio.sleep(delay)
        responder.write(event)
        await responder.drain()
    if cut_after is None:
        responder.end_stream()
    else:
        cut(responder, b"")
    return 200


def cut_body(responder: Responder, body: Any) -> int:
    """A 200 JSON response whose body stops half-way (the connection closes): returns 200."""
    raw = dumps(body)
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(raw)
    responder.write_raw_and_close(head + raw[: len(raw) // 2])
    return 200


def cut(responder: Responder, payload: bytes) -> None:
    """Write ``payload`` as a final HTTP chunk but never the terminator, then close."""
    frame = b"%x\r\n%b\r\n" % (len(payload), payload) if payload else b""
    responder.write_raw_and_close(frame)


async def stall(responder: Responder, status: int, headers: Sequence[tuple[str, str]], first: bytes) -> int:
    """Send a head (and ``first`` event, if any), then nothing: the client's idle timeout must fire."""
    responder.start_stream(status, list(headers))
    if first:
        responder.write(first)
    await responder.wait_disconnect()
    return status


Scenario = Callable[[Call, Responder], Awaitable[int]]
"""Answers one call in some way (a fault, a block, ...); returns the HTTP status sent (0: none)."""


class WireFormat(Protocol):
    """What each wire-format module provides (``openai_wire``, ``anthropic_wire``, ...)."""

    @property
    def SCENARIOS(self) -> Mapping[str, Scenario]:
        """Fault scenarios by name."""
        ...

    def parse(
        self, body: dict[str, Any], url_model: str | None, url_stream: bool, query: dict[str, str]
    ) -> Fields:
        """Decode a request body (raises ValueError, KeyError or TypeError on a malformed one)."""
        ...

    async def answer(self, call: Call, responder: Responder) -> int:
        """The simulated model's normal answer."""
        ...

    def error_response(self, status: int, message: str) -> tuple[int, dict[str, Any]]:
        """A generic error body in this wire's format."""
        ...

    async def rate_limit_response(self, call: Call, responder: Responder, reset_s: float) -> int:
        """The 429 the vendor's limiter sends, in this wire's format."""
        ...
