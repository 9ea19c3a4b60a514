"""Lean adapter for the Gemini API (``models/{m}:generateContent``, ``:streamGenerateContent?alt=sse``).

What it reads from each response (or SSE event): ``promptFeedback.blockReason`` (the prompt was
blocked and no candidate comes back: ``finish_reason`` ``blockReason:<REASON>``), the first
candidate's text parts, ``finishReason`` (``STOP``, ``MAX_TOKENS``, and the blocks ``SAFETY``,
``RECITATION``, ``PROHIBITED_CONTENT``, ``BLOCKLIST``, ``SPII``, ``OTHER``: the raw enum is kept,
with the blocked ``safetyRatings`` categories) and ``usageMetadata``. A stream that ends without a
``finishReason`` is ``INCOMPLETE``. ``RESOURCE_EXHAUSTED`` errors are told apart by the
``google.rpc.QuotaFailure`` quota id (per-minute: transient, with ``RetryInfo``'s delay; per-day:
pause the target) in the shared classification.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aiohttp
import orjson

from adapters.fast_transport import (
    CAPPED,
    MALFORMED_BODY,
    MALFORMED_EVENT,
    FastAdapter,
    StreamState,
    check_reserved,
    json_body,
    load_event,
    lower_headers,
    sse_data,
)
from adapters.keys import make_limit_key, split_model
from adapters.outcomes import Classified, classify_end, classify_error_body, end_signal
from adapters.routing import NATIVE_BASES
from core.redaction import Redactor
from core.types import ChatRequest, Usage

if TYPE_CHECKING:
    from adapters.fast_transport import ClientPool
    from adapters.registry import AdapterTarget


DEFAULT_BASE = NATIVE_BASES["gemini"]
"""As with litellm's ``gemini/`` provider, ``api_base`` includes the API version."""

RESERVED = frozenset({"contents", "systemInstruction", "system_instruction"})


def gemini_payload(extra: Mapping[str, Any], request: ChatRequest) -> dict[str, Any]:
    """A generateContent request body (pass-through ``generationConfig`` fields are merged)."""
    decoding = request.decoding
    config: dict[str, Any] = dict(extra.get("generationConfig") or {})
    if decoding.temperature is not None:
        config["temperature"] = decoding.temperature
    if decoding.top_p is not None:
        config["topP"] = decoding.top_p
    if decoding.max_tokens is not None:
        config["maxOutputTokens"] = decoding.max_tokens
    if decoding.seed is not None:
        config["seed"] = decoding.seed
    payload: dict[str, Any] = {**extra, "contents": [{"role": "user", "parts": [{"text": request.prompt}]}]}
    if config:
        payload["generationConfig"] = config
    if request.system is not None:
        payload["systemInstruction"] = {"parts": [{"text": request.system}]}
    return payload


class GeminiAdapter(FastAdapter):
    """``TargetAdapter`` for Gemini API models (``model="gemini/<name>"``)."""

    adapter_name = "gemini"

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None = None,
        api_base: str | None = None,
        redactor: Redactor | None = None,
        extra_body: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(session)
        self._extra = check_reserved(extra_body, RESERVED)
        _, name = split_model(model)
        prefix = f"{(api_base or DEFAULT_BASE).rstrip('/')}/models/{quote(name, safe='')}"
        self._plain_url = prefix + ":generateContent"
        self._stream_url = prefix + ":streamGenerateContent?alt=sse"
        self._limit_key = make_limit_key(model, api_key, api_base)
        self._redactor = redactor or Redactor([api_key] if api_key else [])
        self._headers = {"content-type": "application/json", "accept": "application/json"}
        if api_key:
            self._headers["x-goog-api-key"] = api_key
        self._headers.update(lower_headers(headers))

    def _url(self, request: ChatRequest) -> str:
        return self._stream_url if request.stream else self._plain_url

    def _body(self, request: ChatRequest) -> bytes:
        return orjson.dumps(gemini_payload(self._extra, request))

    def _read_body(self, raw: bytes, state: StreamState) -> Classified:
        body = json_body(raw)
        if body is None:
            return MALFORMED_BODY
        return read_response(body, state)

    async def _read_stream(
        self, response: aiohttp.ClientResponse, state: StreamState, request: ChatRequest, start: float
    ) -> Classified:
        limit = request.max_response_chars
        signal = None
        async for payload in sse_data(response, state):
            try:
                event = load_event(payload)
            except ValueError:
                return MALFORMED_EVENT
            if not isinstance(event, dict):
                continue
            if "error" in event:
                return classify_error_body(None, event, None, in_stream=True, redactor=self._redactor)
            if _collect(event, state, start, limit):
                return CAPPED
            signal = end_signal(event) or signal
        return _finish(state, signal)


def _collect(event: dict[str, Any], state: StreamState, start: float | None, limit: int) -> bool:
    """Take text and usage from one response chunk; True once the answer cap is passed.

    ``start`` is the attempt's start time for a stream (time to first token), None for a body.
    """
    usage = event.get("usageMetadata")
    if usage:
        state.usage = Usage(
            int(usage.get("promptTokenCount") or 0), int(usage.get("candidatesTokenCount") or 0)
        )
    candidates = event.get("candidates")
    if not candidates:
        return False
    content = candidates[0].get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    if parts:
        for part in parts:
            text = part.get("text") if isinstance(part, dict) else None
            if not text:
                continue
            if start is None:
                state.parts.append(text)
            elif state.add_text(text, start, limit):
                return True
    return False


def _finish(state: StreamState, signal: Any) -> Classified:
    if signal is not None:
        state.finish = (
            f"blockReason:{signal.prompt_block}" if signal.prompt_block is not None else signal.finish
        )
    return classify_end(signal)


def read_response(body: dict[str, Any], state: StreamState) -> Classified:
    """Fill ``state`` from a whole ``GenerateContentResponse`` and classify it."""
    if "error" in body:
        return classify_error_body(None, body, None, in_stream=True)
    _collect(body, state, None, 0)
    return _finish(state, end_signal(body))


def create(target: AdapterTarget, shared: ClientPool | None) -> GeminiAdapter:
    """The registry's factory: an adapter on ``shared``'s session for its endpoint (own one without)."""
    base = target.api_base or DEFAULT_BASE
    return GeminiAdapter(
        model=target.model,
        api_key=target.api_key,
        api_base=target.api_base,
        redactor=target.redactor,
        extra_body=target.extra_body,
        headers=target.headers,
        session=shared.session_for(base) if shared is not None else None,
    )
