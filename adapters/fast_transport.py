"""The lean transport every native adapter shares: pooled aiohttp sessions, one attempt, SSE lines.

aiohttp (its HTTP parser is compiled) with a minimal SSE reader: orjson per event, no per-chunk
objects. ``FastAdapter`` owns what is the same for every vendor (timeouts, error statuses,
exceptions, the client-side answer cap, the ``AttemptResult``); a vendor adapter supplies only its
URL, headers, request body and the two readers (non-streamed body, stream events). Classification
itself lives in ``adapters.outcomes``.

Connection pools: pass one ``aiohttp.ClientSession`` per endpoint (``ClientPool.session_for``) to
every adapter that talks to that endpoint; an adapter built without one owns a private session.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import orjson

from adapters.outcomes import (
    NOT_PROTOCOL,
    TOO_LARGE,
    Classified,
    classify_error_body,
    classify_exception,
    parse_body,
    response_byte_cap,
)
from core.redaction import Redactor
from core.types import AttemptResult, ChatRequest, Outcome, Usage

CONNECT_TIMEOUT_S = 10.0


class ClientPool:
    """One pooled ``aiohttp.ClientSession`` per endpoint, shared by every adapter that uses it.

    Create it inside the running event loop (aiohttp binds sessions to their loop).
    """

    def __init__(self, *, max_connections: int = 512) -> None:
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._max_connections = max_connections

    def session_for(self, base_url: str) -> aiohttp.ClientSession:
        """The shared session for ``base_url`` (created on first use)."""
        session = self._sessions.get(base_url)
        if session is None:
            session = self._sessions[base_url] = new_session(self._max_connections)
        return session

    async def aclose(self) -> None:
        """Close every session."""
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()


def new_session(max_connections: int = 512) -> aiohttp.ClientSession:
    """A session tuned for one API endpoint: pooled keep-alive connections, no cookies."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=max_connections, limit_per_host=max_connections),
        cookie_jar=aiohttp.DummyCookieJar(),
    )


class StreamState:
    """What one response has delivered so far."""

    __slots__ = (
        "categories",
        "ended",
        "events",
        "finish",
        "line_cap",
        "overlong",
        "parts",
        "received",
        "size",
        "started",
        "ttft",
        "usage",
    )

    def __init__(self, line_cap: int = 1 << 30) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.finish: str | None = None
        self.usage: Usage | None = None
        self.ttft: float | None = None
        self.started = False  # a 200 stream began
        self.received = False  # stream data arrived
        self.ended = False  # the vendor's own end-of-stream event arrived (Anthropic message_stop)
        self.categories: tuple[str, ...] = ()
        self.events = 0  # SSE ``data:`` lines seen: a 200 stream without any is not the protocol
        self.line_cap = line_cap  # the longest line buffered before the stream is given up
        self.overlong = False  # a line passed ``line_cap`` (an HTML page, an endless line)

    def add_text(self, text: str, start: float, limit: int) -> bool:
        """Keep streamed ``text``; True once the client-side cap ``limit`` is passed."""
        if self.ttft is None:
            self.ttft = asyncio.get_running_loop().time() - start
        self.parts.append(text)
        self.size += len(text)
        return self.size > limit


CAPPED = Classified(Outcome.COMPLETED, vendor_code="max_response_chars", truncated=True)
"""The answer passed ``ChatRequest.max_response_chars``: stop reading, the critic judges the rest."""

MALFORMED_EVENT = Classified(
    Outcome.INCOMPLETE,
    vendor_code="malformed_event",
    retryable=True,
    error="stream carried an event that is not JSON",
)

MALFORMED_BODY = NOT_PROTOCOL
"""A 200 whose body is not a JSON object: a failure (retried), never an empty answer."""


async def read_capped(response: aiohttp.ClientResponse, cap: int) -> tuple[bytes, bool]:
    """At most ``cap`` bytes of the body, and whether that was all of it (the rest is never read)."""
    if response.content_length is not None and response.content_length > cap:
        return b"", False
    buffer = bytearray()
    async for chunk in response.content.iter_chunked(65_536):
        buffer += chunk
        if len(buffer) > cap:
            return bytes(buffer[:cap]), False
    return bytes(buffer), True


async def sse_data(response: aiohttp.ClientResponse, state: StreamState) -> AsyncIterator[bytes]:
    """The payload of every non-empty ``data:`` line of an SSE stream (``[DONE]`` skipped).

    Event names, comments and blank separators are dropped: every vendor here repeats the event
    type inside its JSON. ``state.received`` is set as soon as bytes arrive.
    """
    pending = b""
    async for data in response.content.iter_any():
        state.received = True
        lines = (pending + data).split(b"\n")
        pending = lines.pop()
        if len(pending) > state.line_cap:  # one endless line: never buffer it whole
            state.overlong = True
            return
        for line in lines:
            if line.startswith(b"data:"):
                state.events += 1
                payload = line[5:].strip()
                if payload and payload != b"[DONE]":
                    yield payload
    if pending.startswith(b"data:"):  # a last line without its newline
        state.events += 1
        payload = pending[5:].strip()
        if payload and payload != b"[DONE]":
            yield payload


