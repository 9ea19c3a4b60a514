"""Target adapter for every vendor litellm speaks to: one ``litellm.acompletion`` per attempt.

litellm's own retries are off (``num_retries=0``, ``max_retries=0``) and there are no fallbacks:
the gateway retries in one place. What litellm reports is not taken at its word (see
``adapters.outcomes``): for non-streamed calls the raw response body is read through litellm's
per-call ``logger_fn`` hook, and for streams whose provider parser can be reached (Gemini,
Anthropic, Bedrock) the raw events are observed, so that a stream that ended without its finish
reason, which litellm reports as ``stop``, is recorded as INCOMPLETE, and the vendor's raw block
enum is kept (Gemini's ``OTHER`` is not ``SAFETY``). OpenAI-compatible streams need no hook:
litellm raises on a clean end without a finish reason there.

litellm has no supported hook for raw stream events (its callbacks see parsed chunks, and
``logger_fn`` fires only for whole bodies), so the stream observer relies on litellm internals:
``CustomStreamWrapper.completion_stream`` / ``make_call``, the provider iterators' ``chunk_parser``,
and, for Bedrock, the decoder bound as ``self`` in ``AWSEventStreamDecoder.aiter_bytes``. That
shape is checked once, when the first adapter is built (``litellm_shape_problems``): a litellm
whose internals moved fails with a clear error instead of silently losing the INCOMPLETE and raw
block-reason classification. ``tests/unit/test_litellm_shape.py`` fails on such a litellm too.

Import cost: importing this module imports litellm (seconds); import it only when a target uses it.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, cast

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx
import litellm
from litellm.llms.custom_httpx.http_handler import AsyncHTTPHandler
from openai import AsyncOpenAI

from adapters.keys import make_limit_key
from adapters.litellm_import import quiet_litellm
from adapters.outcomes import (
    NOT_PROTOCOL,
    TOO_LARGE,
    Classified,
    EndSignal,
    classify_end,
    classify_exception,
    classify_finish,
    end_signal,
    parse_body,
    response_byte_cap,
)
from core.errors import ConfigError, ServiceError
from core.redaction import Redactor
from core.types import AttemptResult, ChatRequest, Outcome, Usage

if TYPE_CHECKING:
    from adapters.registry import AdapterTarget

quiet_litellm()  # no provider lists or "Give Feedback" banners on stdout

_RESERVED = frozenset({"model", "messages", "stream", "num_retries", "max_retries", "fallbacks", "api_key"})

# litellm.acompletion builds each call in a worker thread; cancelling it there leaves the provider's
# coroutine never awaited. So the call itself is bounded by litellm's own ``timeout``, and our
# deadline around it is only a backstop this much later.
_BACKSTOP_GRACE_S = 2.0

NO_KEY = "no-key-configured"
"""Placeholder key given to litellm for keyless OpenAI-compatible servers (vLLM, the simulated vendor)."""


class LiteLLMShapeError(ServiceError):
    """The installed litellm lacks an internal the adapter's stream observer relies on."""


