"""The simulated vendor: routes each request to its wire format, model behaviour, limiter or fault.

Routes (matched on the path's end, so any base URL works):

- ``.../chat/completions``: OpenAI chat completions (also Azure's ``/openai/deployments/{d}/...``).
- ``.../messages``: Anthropic Messages API.
- ``.../models/{model}:generateContent`` and ``:streamGenerateContent`` (``?alt=sse``): Gemini API.
- ``.../model/{model}/converse`` and ``/converse-stream``: Bedrock Converse.
- Batch APIs (``simulator.batch``): OpenAI / Azure ``.../files`` and ``.../batches``, Anthropic
  ``.../messages/batches``, completed after ``batch_seconds``.
- ``GET /v1/models``; ``GET /sim/stats`` (``?prompts=1``); ``POST /sim/reset``; ``GET /health``.

A fault scenario is chosen per request by the model name ``sim-fault/<scenario>`` or the header
``x-sim-fault: <scenario>``; ``scenarios()`` lists what each wire format supports. Any other model
name answers with simulated behaviour (``sim-cautious``, ``sim-compliant``, ``sim-mixed``; unknown
names behave like ``sim-compliant``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import orjson

from simulator import anthropic_wire, bedrock_wire, gemini_wire, openai_wire
from simulator.batch import BatchDesk
from simulator.behaviour import MODEL_NAMES, Reply, decide, digest, unit
from simulator.config import VendorConfig
from simulator.httpserver import HttpServer, Request, Responder
from simulator.ratelimit import Decision, RequestLimiter
from simulator.stats import Received, VendorStats
from simulator.wire import Call, Fields, WireFormat, send_json

FAULT_PREFIX = "sim-fault/"

_WIRES: dict[str, WireFormat] = {
    "openai": openai_wire,
    "anthropic": anthropic_wire,
    "gemini": gemini_wire,
    "bedrock": bedrock_wire,
}


def scenarios() -> dict[str, tuple[str, ...]]:
    """Fault scenario names per wire format."""
    return {name: tuple(sorted(module.SCENARIOS)) for name, module in _WIRES.items()}


class SimulatedVendor:
    """A simulated LLM vendor on a loopback HTTP server.

    ``async with SimulatedVendor(latency_ms=50) as base_url:`` starts it on 127.0.0.1 with a free
    port and yields the OpenAI-style base URL (``http://127.0.0.1:PORT/v1``); ``root_url`` is the
    same without ``/v1``. ``stats`` holds the counters. Keyword arguments are ``VendorConfig``
    fields; pass ``config=`` instead to share one.
    """

    def __init__(self, config: VendorConfig | None = None, **settings: Any) -> None:
        if config is not None and settings:
            raise TypeError("pass either config= or VendorConfig fields, not both")
        self.config = config if config is not None else VendorConfig(**settings)
        self.stats = VendorStats()
        self._http = HttpServer(self._handle)
        self._limiters: dict[str, RequestLimiter] = {}
        self._attempts: dict[tuple[str, str], int] = {}
        self._port: int | None = None
        self._batches = BatchDesk(
            self.config, self.stats, lambda wire, request, out: self._serve(wire, None, False, request, out)
        )

    # lifecycle
    async def start(self, port: int = 0) -> str:
        """Start serving on 127.0.0.1 (``port`` 0: a free one); returns ``base_url``."""
        self._port = await self._http.start("127.0.0.1", port)
        return self.base_url

    async def close(self) -> None:
        """Stop the server and drop every open connection."""
        await self._http.close()

    async def __aenter__(self) -> str:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT`` (for Anthropic-style clients that add ``/v1`` themselves)."""
        if self._port is None:
            raise RuntimeError("SimulatedVendor is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (the OpenAI-compatible base URL)."""
        return self.root_url + "/v1"

    @property
    def handler_errors(self) -> list[str]:
        """Bugs in the simulated vendor itself (each also answered as a 500); tests assert it is empty."""
        return self._http.errors

    # request handling
    async def _handle(self, request: Request, responder: Responder) -> None:
        path = request.path
        if BatchDesk.handles(path):
            await self._batches.handle(request, responder)
            return
        if request.method == "GET":
            self._get(request, responder)
            return
        if path == "/sim/reset":
            self.stats.reset()
            self._attempts.clear()
            self._limiters.clear()
            send_json(responder, 200, {"ok": True})
            return
        wire, url_model, url_stream = _route(path)
        if "/openai/deployments/" in path and "api-version" not in request.query:
            # Azure OpenAI answers a deployment URL without api-version with a 404
            send_json(responder, 404, {"error": {"code": "404", "message": "Resource not found"}})
            return
        if wire is None:
            send_json(
                responder, 404, {"error": {"message": f"no route for POST {path}", "type": "not_found"}}
            )
            return
        status = await self._serve(wire, url_model, url_stream, request, responder)
        self.stats.by_status[status] += 1
        if status == 429:
            self.stats.responses_429 += 1

    def _get(self, request: Request, responder: Responder) -> None:
        if request.path == "/sim/stats":
            send_json(responder, 200, self.stats.snapshot(with_prompts=request.query.get("prompts") == "1"))
        elif request.path.endswith("/models"):
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "simulated"} for m in MODEL_NAMES]
            send_json(responder, 200, {"object": "list", "data": data})
        elif request.path == "/health":
            send_json(responder, 200, {"ok": True})
        else:
            send_json(responder, 404, {"error": {"message": f"no route for GET {request.path}"}})

    async def _serve(
        self, wire: str, url_model: str | None, url_stream: bool, request: Request, responder: Responder
    ) -> int:
        module = _WIRES[wire]
        try:
            parsed = orjson.loads(request.body) if request.body else None
            if not isinstance(parsed, dict):
                raise ValueError("request body must be a JSON object")
            fields = module.parse(parsed, url_model, url_stream, request.query)
        except (ValueError, KeyError, TypeError) as exc:
            status, body = module.error_response(400, f"invalid request body: {exc}")
            return send_json(responder, status, body)
        config = self.config
        stats = self.stats
        stats.requests += 1
        stats.by_model[fields.model] += 1
        if config.record_prompts:
            stats.received.append(Received(wire, fields.model, fields.prompt, fields.stream))

        api_key = _api_key(request.headers, request.query)
        if config.api_key is not None and api_key != config.api_key:
            status, body = module.error_response(401, "invalid api key")
            return send_json(responder, status, body)

        scenario = request.headers.get("x-sim-fault")
        if scenario is None and fields.model.startswith(FAULT_PREFIX):
            scenario = fields.model[len(FAULT_PREFIX) :]
        if scenario is not None and scenario not in module.SCENARIOS:
            status, body = module.error_response(
                400, f"unknown simulated fault scenario {scenario!r} for {wire}"
            )
            return send_json(responder, status, body)

        limit: Decision | None = None
        if config.rate_limit_rpm is not None:
            limiter = self._limiters.get(fields.model)
            if limiter is None:
                limiter = self._limiters[fields.model] = RequestLimiter(
                    config.rate_limit_rpm,
                    mode=config.rate_limit_mode,
                    window_s=config.rate_limit_window_s,
                    burst=config.rate_limit_burst,
                )
            limit = limiter.check(time.monotonic())

        if scenario is None and config.transient_fault_rate > 0:
            scenario = self._transient(wire, fields.model, fields.prompt)
        if scenario is not None:
            stats.faults[scenario] += 1

        reply = decide(
            model=fields.model,
            prompt=fields.prompt,
            vendor_seed=config.seed,
            request_seed=fields.seed,
            max_tokens=fields.max_tokens,
            words=config.response_words,
        )
        call = _make_call(fields, reply, scenario, api_key, config, limit, request.headers)
        if limit is not None and not limit.allowed:
            return await module.rate_limit_response(call, responder, limit.reset_s)
        if config.latency_ms > 0:
            await asyncio.sleep(config.latency_ms / 1000.0)
        if scenario is not None:
            return await module.SCENARIOS[scenario](call, responder)
        if reply.blocked:
            stats.blocks[fields.model] += 1
        return await module.answer(call, responder)

    def _transient(self, wire: str, model: str, prompt: str) -> str | None:
        """Deterministic fault injection: the n-th attempt at a prompt fails or not, by hash."""
        key = (model, prompt)
        attempt = self._attempts.get(key, 0)
        self._attempts[key] = attempt + 1
        key_hash = digest("fault", self.config.seed, model, prompt, attempt)
        if unit(key_hash, 0) >= self.config.transient_fault_rate:
            return None
        supported = [s for s in self.config.transient_faults if s in _WIRES[wire].SCENARIOS]
        return supported[int.from_bytes(key_hash[4:8], "big") % len(supported)] if supported else None


