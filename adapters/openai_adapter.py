"""The fast path: a lean adapter for OpenAI-compatible chat-completions endpoints.

Built on the shared lean transport (``adapters.fast_transport``: aiohttp, a minimal SSE reader,
orjson per event). Measured here (``bench/fast_adapter_choice.py``) it costs a fraction of the
client CPU of bare httpx streaming, the openai SDK or ``litellm.acompletion``, and it shares the
outcome classification of ``adapters.outcomes``. It serves OpenAI, DeepSeek, DashScope's compatible
mode, vLLM, SGLang, Together, Groq, OpenRouter and every other server that speaks
``POST {base}/chat/completions``. Azure OpenAI (deployment URLs, ``api-key`` header) has its own
adapter (``adapters.azure_adapter``), which reuses this module's readers.
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
    ClientPool,
    FastAdapter,
    StreamState,
    check_reserved,
    json_body,
    load_event,
    lower_headers,
    new_session,
    sse_data,
)
from adapters.keys import make_limit_key, split_model
from adapters.outcomes import Classified, classify_error_body, classify_finish, end_signal
from adapters.routing import OPENAI_COMPATIBLE_BASES
from core.redaction import Redactor
from core.types import ChatRequest, Usage

__all__ = ["DEFAULT_BASES", "ClientPool", "OpenAIAdapter", "new_session"]

if TYPE_CHECKING:
    from adapters.registry import AdapterTarget

DEFAULT_BASES: Mapping[str, str] = OPENAI_COMPATIBLE_BASES
"""Base URLs used when a target names one of these providers and gives no ``api_base``."""

RESERVED = frozenset({"model", "messages", "stream", "stream_options"})
"""Body fields the chat-completions adapters own (pass-through fields may not set them)."""


def split_extra(extra_params: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, str]]:
    """(body fields, HTTP headers) of ``extra_params``: as in litellm and the openai SDK,
    ``extra_headers`` are HTTP headers, not body fields."""
    extra = check_reserved(extra_params, RESERVED)
    try:
        headers = lower_headers(extra.pop("extra_headers", None))
    except ValueError:
        raise ValueError(
            "extra_params['extra_headers'] must be a mapping of header names to values"
        ) from None
    return extra, headers


def chat_body(extra: Mapping[str, Any], request: ChatRequest, model: str | None) -> bytes:
    """A chat-completions request body (``model`` None: the URL names it, as on Azure)."""
    messages: list[dict[str, str]] = []
    if request.system is not None:
        messages.append({"role": "system", "content": request.system})
    messages.append({"role": "user", "content": request.prompt})
    payload: dict[str, Any] = {**extra, **request.decoding.as_params(), "messages": messages}
    if model is not None:
        payload["model"] = model
    payload["stream"] = request.stream
    if request.stream:
        payload["stream_options"] = {"include_usage": True}
    return orjson.dumps(payload)


class OpenAIAdapter(FastAdapter):
    """``TargetAdapter`` for an OpenAI-compatible endpoint over aiohttp (streaming by default).

    ``model`` is litellm-style: ``deepseek/deepseek-chat`` sends ``deepseek-chat`` to
    ``api_base`` (or the provider's default base, ``DEFAULT_BASES``); a name with no provider
    prefix is sent as is to an ``openai`` endpoint. The limit key is the one the litellm adapter
    would use for the same target, so switching adapters keeps the same quota accounting.
    """

    adapter_name = "openai"

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
        super().__init__(session)
        extra, extra_headers = split_extra(extra_params)
        provider, wire_model = split_model(model)
        base = api_base or DEFAULT_BASES.get(provider)
        if base is None:
            raise ValueError(f"model {model!r}: no api_base given and no default endpoint for {provider!r}")
        self._chat_url = base.rstrip("/") + "/chat/completions"
        self._wire_model = wire_model
        self._limit_key = make_limit_key(model, api_key, api_base)
        self._redactor = redactor or Redactor([api_key] if api_key else [])
        self._extra = extra
        self._headers = {"content-type": "application/json", "accept": "application/json"}
        if api_key:
            self._headers["authorization"] = f"Bearer {api_key}"
        self._headers.update(extra_headers)

    def _url(self, request: ChatRequest) -> str:
        return self._chat_url

    def _body(self, request: ChatRequest) -> bytes:
        return chat_body(self._extra, request, self._wire_model)

    def _read_body(self, raw: bytes, state: StreamState) -> Classified:
        return read_chat_body(raw, state)

    async def _read_stream(
        self, response: aiohttp.ClientResponse, state: StreamState, request: ChatRequest, start: float
    ) -> Classified:
        return await read_chat_stream(response, state, request, start, self._redactor)


def create(target: AdapterTarget, shared: ClientPool | None) -> OpenAIAdapter:
    """The registry's factory: an adapter on ``shared``'s session for its endpoint (own one without)."""
    base = target.api_base or DEFAULT_BASES.get(split_model(target.model)[0])
    session = shared.session_for(base) if shared is not None and base is not None else None
    return OpenAIAdapter(
        model=target.model,
        api_key=target.api_key,
        api_base=target.api_base,
        redactor=target.redactor,
        extra_params=target.extra_params(),
        session=session,
    )


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
    )


def read_chat_body(raw: bytes, state: StreamState) -> Classified:
    """Fill ``state`` from a non-streamed ``chat.completion`` and classify it."""
    body = json_body(raw)
    if body is None:
        return MALFORMED_BODY
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


async def read_chat_stream(
    response: aiohttp.ClientResponse,
    state: StreamState,
    request: ChatRequest,
    start: float,
    redactor: Redactor,
) -> Classified:
    """Fill ``state`` from a chat-completions SSE stream and classify how it ended."""
    limit = request.max_response_chars
    async for payload in sse_data(response, state):
        try:
            event = load_event(payload)
        except ValueError:
            return MALFORMED_EVENT
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
            if content and state.add_text(content, start, limit):
                return CAPPED
        finish = choice.get("finish_reason")
        if finish:
            state.finish = finish
            signal = end_signal(event)
            state.categories = signal.categories if signal else ()
    return classify_finish(state.finish, categories=state.categories)