@functools.cache
def litellm_shape_problems() -> tuple[str, ...]:
    """What is missing from the litellm internals ``_RawStream`` uses (empty when all is in place)."""
    from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper
    from litellm.llms.anthropic.chat.handler import ModelResponseIterator as AnthropicIterator
    from litellm.llms.bedrock.chat.invoke_handler import AWSEventStreamDecoder
    from litellm.llms.vertex_ai.gemini.vertex_and_google_ai_studio_gemini import (
        ModelResponseIterator as GeminiIterator,
    )

    problems: list[str] = []
    wrapper_params = inspect.signature(CustomStreamWrapper.__init__).parameters
    problems += [
        f"CustomStreamWrapper takes no {name!r}"
        for name in ("completion_stream", "make_call")
        if name not in wrapper_params
    ]
    parsers: tuple[tuple[str, object, str], ...] = (
        ("anthropic ModelResponseIterator", AnthropicIterator, "chunk"),
        ("gemini ModelResponseIterator", GeminiIterator, "chunk"),
        ("bedrock AWSEventStreamDecoder", AWSEventStreamDecoder, "chunk_data"),
    )
    for label, cls, arg in parsers:
        parser = getattr(cls, "chunk_parser", None)
        if not callable(parser) or arg not in inspect.signature(parser).parameters:
            problems.append(f"{label}.chunk_parser({arg}=...) is gone")
    aiter = getattr(AWSEventStreamDecoder, "aiter_bytes", None)
    code = getattr(aiter, "__code__", None)
    if (
        not inspect.isasyncgenfunction(aiter)
        or code is None
        or code.co_varnames[:1] != ("self",)
        or "chunk_parser" not in code.co_names
    ):
        problems.append(
            "AWSEventStreamDecoder.aiter_bytes is no longer an async generator calling self.chunk_parser"
        )
    return tuple(problems)


def check_litellm_shape() -> None:
    """Raise ``LiteLLMShapeError`` naming what moved when litellm's internals differ from 1.110."""
    problems = litellm_shape_problems()
    if problems:
        raise LiteLLMShapeError(
            f"litellm {_litellm_version()} changed internals the litellm adapter observes "
            f"({'; '.join(problems)}): install the pinned litellm or update adapters/litellm_adapter.py"
        )


def _litellm_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("litellm")
    except PackageNotFoundError:
        return "(unknown version)"


class _CountedStream:
    """A provider stream that counts the raw items it yields (litellm synthesizes a ``stop`` chunk
    even when the vendor sent none, e.g. for a 200 HTML page, so only the raw count tells)."""

    def __init__(self, inner: Any, owner: _RawStream) -> None:
        self._inner = inner
        self._owner = owner

    def __aiter__(self) -> Any:
        return self._items()

    async def _items(self) -> Any:
        async for item in self._inner:
            self._owner.items += 1
            yield item

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _RawStream:
    """Watches a litellm stream's raw provider chunks for the vendor's own end-of-stream signal."""

    __slots__ = ("counting", "instrumented", "items", "signal")

    def __init__(self) -> None:
        self.instrumented = False
        self.signal: EndSignal | None = None
        self.counting = False
        self.items = 0  # raw provider items seen (when ``counting``)

    def attach(self, stream: Any) -> None:
        """Hook the provider parser now, or when litellm opens the stream lazily (Gemini)."""
        inner = getattr(stream, "completion_stream", None)
        if inner is not None:
            self._wrap(inner)
            stream.completion_stream = self._count(inner)
            return
        make_call = getattr(stream, "make_call", None)
        if make_call is None:
            return

        async def observed_make_call(*args: Any, **kwargs: Any) -> Any:
            opened = await make_call(*args, **kwargs)
            self._wrap(opened)
            return self._count(opened)

        stream.make_call = observed_make_call
        self.instrumented = True

    def _count(self, iterator: Any) -> Any:
        if not hasattr(iterator, "__aiter__"):
            return iterator
        self.counting = True
        return _CountedStream(iterator, self)

    def _wrap(self, iterator: Any) -> None:
        owner = iterator
        if getattr(owner, "chunk_parser", None) is None:
            # Bedrock: the stream is an async generator of AWSEventStreamDecoder.aiter_bytes, which calls
            # self.chunk_parser per event; its decoder is the generator's bound ``self``.
            frame = getattr(iterator, "ag_frame", None)
            owner = frame.f_locals.get("self") if frame is not None else None
        parser = getattr(owner, "chunk_parser", None)
        if parser is None:
            return
        self.instrumented = True

        def observing_parser(*args: Any, **kwargs: Any) -> Any:
            # Gemini and Anthropic call chunk_parser(chunk=...), Bedrock chunk_parser(chunk_data=...)
            chunk = args[0] if args else next(iter(kwargs.values()), None)
            if isinstance(chunk, dict):
                signal = end_signal(chunk)
                if signal is not None:
                    self.signal = signal
            return parser(*args, **kwargs)

        owner.chunk_parser = observing_parser