def load_event(payload: bytes) -> Any:
    """One event's JSON (raises ``orjson.JSONDecodeError`` for a malformed one)."""
    return orjson.loads(payload)


def json_body(raw: bytes) -> dict[str, Any] | None:
    """A response body as a JSON object, or None when it is not one."""
    body = parse_body(raw)
    return body if isinstance(body, dict) else None


def check_reserved(extra: Mapping[str, Any] | None, reserved: frozenset[str]) -> dict[str, Any]:
    """A copy of the pass-through body fields, refusing those the adapter itself owns."""
    clash = reserved.intersection(extra or {})
    if clash:
        raise ValueError(f"extra body fields may not set {sorted(clash)}: the adapter owns them")
    return dict(extra or {})


def lower_headers(headers: Mapping[str, Any] | None) -> dict[str, str]:
    """Pass-through HTTP headers with lower-case names (a mapping is required)."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise ValueError("headers must be a mapping of header names to values")
    return {str(k).lower(): str(v) for k, v in headers.items()}


class FastAdapter(ABC):
    """The shared skeleton of a lean ``TargetAdapter``: one POST, classified, never raised.

    Subclasses set ``_limit_key``, ``_redactor`` and ``_headers`` and implement ``_url``,
    ``_body``, ``_read_body`` and ``_read_stream``.
    """

    _limit_key: str
    _redactor: Redactor
    _headers: dict[str, str]
    adapter_name: str = "fast"

    def __init__(self, session: aiohttp.ClientSession | None) -> None:
        self._owns_session = session is None
        self._session = session

    @property
    def limit_key(self) -> str:
        """(provider, API key fingerprint, model)."""
        return self._limit_key

    @property
    def name(self) -> str:
        """The adapter kind recorded with each run."""
        return self.adapter_name

    async def aclose(self) -> None:
        """Close the session if this adapter created it (a shared one belongs to its pool)."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    @abstractmethod
    def _url(self, request: ChatRequest) -> str:
        """Where this request goes (some vendors name streaming in the URL)."""

    @abstractmethod
    def _body(self, request: ChatRequest) -> bytes:
        """The request body."""

    @abstractmethod
    def _read_body(self, raw: bytes, state: StreamState) -> Classified:
        """Fill ``state`` from a non-streamed 200 body and classify it."""

    @abstractmethod
    async def _read_stream(
        self, response: aiohttp.ClientResponse, state: StreamState, request: ChatRequest, start: float
    ) -> Classified:
        """Fill ``state`` from a 200 stream and classify how it ended."""

    async def send(self, request: ChatRequest) -> AttemptResult:
        """One attempt; every vendor behaviour comes back classified, never raised."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        if self._session is None:
            self._session = new_session()
        timeout = aiohttp.ClientTimeout(
            total=None,  # the deadline below covers the whole attempt
            sock_connect=min(CONNECT_TIMEOUT_S, request.timeout_s),
            sock_read=request.idle_timeout_s,  # time between two reads: the idle timeout
        )
        cap = response_byte_cap(request.max_response_chars)
        state = StreamState(line_cap=cap)
        try:
            async with (
                asyncio.timeout(request.timeout_s),
                self._session.post(
                    self._url(request), data=self._body(request), headers=self._headers, timeout=timeout
                ) as response,
            ):
                if response.status >= 400:
                    raw, _whole = await read_capped(response, cap)  # a cut error body: classified by status
                    classified = classify_error_body(
                        response.status, parse_body(raw), response.headers, redactor=self._redactor
                    )
                    return classified.to_attempt(latency_s=loop.time() - start)
                if request.stream:
                    state.started = True  # a 200 stream has begun: failures from here are INCOMPLETE
                    classified = await self._read_stream(response, state, request, start)
                    if state.overlong or state.events == 0:
                        classified = NOT_PROTOCOL if state.events == 0 else MALFORMED_EVENT
                else:
                    raw, whole = await read_capped(response, cap)
                    classified = self._read_body(raw, state) if whole else TOO_LARGE
        except TimeoutError as exc:
            # aiohttp's sock_read timeout (ServerTimeoutError) is the idle timeout; a bare one is ours.
            kind = "idle_timeout" if isinstance(exc, aiohttp.ServerTimeoutError) else "timeout"
            # As with litellm (which sees a stream only once data flows): incomplete once data arrived.
            outcome = Outcome.INCOMPLETE if state.received else Outcome.FAILED_TRANSIENT
            classified = Classified(
                outcome, vendor_code=kind, retryable=True, error=f"{kind}: {type(exc).__name__}"
            )
        except Exception as exc:
            classified, _ = classify_exception(exc, stream_started=state.started, redactor=self._redactor)
        text = "".join(state.parts)
        truncated = False
        if len(text) > request.max_response_chars:
            text, truncated = text[: request.max_response_chars], True
        return classified.to_attempt(
            text=text,
            finish_reason=state.finish,
            usage=state.usage,
            latency_s=loop.time() - start,
            ttft_s=state.ttft,
            truncated=truncated,
        )
