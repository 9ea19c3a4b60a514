"""Lean adapter for the Anthropic Messages API (``POST /v1/messages``, SSE events when streamed).

What it reads: ``message_start`` (input tokens), ``content_block_delta`` text deltas,
``message_delta`` (``stop_reason``, ``stop_details`` of a refusal, output tokens), ``message_stop``
(the positive end of the stream) and mid-stream ``error`` events (``overloaded_error``). A stream
that stops before ``message_stop`` is ``INCOMPLETE`` even when a stop reason arrived. HTTP errors
(529 ``overloaded_error``, 429 ``rate_limit_error`` with ``retry-after`` and
``anthropic-ratelimit-*`` headers, the spend-limit 429 whose ``details.error_code`` is
``enforced_spend_limit_reached``) go through the shared classification.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

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
from adapters.outcomes import Classified, classify_error_body, classify_finish, end_signal
from adapters.routing import NATIVE_BASES
from core.redaction import Redactor
from core.types import ChatRequest, Outcome, Usage

if TYPE_CHECKING:
    from adapters.fast_transport import ClientPool
    from adapters.registry import AdapterTarget


DEFAULT_BASE = NATIVE_BASES["anthropic"]
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
"""The Messages API requires ``max_tokens``; this is sent when the decoding sets none."""

RESERVED = frozenset({"model", "messages", "system", "stream"})

NO_MESSAGE_STOP = Classified(
    Outcome.INCOMPLETE,
    vendor_code="no_message_stop",
    retryable=True,
    error="stream ended after its stop reason but before message_stop",
)


def messages_url(api_base: str | None) -> str:
    """``{base}/v1/messages``; a base that already ends in ``/v1`` or ``/v1/messages`` is kept."""
    base = (api_base or DEFAULT_BASE).rstrip("/")
    if base.endswith("/v1/messages"):
        return base
    return base + ("/messages" if base.endswith("/v1") else "/v1/messages")


def messages_payload(extra: Mapping[str, Any], request: ChatRequest, model: str) -> dict[str, Any]:
    """A Messages API request body as a dict (the batch runner embeds it per line)."""
    decoding = request.decoding
    payload: dict[str, Any] = {
        **extra,
        "model": model,
        "max_tokens": decoding.max_tokens or extra.get("max_tokens") or DEFAULT_MAX_TOKENS,
        "messages": [{"role": "user", "content": request.prompt}],
    }
    if request.system is not None:
        payload["system"] = request.system
    if decoding.temperature is not None:
        payload["temperature"] = decoding.temperature
    if decoding.top_p is not None:
        payload["top_p"] = decoding.top_p
    # The Messages API has no sampling seed: a seed is not sent (the run records it anyway).
    if request.stream:
        payload["stream"] = True
    return payload


class AnthropicAdapter(FastAdapter):
    """``TargetAdapter`` for Anthropic models (``model="anthropic/<name>"``)."""

    adapter_name = "anthropic"

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
        _, self._wire_model = split_model(model)
        self._messages_url = messages_url(api_base)
        self._limit_key = make_limit_key(model, api_key, api_base)
        self._redactor = redactor or Redactor([api_key] if api_key else [])
        self._headers = {
            "content-type": "application/json",
            "accept": "application/json",
            "anthropic-version": API_VERSION,
        }
        if api_key:
            self._headers["x-api-key"] = api_key
        self._headers.update(lower_headers(headers))

    def _url(self, request: ChatRequest) -> str:
        return self._messages_url

    def _body(self, request: ChatRequest) -> bytes:
        return orjson.dumps(messages_payload(self._extra, request, self._wire_model))

    def _read_body(self, raw: bytes, state: StreamState) -> Classified:
        body = json_body(raw)
        if body is None:
            return MALFORMED_BODY
        return read_message(body, state)

    async def _read_stream(
        self, response: aiohttp.ClientResponse, state: StreamState, request: ChatRequest, start: float
    ) -> Classified:
        limit = request.max_response_chars
        prompt_tokens = 0
        async for payload in sse_data(response, state):
            try:
                event = load_event(payload)
            except ValueError:
                return MALFORMED_EVENT
            if not isinstance(event, dict):
                continue
            kind = event.get("type")
            if kind == "content_block_delta":
                text = event["delta"].get("text")
                if text and state.add_text(text, start, limit):
                    return CAPPED
            elif kind == "message_start":
                usage = (event.get("message") or {}).get("usage") or {}
                prompt_tokens = int(usage.get("input_tokens") or 0)
                state.usage = Usage(prompt_tokens, int(usage.get("output_tokens") or 0))
            elif kind == "message_delta":
                signal = end_signal(event)
                if signal is not None:
                    state.finish, state.categories = signal.finish, signal.categories
                usage = event.get("usage") or {}
                if "output_tokens" in usage:
                    state.usage = Usage(prompt_tokens, int(usage["output_tokens"] or 0))
            elif kind == "message_stop":
                state.ended = True
            elif kind == "error":
                return classify_error_body(None, event, None, in_stream=True, redactor=self._redactor)
        if state.finish is not None and not state.ended:
            return NO_MESSAGE_STOP
        return classify_finish(state.finish, categories=state.categories)


def read_message(body: dict[str, Any], state: StreamState) -> Classified:
    """Fill ``state`` from a whole ``message`` object (a 200 body or a batch result) and classify it."""
    if body.get("type") == "error" or "error" in body:
        return classify_error_body(None, body, None, in_stream=True)
    content = body.get("content")
    if isinstance(content, list):
        state.parts.extend(
            str(block["text"]) for block in content if isinstance(block, dict) and block.get("text")
        )
    usage = body.get("usage")
    if isinstance(usage, dict):
        state.usage = Usage(int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0))
    signal = end_signal(body)
    state.finish = signal.finish if signal else None
    return classify_finish(state.finish, categories=signal.categories if signal else ())


def create(target: AdapterTarget, shared: ClientPool | None) -> AnthropicAdapter:
    """The registry's factory: an adapter on ``shared``'s session for its endpoint (own one without)."""
    base = target.api_base or DEFAULT_BASE
    return AnthropicAdapter(
        model=target.model,
        api_key=target.api_key,
        api_base=target.api_base,
        redactor=target.redactor,
        extra_body=target.extra_body,
        headers=target.headers,
        session=shared.session_for(base) if shared is not None else None,
    )