class ResponseTooLargeError(httpx.ReadError):
    """A non-streamed vendor body passed the adapter's byte cap; the rest is never read."""


class NotProtocolError(httpx.DecodingError):
    """A non-streamed 200 whose body is no JSON object (a proxy's HTML page): no answer."""


class _CappedTransport(httpx.AsyncBaseTransport):
    """Reads a non-streamed body itself, at most ``cap`` bytes, before litellm parses it.

    litellm runs regexes over a failed body on the event loop (40 s of CPU for a 10 MB HTML page),
    and maps a 200 that is not JSON to a made-up 500: here a body over the cap and a 200 whose body
    is no JSON object are raised as their own errors, which the adapter classifies. Event streams
    pass untouched: the adapter's stream loop bounds them by ``max_response_chars``.
    """

    def __init__(self, cap: int) -> None:
        # No kept-alive connections: an adapter that is never closed (litellm's own clients need no
        # closing, and callers rely on that) must not leave sockets open. A non-streamed litellm
        # call pays one connection setup; the fast `openai` adapter and streams keep their pools.
        self._inner = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))
        self._cap = cap

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if "text/event-stream" in response.headers.get("content-type", ""):
            return response
        try:
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > self._cap:
                raise ResponseTooLargeError(f"response body of {length} bytes", request=request)
            raw = bytearray()
            async for chunk in response.aiter_raw():
                raw += chunk
                if len(raw) > self._cap:
                    raise ResponseTooLargeError(f"response body over {self._cap} bytes", request=request)
        finally:
            await response.aclose()
        copy = httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(bytes(raw)),
            extensions=response.extensions,
            request=request,
        )
        if response.status_code == 200:
            decoded = httpx.Response(200, headers=response.headers, stream=httpx.ByteStream(bytes(raw)))
            if not isinstance(parse_body(await decoded.aread()), dict):
                raise NotProtocolError("HTTP 200 body is not a JSON object", request=request)
        return copy

    async def aclose(self) -> None:
        await self._inner.aclose()


