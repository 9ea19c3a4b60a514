"""The fast path: a lean adapter for OpenAI-compatible chat-completions endpoints.

aiohttp (its HTTP parser is compiled) with a minimal SSE parser: orjson per event, no per-chunk
objects. Measured here (``bench/fast_adapter_choice.py``) it costs a fraction of the client CPU of
bare httpx streaming, the openai SDK or ``litellm.acompletion``, and it shares the outcome
classification of ``adapters.outcomes``. It serves OpenAI, DeepSeek, DashScope's compatible mode,
vLLM, SGLang, Together, Groq, OpenRouter and every other server that speaks
``POST {base}/chat/completions``. Azure OpenAI (deployment URLs, ``api-key`` header) is left to
the litellm adapter.

Connection pools: pass one ``aiohttp.ClientSession`` per endpoint (``ClientPool.session_for``) to
every adapter that talks to that endpoint; an adapter built without one owns a private session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from adapters.keys import make_limit_key, split_model
from adapters.outcomes import (
    NOT_PROTOCOL,
    TOO_LARGE,
    Classified,
    classify_error_body,
    classify_exception,
    classify_finish,
    end_signal,
    parse_body,
    response_byte_cap,
)
from adapters.routing import OPENAI_COMPATIBLE_BASES
from core.redaction import Redactor
from core.types import AttemptResult, ChatRequest, Outcome, Usage

if TYPE_CHECKING:
    from adapters.registry import AdapterTarget

DEFAULT_BASES: Mapping[str, str] = OPENAI_COMPATIBLE_BASES
"""Base URLs used when a target names one of these providers and gives no ``api_base``."""

_RESERVED = frozenset({"model", "messages", "stream", "stream_options"})
_CONNECT_TIMEOUT_S = 10.0


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


class OpenAIAdapter:
    """``TargetAdapter`` for an OpenAI-compatible endpoint over aiohttp (streaming by default).

    ``model`` is litellm-style: ``deepseek/deepseek-chat`` sends ``deepseek-chat`` to
    ``api_base`` (or the provider's default base, ``DEFAULT_BASES``); a name with no provider
    prefix is sent as is to an ``openai`` endpoint. The limit key is the one the litellm adapter
    would use for the same target, so switching adapters keeps the same quota accounting.
    """

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None = None,
        api_base: str | None = None,
        redactor: Redactor | None = None,
        extra_params: Mapping[str, Any] | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        clash = _RESERVED.intersection(extra_params or {})
        if clash:
            raise ValueError(f"extra_params may not set {sorted(clash)}: the adapter owns them")
        provider, wire_model = split_model(model)
        base = api_base or DEFAULT_BASES.get(provider)
        if base is None:
            raise ValueError(f"model {model!r}: no api_base given and no default endpoint for {provider!r}")
        self._url = base.rstrip("/") + "/chat/completions"
        self._wire_model = wire_model
        self._limit_key = make_limit_key(model, api_key, api_base)
        self._redactor = redactor or Redactor([api_key] if api_key else [])
        self._extra = dict(extra_params or {})
        self._headers = {"content-type": "application/json", "accept": "application/json"}
        if api_key:
            self._headers["authorization"] = f"Bearer {api_key}"
        # As in litellm and the openai SDK, ``extra_headers`` are HTTP headers, not body fields.
        extra_headers = self._extra.pop("extra_headers", None) or {}
        if not isinstance(extra_headers, Mapping):
            raise ValueError("extra_params['extra_headers'] must be a mapping of header names to values")
        self._headers.update({str(k).lower(): str(v) for k, v in extra_headers.items()})
        self._owns_session = session is None
        self._session = session

    @property
    def limit_key(self) -> str:
        """(provider, API key fingerprint, model)."""
        return self._limit_key

    @property
    def name(self) -> str:
        """Always ``openai``."""
        return "openai"

    async def aclose(self) -> None:
        """Close the session if this adapter created it (a shared one belongs to its pool)."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _body(self, request: ChatRequest) -> bytes:
        messages: list[dict[str, str]] = []
        if request.system is not None:
            messages.append({"role": "system", "content": request.system})
        messages.append({"role": "user", "content": request.prompt})
        payload: dict[str, Any] = {
            **self._extra,
            **request.decoding.as_params(),
            "model": self._wire_model,
            "messages": messages,
            "stream": request.stream,
        }
        if request.stream:
            payload["stream_options"] = {"include_usage": True}
        return orjson.dumps(payload)

    async def send(self, request: ChatRequest) -> AttemptResult:
        """One attempt; every vendor behaviour comes back classified, never raised."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        if self._session is None:
            self._session = new_session()
        timeout = aiohttp.ClientTimeout(
            total=None,  # the deadline below covers the whole attempt
            sock_connect=min(_CONNECT_TIMEOUT_S, request.timeout_s),
            sock_read=request.idle_timeout_s,  # time between two reads: the idle timeout
        )
        state = _StreamState()
        try:
            async with (
                asyncio.timeout(request.timeout_s),
                self._session.post(
                    self._url, data=self._body(request), headers=self._headers, timeout=timeout
                ) as response,
            ):
                cap = response_byte_cap(request.max_response_chars)
                if response.status >= 400:
                    raw, _ = await _read_capped(response, cap)  # a cut error body is classified by status
                    classified = classify_error_body(
                        response.status, parse_body(raw), response.headers, redactor=self._redactor
                    )
                    return classified.to_attempt(latency_s=loop.time() - start)
                if request.stream:
                    state.started = True  # a 200 stream has begun: failures from here are INCOMPLETE
                    classified = await _read_stream(response, state, request, start, self._redactor)
                else:
                    raw, whole = await _read_capped(response, cap)
                    classified = _read_body(raw, state) if whole else TOO_LARGE
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


def create(target: AdapterTarget, shared: ClientPool | None) -> OpenAIAdapter:
    """The registry's factory: an adapter on ``shared``'s session for its endpoint (own one without)."""
    base = target.api_base or DEFAULT_BASES.get(split_model(target.model)[0])
    session = shared.session_for(base) if shared is not None and base is not None else None
    return OpenAIAdapter(
        model=target.model,
        api_key=target.api_key,
        api_base=target.api_base,
        redactor=target.redactor,
        session=session,
    )


class _StreamState:
    """What one response has delivered so far."""

    __slots__ = ("categories", "finish", "parts", "received", "size", "started", "ttft", "usage")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.finish: str | None = None
        self.usage: Usage | None = None
        self.ttft: float | None = None
        self.started = False  # a 200 stream began
        self.received = False  # stream data arrived
        self.categories: tuple[str, ...] = ()


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
    )


async def _read_capped(response: aiohttp.ClientResponse, cap: int) -> tuple[bytes, bool]:
    """At most ``cap`` bytes of the body, and whether that was all of it (the rest is never read)."""
    if response.content_length is not None and response.content_length > cap:
        return b"", False
    buffer = bytearray()
    async for chunk in response.content.iter_chunked(65_536):
        buffer += chunk
        if len(buffer) > cap:
            return bytes(buffer[:cap]), False
    return bytes(buffer), True


def _read_body(raw: bytes, state: _StreamState) -> Classified:
    body = parse_body(raw)
    if not isinstance(body, dict):
        return NOT_PROTOCOL
    if "error" in body:  # some compatible servers answer 200 with an error object
        return classify_error_body(None, body, None, in_stream=True)
    choices = body.get("choices")
    message = (
        choices[0].get("message")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict)
        else None
    )
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str) and content:
        state.parts.append(content)
    state.usage = _usage(body.get("usage"))
    signal = end_signal(body)
    state.finish = signal.finish if signal else None
    return classify_finish(state.finish, categories=signal.categories if signal else ())


async def _read_stream(
    response: aiohttp.ClientResponse,
    state: _StreamState,
    request: ChatRequest,
    start: float,
    redactor: Redactor,
) -> Classified:
    loop = asyncio.get_running_loop()
    limit = request.max_response_chars
    line_cap = response_byte_cap(limit)
    events = 0  # ``data:`` lines seen: a 200 stream without any is not the protocol
    pending = b""
    async for data in response.content.iter_any():
        state.received = True
        lines = (pending + data).split(b"\n")
        pending = lines.pop()
        if len(pending) > line_cap:  # one endless line (an HTML page): never buffer it whole
            return NOT_PROTOCOL if events == 0 else _MALFORMED_EVENT
        for line in lines:
            if not line.startswith(b"data:"):
                continue  # comments, event names, blank separators
            events += 1
            payload = line[5:].strip()
            if payload == b"[DONE]" or not payload:
                continue
            try:
                event = orjson.loads(payload)
            except orjson.JSONDecodeError:
                return _MALFORMED_EVENT
            if not isinstance(event, dict):
                continue
            if "error" in event:
                return classify_error_body(None, event, None, in_stream=True, redactor=redactor)
            usage = event.get("usage")
            if usage:
                state.usage = _usage(usage)
            choices = event.get("choices")
            if not choices:
                continue
            choice = choices[0]
            delta = choice.get("delta")
            if delta:
                content = delta.get("content")
                if content:
                    if state.ttft is None:
                        state.ttft = loop.time() - start
                    state.parts.append(content)
                    state.size += len(content)
                    if state.size > limit:
                        return Classified(Outcome.COMPLETED, vendor_code="max_response_chars", truncated=True)
            finish = choice.get("finish_reason")
            if finish:
                state.finish = finish
                signal = end_signal(event)
                state.categories = signal.categories if signal else ()
    if events == 0:
        return NOT_PROTOCOL
    return classify_finish(state.finish, categories=state.categories)


_MALFORMED_EVENT = Classified(
    Outcome.INCOMPLETE,
    vendor_code="malformed_event",
    retryable=True,
    error="stream carried an event that is not JSON",
)