def _route(path: str) -> tuple[str | None, str | None, bool]:
    """(wire format, model named in the URL, whether the URL asks for a stream) for a POST path."""
    if path.endswith("/chat/completions"):
        return "openai", None, False
    if path.endswith("/messages"):
        return "anthropic", None, False
    if path.endswith(":generateContent") or path.endswith(":streamGenerateContent"):
        model, _, method = path.split("/models/", 1)[-1].rpartition(":")
        return "gemini", model, method == "streamGenerateContent"
    if path.endswith("/converse") or path.endswith("/converse-stream"):
        model, _, method = path.split("/model/", 1)[-1].rpartition("/")
        return "bedrock", model, method == "converse-stream"
    return None, None, False


def _api_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    for name in ("x-api-key", "api-key", "x-goog-api-key"):
        if name in headers:
            return headers[name]
    return query.get("key", "")


def _make_call(
    fields: Fields,
    reply: Reply,
    scenario: str | None,
    api_key: str,
    config: VendorConfig,
    limit: Decision | None,
    headers: Mapping[str, str],
) -> Call:
    return Call(
        model=fields.model,
        prompt=fields.prompt,
        stream=fields.stream,
        include_usage=fields.include_usage,
        reply=reply,
        scenario=scenario,
        request_id=f"chatcmpl-{uuid.uuid4().hex[:24]}",
        created=int(time.time()),
        api_key=api_key,
        token_delay_s=config.token_delay_ms / 1000.0,
        tokens_per_chunk=config.tokens_per_chunk,
        limit=limit,
        headers=headers,
    )