class LiteLLMAdapter:
    """``TargetAdapter`` over ``litellm.acompletion`` (streaming by default).

    ``model`` is a litellm model string (``openai/gpt-4o``, ``anthropic/...``, ``gemini/...``);
    ``extra_params`` are passed to every call (e.g. ``api_version`` for Azure, AWS settings for
    Bedrock, ``extra_headers``), except the ones this adapter owns (model, messages, stream,
    retries, fallbacks). Timeouts: ``ChatRequest.timeout_s`` bounds the whole attempt (litellm's own
    timeout while the call is being opened, ours after); on streams ``idle_timeout_s`` bounds each
    wait for the next chunk once the stream is open (the first one included).
    """

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None = None,
        api_base: str | None = None,
        redactor: Redactor | None = None,
        extra_params: Mapping[str, Any] | None = None,
    ) -> None:
        clash = _RESERVED.intersection(extra_params or {})
        if clash:
            raise ValueError(f"extra_params may not set {sorted(clash)}: the adapter owns them")
        check_litellm_shape()
        self._model = model
        self._api_key = api_key
        self._api_base = api_base
        self._redactor = redactor or Redactor([api_key] if api_key else [])
        self._extra = dict(extra_params or {})
        self._limit_key = make_limit_key(model, api_key, api_base)
        # Non-streamed calls go through an HTTP client of ours that caps the body (one per cap);
        # litellm takes an ``AsyncOpenAI`` for the openai provider, its own handler for the others.
        self._route = _route_of(model, api_base, api_key)
        self._capped: dict[int, tuple[httpx.AsyncClient, Any]] = {}

    @property
    def limit_key(self) -> str:
        """(provider, API key fingerprint, model)."""
        return self._limit_key

    @property
    def name(self) -> str:
        """Always ``litellm``."""
        return "litellm"

    async def aclose(self) -> None:
        """Close the capped HTTP clients of non-streamed calls (litellm owns its stream clients)."""
        clients, self._capped = self._capped, {}
        for http_client, _ in clients.values():
            await http_client.aclose()

    def _capped_client(self, cap: int) -> Any:
        """The client litellm is handed for a non-streamed call (None: litellm's own, uncapped)."""
        if self._route is None:
            return None
        made = self._capped.get(cap)
        if made is None:
            http_client = httpx.AsyncClient(transport=_CappedTransport(cap), timeout=None)
            client: Any
            if isinstance(self._route, _OpenAIRoute):
                client = AsyncOpenAI(
                    api_key=self._route.api_key,
                    base_url=self._route.base_url,
                    # the openai SDK types ask for its vendored httpx2 but accept an httpx client
                    http_client=cast(Any, http_client),
                    max_retries=0,
                )
            else:
                client = AsyncHTTPHandler()
                client.client = http_client
            made = self._capped[cap] = (http_client, client)
        return made[1]

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        messages: list[dict[str, str]] = []
        if request.system is not None:
            messages.append({"role": "system", "content": request.system})
        messages.append({"role": "user", "content": request.prompt})
        params: dict[str, Any] = {
            **self._extra,
            **request.decoding.as_params(),
            "model": self._model,
            "messages": messages,
            "stream": request.stream,
            "num_retries": 0,
            "max_retries": 0,
            "timeout": request.timeout_s,
        }
        if request.stream:
            params["stream_options"] = {"include_usage": True}
        if self._api_key is not None:
            params["api_key"] = self._api_key
        if self._api_base is not None:
            params["api_base"] = self._api_base
        return params

    async def send(self, request: ChatRequest) -> AttemptResult:
        """One attempt; every vendor behaviour comes back classified, never raised."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        if request.stream:
            return await self._stream(request, start)
        return await self._complete(request, start)

    async def _complete(self, request: ChatRequest, start: float) -> AttemptResult:
        loop = asyncio.get_running_loop()
        raw_bodies: list[str] = []
        params = self._params(request)
        params["logger_fn"] = _body_catcher(raw_bodies)
        client = self._capped_client(response_byte_cap(request.max_response_chars))
        if client is not None:
            params["client"] = client
        try:
            async with asyncio.timeout(request.timeout_s + _BACKSTOP_GRACE_S):
                response = await litellm.acompletion(**params)
        except TimeoutError as exc:
            return self._failed(exc, start, started=False, timed_out=True)
        except Exception as exc:
            return self._failed(exc, start, started=False)
        latency = loop.time() - start
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content or "") if choice is not None else ""
        signal = _last_signal(raw_bodies)
        if signal is None and not raw_bodies and choice is not None:
            # No raw body seen: fall back on litellm's mapping, plus the native reason it keeps.
            fields = getattr(choice, "provider_specific_fields", None) or {}
            native = fields.get("native_finish_reason") if isinstance(fields, dict) else None
            signal = EndSignal(finish=str(native or choice.finish_reason))
        classified = classify_end(signal)
        text, capped = _cap(text, request.max_response_chars)
        return classified.to_attempt(
            text=text,
            finish_reason=_raw_reason(signal),
            usage=_usage(getattr(response, "usage", None)),
            latency_s=latency,
            truncated=capped,
        )

    async def _stream(self, request: ChatRequest, start: float) -> AttemptResult:
        loop = asyncio.get_running_loop()
        end_by = start + request.timeout_s
        idle = request.idle_timeout_s
        parts: list[str] = []
        size = 0
        ttft: float | None = None
        usage: Usage | None = None
        mapped: str | None = None
        categories: tuple[str, ...] = ()
        started = False
        raw = _RawStream()
        capped = False
        try:
            async with asyncio.timeout(None) as deadline:
                deadline.reschedule(end_by + _BACKSTOP_GRACE_S)
                stream = await litellm.acompletion(**self._params(request))
                raw.attach(stream)
                deadline.reschedule(min(end_by, loop.time() + idle))
                async for chunk in stream:
                    now = loop.time()
                    deadline.reschedule(min(end_by, now + idle))
                    chunk_usage = getattr(chunk, "usage", None)
                    if chunk_usage is not None:
                        usage = _usage(chunk_usage)
                    if not chunk.choices:
                        continue
                    started = True
                    choice = chunk.choices[0]
                    content = choice.delta.content
                    if content:
                        if ttft is None:
                            ttft = now - start
                        parts.append(content)
                        size += len(content)
                    if choice.finish_reason:
                        mapped = choice.finish_reason
                    fields = getattr(choice.delta, "provider_specific_fields", None)
                    if isinstance(fields, dict) and isinstance(fields.get("stop_details"), dict):
                        category = fields["stop_details"].get("category")
                        categories = (str(category),) if category else categories
                    if size > request.max_response_chars:
                        capped = True
                        await _close(stream)
                        break
        except TimeoutError as exc:
            text, cut = _cap("".join(parts), request.max_response_chars)
            return self._failed(
                exc,
                start,
                started=started or bool(parts),
                timed_out=True,
                text=text,
                usage=usage,
                ttft=ttft,
                idle=loop.time() < end_by - 0.001,
                truncated=cut,
            )
        except Exception as exc:
            text, cut = _cap("".join(parts), request.max_response_chars)
            return self._failed(
                exc, start, started=started or bool(parts), text=text, usage=usage, ttft=ttft, truncated=cut
            )
        latency = loop.time() - start
        text, _ = _cap("".join(parts), request.max_response_chars)
        if raw.counting and raw.items == 0:
            return NOT_PROTOCOL.to_attempt(usage=usage, latency_s=latency)
        if capped:
            classified = Classified(Outcome.COMPLETED, vendor_code="max_response_chars", truncated=True)
            finish = None
        elif raw.instrumented:
            classified = classify_end(raw.signal)
            finish = _raw_reason(raw.signal)
        else:
            classified = classify_finish(mapped, categories=categories)
            finish = mapped
        if classified.outcome is Outcome.BLOCKED_BY_VENDOR and not classified.categories and categories:
            classified = Classified(
                classified.outcome, vendor_code=classified.vendor_code, categories=categories
            )
        return classified.to_attempt(
            text=text, finish_reason=finish, usage=usage, latency_s=latency, ttft_s=ttft
        )

    def _failed(
        self,
        exc: BaseException,
        start: float,
        *,
        started: bool,
        timed_out: bool = False,
        text: str = "",
        usage: Usage | None = None,
        ttft: float | None = None,
        idle: bool = False,
        truncated: bool = False,
    ) -> AttemptResult:
        latency = asyncio.get_running_loop().time() - start
        if timed_out:
            kind = "idle_timeout" if idle else "timeout"
            outcome = Outcome.INCOMPLETE if started else Outcome.FAILED_TRANSIENT
            classified = Classified(
                outcome,
                vendor_code=kind,
                retryable=True,
                error=f"{kind}: no data for too long" if idle else f"{kind}: request deadline passed",
            )
            return classified.to_attempt(
                text=text, usage=usage, latency_s=latency, ttft_s=ttft, truncated=truncated
            )
        for link in _links(exc):
            if isinstance(link, ResponseTooLargeError):
                return TOO_LARGE.to_attempt(latency_s=latency)
            if isinstance(link, NotProtocolError):
                return NOT_PROTOCOL.to_attempt(latency_s=latency)
        classified, partial = classify_exception(exc, stream_started=started, redactor=self._redactor)
        return classified.to_attempt(
            text=text or partial, usage=usage, latency_s=latency, ttft_s=ttft, truncated=truncated
        )


def create(target: AdapterTarget, shared: object) -> LiteLLMAdapter:
    """The registry's factory (litellm owns its HTTP clients: nothing is shared)."""
    key = target.api_key
    if key is None and target.api_base is not None and target.provider in (None, "openai", "hosted_vllm"):
        # litellm's OpenAI client refuses to send without some key, even to a keyless local server.
        key = NO_KEY
    params = target.extra_params()
    if target.api_version is not None:
        params["api_version"] = target.api_version
    return LiteLLMAdapter(
        model=target.model,
        api_key=key,
        api_base=target.api_base,
        redactor=target.redactor,
        extra_params=params,
    )


