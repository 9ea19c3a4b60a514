"""The critic HTTP app (FastAPI): ``POST /v1/critique``, ``GET /v1/info``, ``GET /healthz``.

The backend is loaded once, in the lifespan handler. Bodies are read with a size cap and parsed with
orjson; items are validated one by one, so a malformed or over-long item gets an error of its own and
the rest of the batch is judged. Model backends are fed through the micro-batcher. A backend that
fails as a whole answers 503 (the client retries); auth failures answer 401.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.critic_wire import CriticInfo, CritiqueItemIn, CritiqueRequest, CritiqueResponse
from core.redaction import Redactor
from critic_server.backends.base import Backend, Judgement
from critic_server.backends.registry import default_registry
from critic_server.batching import MicroBatcher
from critic_server.config import ServerConfig
from critic_server.local import validate_item

API_VERSION = "1"


async def load_backend(config: ServerConfig) -> Backend:
    """Build the backend the config names, from the backend registry (model backends load their
    weights here; a backend's module is imported only when it is chosen)."""
    return await default_registry().get(config.backend).load(config)


@dataclass(slots=True)
class _Live:
    backend: Backend
    batcher: MicroBatcher[CritiqueItemIn, Judgement] | None


def create_app(config: ServerConfig, *, backend: Backend | None = None) -> FastAPI:
    """The critic app. ``backend`` overrides loading from ``config`` (tests, embedding)."""
    redactor = Redactor([config.token.get_secret_value()] if config.token else [])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loaded = backend if backend is not None else await load_backend(config)
        batcher: MicroBatcher[CritiqueItemIn, Judgement] | None = None
        if loaded.micro_batched:
            batcher = MicroBatcher(
                loaded.judge, max_batch=config.micro_batch_size, max_wait_s=config.micro_batch_wait_ms / 1000
            )
            await batcher.__aenter__()
        app.state.live = _Live(loaded, batcher)
        try:
            yield
        finally:
            if batcher is not None:
                await batcher.aclose()
            await loaded.aclose()

    app = FastAPI(
        title="S-Eval critic (Mc)",
        version=API_VERSION,
        description="Scores (prompt, response) pairs: label, risk score, risk tags, explanation.",
        lifespan=lifespan,
    )
    bearer = HTTPBearer(auto_error=False)
    expected = config.token.get_secret_value().encode() if config.token else None

    async def require_token(creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:  # noqa: B008
        if expected is None:
            return
        given = creds.credentials.encode() if creds is not None else b""
        if creds is None or not hmac.compare_digest(given, expected):
            raise HTTPException(
                status_code=401,
                detail="missing or wrong bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )

    def live(request: Request) -> _Live:
        state: _Live = request.app.state.live
        return state

    @app.get("/healthz", summary="Liveness: the backend is loaded")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/info", response_model=CriticInfo, dependencies=[Depends(require_token)])
    async def info(request: Request) -> CriticInfo:
        b = live(request).backend
        batched = b.micro_batched
        return CriticInfo(
            backend=b.kind,
            critic=b.critic_name,
            model=b.model,
            version=b.version,
            threshold=b.threshold,
            max_batch_items=config.max_batch_items,
            max_body_bytes=config.max_body_bytes,
            max_text_chars=config.max_text_chars,
            micro_batch_size=config.micro_batch_size if batched else 1,
            micro_batch_wait_ms=config.micro_batch_wait_ms if batched else 0.0,
        )

    @app.post(
        "/v1/critique",
        dependencies=[Depends(require_token)],
        summary="Judge a batch of (prompt, response) pairs",
        responses={200: {"model": CritiqueResponse}, 413: {"description": "Body or batch too large"}},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CritiqueRequest"}}},
            }
        },
    )
    async def critique(request: Request) -> Response:
        state = live(request)
        body = await _read_capped(request, config.max_body_bytes)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise HTTPException(status_code=400, detail=f"body is not valid JSON: {exc}") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
            raise HTTPException(status_code=422, detail="body must be an object with an 'items' list")
        extra = sorted(set(payload) - {"items"})
        if extra:
            raise HTTPException(status_code=422, detail=f"unknown body fields: {extra}")
        raw_items: list[Any] = payload["items"]
        if len(raw_items) > config.max_batch_items:
            raise HTTPException(
                status_code=413,
                detail=f"batch of {len(raw_items)} items exceeds the limit of {config.max_batch_items}",
            )
        results = await _judge_batch(state, raw_items, config, redactor)
        return Response(content=orjson.dumps({"results": results}), media_type="application/json")

    # Publish the request model (the handler parses the body itself, item by item).
    original_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original_openapi()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (CritiqueRequest, CritiqueItemIn):
                extra = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, sub in extra.pop("$defs", {}).items():
                    components.setdefault(name, sub)
                components[model.__name__] = extra
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(status_code=413, detail=f"body of {declared} bytes exceeds the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(status_code=413, detail=f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _judge_batch(
    state: _Live, raw_items: Sequence[Any], config: ServerConfig, redactor: Redactor
) -> list[dict[str, Any]]:
    backend = state.backend
    name, version = backend.critic_name, backend.version
    out: list[dict[str, Any]] = [{}] * len(raw_items)
    valid: list[tuple[int, CritiqueItemIn]] = []
    for i, raw in enumerate(raw_items):
        raw_id = raw.get("id") if isinstance(raw, dict) else None
        item_id = raw_id if isinstance(raw_id, str) and 0 < len(raw_id) <= 200 else f"#{i}"
        checked = validate_item(raw, config.max_text_chars)
        if isinstance(checked, str):
            out[i] = _result(item_id, Judgement.failed(checked), name, version)
            continue
        valid.append((i, checked))
    if valid:
        items = [item for _, item in valid]
        try:
            if state.batcher is not None:
                judgements = await state.batcher.submit_many(items)
            else:
                judgements = await backend.judge(items)
        except Exception as exc:
            raise HTTPException(
                status_code=503, detail=f"critic backend failed: {redactor.redact_exception(exc)}"
            ) from None
        for (i, item), judgement in zip(valid, judgements, strict=True):
            out[i] = _result(item.id, judgement, name, version)
    return out


def _result(item_id: str, j: Judgement, critic: str, version: str) -> dict[str, Any]:
    # Built as a plain dict (serialised by orjson): the CritiqueResult model documents the shape.
    return {
        "id": item_id,
        "label": j.label if j.error is None else None,
        "risk_score": j.risk_score if j.error is None else None,
        "risk_tags": list(j.risk_tags),
        "explanation": j.explanation,
        "critic": critic,
        "critic_version": version,
        "error": j.error,
    }