class _OpenAIRoute(NamedTuple):
    """litellm sends this provider through the openai SDK: it takes an ``AsyncOpenAI`` client."""

    base_url: str | None
    api_key: str


# Providers whose litellm handler takes its own ``AsyncHTTPHandler`` as ``client``.
_HTTP_HANDLER_PROVIDERS = frozenset({"anthropic", "gemini", "bedrock"})


def _route_of(model: str, api_base: str | None, api_key: str | None) -> _OpenAIRoute | str | None:
    """How a capped client is handed to litellm for ``model``; None where the adapter cannot
    (Azure's own SDK client, other providers' handlers): those bodies stay uncapped.

    Raises ``ConfigError`` for a model string litellm cannot route (offline: string rules only),
    so an adapter for it is never built and nothing is sent.
    """
    try:
        _, provider, dynamic_key, dynamic_base = litellm.get_llm_provider(model=model, api_base=api_base)
    except Exception:  # litellm's BadRequestError for a model string it cannot route
        head = model.partition("/")[0]
        raise ConfigError(
            f"litellm cannot route model {model!r}: {head!r} is not a provider it knows "
            "(a typo like `opnai/`?); see https://docs.litellm.ai/docs/providers"
        ) from None
    if provider in _HTTP_HANDLER_PROVIDERS:
        return str(provider)
    compatible: list[str] = getattr(litellm, "openai_compatible_providers", [])
    if provider == "openai" or (provider in compatible and dynamic_base):
        env_key = os.environ.get("OPENAI_API_KEY") if provider == "openai" else None  # as litellm reads it
        return _OpenAIRoute(
            base_url=api_base or dynamic_base, api_key=api_key or dynamic_key or env_key or NO_KEY
        )
    return None


def _links(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it was raised from or during (litellm and openai wrap transport errors)."""
    links: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(links) < 16 and current not in links:
        links.append(current)
        current = current.__cause__ or current.__context__
    return links


def _body_catcher(sink: list[str]) -> Callable[[dict[str, Any]], None]:
    """A litellm ``logger_fn`` that keeps the raw response body of a non-streamed call."""

    def catch(details: dict[str, Any]) -> None:
        if details.get("log_event_type") == "post_api_call":
            original = details.get("original_response")
            if isinstance(original, str):
                sink.append(original)

    return catch


def _last_signal(raw_bodies: list[str]) -> EndSignal | None:
    for raw in reversed(raw_bodies):
        body = parse_body(raw)
        if isinstance(body, dict):
            return end_signal(body)
    return None


def _raw_reason(signal: EndSignal | None) -> str | None:
    if signal is None:
        return None
    return signal.finish if signal.prompt_block is None else f"blockReason:{signal.prompt_block}"


def _cap(text: str, limit: int) -> tuple[str, bool]:
    return (text, False) if len(text) <= limit else (text[:limit], True)


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    prompt = getattr(raw, "prompt_tokens", None) or 0
    completion = getattr(raw, "completion_tokens", None) or 0
    return Usage(prompt_tokens=int(prompt), completion_tokens=int(completion))


async def _close(stream: Any) -> None:
    closer = getattr(stream, "aclose", None)
    if closer is not None:
        await closer()
