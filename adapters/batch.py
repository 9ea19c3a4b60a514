"""Vendor batch APIs: the OpenAI Batch API (also Azure OpenAI's), and Anthropic Message Batches.

A ``BatchClient`` submits many chat requests as one job, reports the job's state, and reads its
per-line results back as ``AttemptResult``s classified exactly as the streaming adapters classify a
whole response (``adapters.outcomes``): a line the vendor answered with an error status is that
error's outcome; an expired or canceled line is FAILED_TRANSIENT with vendor code
``batch_expired`` / ``batch_canceled`` (retryable: the engine sends it again in a later batch).

Each line's ``custom_id`` is the engine's work key, so results map back to work without any state
here; the engine stores batch ids, so a killed run polls its jobs again instead of resubmitting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import quote

import aiohttp
import orjson

from adapters.anthropic_adapter import API_VERSION as ANTHROPIC_VERSION
from adapters.anthropic_adapter import DEFAULT_BASE as ANTHROPIC_BASE
from adapters.anthropic_adapter import RESERVED as ANTHROPIC_RESERVED
from adapters.anthropic_adapter import messages_payload, read_message
from adapters.azure_adapter import DEFAULT_API_VERSION
from adapters.fast_transport import ClientPool, StreamState, check_reserved, lower_headers, new_session
from adapters.keys import make_limit_key, split_model
from adapters.openai_adapter import DEFAULT_BASES, read_chat_body, split_extra
from adapters.outcomes import Classified, classify_error_body
from core.redaction import Redactor
from core.types import AttemptResult, ChatRequest, Outcome

if TYPE_CHECKING:
    from adapters.registry import AdapterTarget

COMPLETION_WINDOW = "24h"
"""The only completion window the OpenAI and Azure batch APIs accept."""

_ANTHROPIC_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}
"""HTTP status of each Anthropic error type (a batch result carries the type, not the status)."""


class BatchError(RuntimeError):
    """A batch call itself failed (upload, create, poll, download): the job is not lost, retry later."""


@dataclass(frozen=True, slots=True)
class BatchState:
    """A job as the vendor last reported it."""

    batch_id: str
    status: str
    """The vendor's own word (``in_progress``, ``completed``, ``expired``; Anthropic ``ended``)."""
    ended: bool
    """Results can be read (the vendor will not change them any more)."""
    counts: Mapping[str, int] = field(default_factory=dict)


@runtime_checkable
class BatchClient(Protocol):
    """Submits, polls and reads back batch jobs of one target."""

    @property
    def limit_key(self) -> str:
        """The same key as the target's streaming adapter."""
        ...

    async def submit(self, lines: Sequence[tuple[str, ChatRequest]], *, label: str) -> str:
        """Create one job of ``(custom_id, request)`` lines; returns the vendor's batch id."""
        ...

    async def find(self, label: str, *, since: float) -> str | None:
        """The id of a job this client created with ``label`` at or after ``since`` (epoch seconds),
        or None when the vendor has none or cannot say (its jobs carry no label). A run that stopped
        between creating a job and storing its id finds it here instead of paying for it twice."""
        ...

    async def state(self, batch_id: str) -> BatchState:
        """The job's state now."""
        ...

    async def results(self, batch_id: str) -> list[tuple[str, AttemptResult]]:
        """Every line the vendor returned, classified (call once ``state`` says ``ended``)."""
        ...

    async def aclose(self) -> None:
        """Release the session if this client owns it."""
        ...


def transient(code: str, error: str) -> AttemptResult:
    """A line the vendor never answered (expired, canceled, missing): sent again later."""
    return AttemptResult(Outcome.FAILED_TRANSIENT, vendor_code=code, retryable=True, error=error)


def _attempt(classified: Classified, state: StreamState) -> AttemptResult:
    return classified.to_attempt(text="".join(state.parts), finish_reason=state.finish, usage=state.usage)


class _HttpBatch:
    """What both wires share: a session, headers, JSON calls that raise ``BatchError``."""

    def __init__(self, session: aiohttp.ClientSession | None, redactor: Redactor) -> None:
        self._session = session
        self._owns = session is None
        self._redactor = redactor
        self._headers: dict[str, str] = {}

    async def aclose(self) -> None:
        if self._owns and self._session is not None:
            await self._session.close()
        self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = new_session(8)
        return self._session

    async def _call(self, method: str, url: str, **kwargs: Any) -> bytes:
        headers = {**self._headers, **kwargs.pop("headers", {})}
        try:
            async with self._http().request(
                method, url, headers=headers, timeout=aiohttp.ClientTimeout(total=300), **kwargs
            ) as response:
                raw = await response.read()
                if response.status >= 400:
                    text = self._redactor.redact(raw[:300].decode("utf-8", "replace"))
                    raise BatchError(f"{method} batch endpoint: HTTP {response.status}: {text}")
                return raw
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BatchError(f"{method} batch endpoint: {type(exc).__name__}") from None

    async def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        raw = await self._call(method, url, **kwargs)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            raise BatchError(f"{method} batch endpoint: the answer is not a JSON object")
        return body


class OpenAIBatch(_HttpBatch):
    """The OpenAI Batch API (``azure=True``: Azure OpenAI's, under ``/openai`` with ``api-version``).

    Lines go up as a JSONL file (``purpose=batch``), the job runs against ``/v1/chat/completions``
    within 24 hours; the output file holds answered lines, the error file the rest.
    """

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None,
        api_base: str | None,
        redactor: Redactor,
        extra_params: Mapping[str, Any] | None = None,
        azure: bool = False,
        api_version: str | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(session, redactor)
        self._extra, extra_headers = split_extra(extra_params)
        provider, self._wire_model = split_model(model)
        if azure:
            if not api_base:
                raise ValueError("Azure OpenAI batch needs api_base (https://NAME.openai.azure.com)")
            self._root = api_base.rstrip("/") + "/openai"
            self._query = {"api-version": api_version or DEFAULT_API_VERSION}
            self._line_url = "/chat/completions"
            if api_key:
                self._headers["api-key"] = api_key
        else:
            base = api_base or DEFAULT_BASES.get(provider)
            if base is None:
                raise ValueError(f"model {model!r}: no api_base given and no default endpoint")
            self._root = base.rstrip("/")
            self._query = {}
            self._line_url = "/v1/chat/completions"
            if api_key:
                self._headers["authorization"] = f"Bearer {api_key}"
        self._headers.update(extra_headers)
        self._limit_key = make_limit_key(model, api_key, api_base)

    @property
    def limit_key(self) -> str:
        """The same key as the target's streaming adapter."""
        return self._limit_key

    def _line(self, custom_id: str, request: ChatRequest) -> bytes:
        messages: list[dict[str, str]] = []
        if request.system is not None:
            messages.append({"role": "system", "content": request.system})
        messages.append({"role": "user", "content": request.prompt})
        body = {
            **self._extra,
            **request.decoding.as_params(),
            "model": self._wire_model,
            "messages": messages,
        }
        line = {"custom_id": custom_id, "method": "POST", "url": self._line_url, "body": body}
        return orjson.dumps(line)

    async def submit(self, lines: Sequence[tuple[str, ChatRequest]], *, label: str) -> str:
        """Upload the JSONL file and create the job."""
        jsonl = b"\n".join(self._line(cid, request) for cid, request in lines) + b"\n"
        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        form.add_field("file", jsonl, filename=f"{label}.jsonl", content_type="application/jsonl")
        uploaded = await self._json("POST", f"{self._root}/files", params=self._query, data=form)
        created = await self._json(
            "POST",
            f"{self._root}/batches",
            params=self._query,
            json={
                "input_file_id": uploaded["id"],
                "endpoint": self._line_url,
                "completion_window": COMPLETION_WINDOW,
                "metadata": {"seval": label},
            },
        )
        return str(created["id"])

    async def find(self, label: str, *, since: float) -> str | None:
        """Pages through the job list (newest first) to the first job older than ``since``, looking
        for ``metadata.seval == label``."""
        after: str | None = None
        while True:
            params = {**self._query, "limit": "100", **({"after": after} if after else {})}
            page = await self._json("GET", f"{self._root}/batches", params=params)
            jobs = [j for j in page.get("data") or [] if isinstance(j, dict)]
            for job in jobs:
                created = job.get("created_at")
                if isinstance(created, int | float) and created < since:
                    return None  # newest first: everything from here on is older
                if (job.get("metadata") or {}).get("seval") == label:
                    return str(job["id"])
            if not jobs or not page.get("has_more"):
                return None
            after = str(jobs[-1]["id"])

    async def state(self, batch_id: str) -> BatchState:
        """``completed``, ``expired``, ``cancelled`` and ``failed`` are ended."""
        body = await self._json("GET", f"{self._root}/batches/{quote(batch_id, safe='')}", params=self._query)
        status = str(body.get("status"))
        counts = body.get("request_counts") or {}
        return BatchState(
            batch_id,
            status,
            status in ("completed", "expired", "cancelled", "failed"),
            {str(k): int(v) for k, v in counts.items() if isinstance(v, int)},
        )

    async def results(self, batch_id: str) -> list[tuple[str, AttemptResult]]:
        """Lines of the output and error files, classified."""
        body = await self._json("GET", f"{self._root}/batches/{quote(batch_id, safe='')}", params=self._query)
        out: list[tuple[str, AttemptResult]] = []
        for key in ("output_file_id", "error_file_id"):
            file_id = body.get(key)
            if not file_id:
                continue
            raw = await self._call(
                "GET", f"{self._root}/files/{quote(str(file_id), safe='')}/content", params=self._query
            )
            out.extend(self._classify(line) for line in raw.splitlines() if line.strip())
        return out

    def _classify(self, raw: bytes) -> tuple[str, AttemptResult]:
        line = orjson.loads(raw)
        custom_id = str(line.get("custom_id"))
        response = line.get("response") or {}
        error = line.get("error")
        if isinstance(error, dict) and not response:
            code = str(error.get("code") or "batch_error")
            message = self._redactor.redact(str(error.get("message") or code))
            if code in ("batch_expired", "batch_cancelled"):
                return custom_id, transient(code.replace("cancelled", "canceled"), message)
            return custom_id, classify_error_body(
                None, {"error": error}, redactor=self._redactor
            ).to_attempt()
        status = int(response.get("status_code") or 0)
        payload = response.get("body")
        if status >= 400 or not isinstance(payload, dict):
            return custom_id, classify_error_body(
                status or None, payload, redactor=self._redactor
            ).to_attempt()
        state = StreamState()
        return custom_id, _attempt(read_chat_body(orjson.dumps(payload), state), state)


class AnthropicBatch(_HttpBatch):
    """Anthropic Message Batches: one JSON request of ``{custom_id, params}``, results as JSONL."""

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None,
        api_base: str | None,
        redactor: Redactor,
        extra_body: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(session, redactor)
        self._extra = check_reserved(extra_body, ANTHROPIC_RESERVED)
        _, self._wire_model = split_model(model)
        base = (api_base or ANTHROPIC_BASE).rstrip("/").removesuffix("/messages")
        self._url = (base if base.endswith("/v1") else base + "/v1") + "/messages/batches"
        self._headers.update({"anthropic-version": ANTHROPIC_VERSION, **lower_headers(headers)})
        if api_key:
            self._headers["x-api-key"] = api_key
        self._limit_key = make_limit_key(model, api_key, api_base)

    @property
    def limit_key(self) -> str:
        """The same key as the target's streaming adapter."""
        return self._limit_key

    async def submit(self, lines: Sequence[tuple[str, ChatRequest]], *, label: str) -> str:
        """Create the job (up to 100,000 requests per batch)."""
        requests = [
            {"custom_id": cid, "params": messages_payload(self._extra, _unstreamed(r), self._wire_model)}
            for cid, r in lines
        ]
        created = await self._json("POST", self._url, json={"requests": requests})
        return str(created["id"])

    async def find(self, label: str, *, since: float) -> str | None:
        """Always None: Message Batches carry no label or metadata to recognise a job by, so a job
        whose creation was cut off before its id was stored is sent again (the one known way this
        client can pay for a batch twice)."""
        return None

    async def state(self, batch_id: str) -> BatchState:
        """``ended`` once every request succeeded, errored, expired or was canceled."""
        body = await self._json("GET", f"{self._url}/{quote(batch_id, safe='')}")
        status = str(body.get("processing_status"))
        counts = body.get("request_counts") or {}
        return BatchState(
            batch_id,
            status,
            status == "ended",
            {str(k): int(v) for k, v in counts.items() if isinstance(v, int)},
        )

    async def results(self, batch_id: str) -> list[tuple[str, AttemptResult]]:
        """Every result line, classified (``results_url`` from the job)."""
        body = await self._json("GET", f"{self._url}/{quote(batch_id, safe='')}")
        url = body.get("results_url") or f"{self._url}/{quote(batch_id, safe='')}/results"
        raw = await self._call("GET", str(url))
        return [self._classify(line) for line in raw.splitlines() if line.strip()]

    def _classify(self, raw: bytes) -> tuple[str, AttemptResult]:
        line = orjson.loads(raw)
        custom_id = str(line.get("custom_id"))
        result = line.get("result") or {}
        kind = result.get("type")
        if kind == "succeeded" and isinstance(result.get("message"), dict):
            state = StreamState()
            return custom_id, _attempt(read_message(result["message"], state), state)
        if kind in ("expired", "canceled"):
            return custom_id, transient(f"batch_{kind}", f"the batch line {kind}")
        error: dict[str, Any] = result.get("error") or {}
        nested = error.get("error")
        inner: dict[str, Any] = nested if isinstance(nested, dict) else error
        status = _ANTHROPIC_STATUS.get(str(inner.get("type")), 400)
        return custom_id, classify_error_body(status, error, redactor=self._redactor).to_attempt()


def _unstreamed(request: ChatRequest) -> ChatRequest:
    # A batch line is answered whole: ``stream`` is never sent inside one.
    from dataclasses import replace

    return replace(request, stream=False) if request.stream else request


def openai_batch(target: AdapterTarget, shared: ClientPool | None) -> OpenAIBatch:
    """The registry's batch factory for ``openai`` targets."""
    base = target.api_base or DEFAULT_BASES.get(split_model(target.model)[0])
    return OpenAIBatch(
        model=target.model,
        api_key=target.api_key,
        api_base=target.api_base,
        redactor=target.redactor,
        extra_params=target.extra_params(),
        session=shared.session_for(base) if shared is not None and base else None,
    )


def azure_batch(target: AdapterTarget, shared: ClientPool | None) -> OpenAIBatch:
    """The registry's batch factory for ``azure`` targets (Azure OpenAI global-batch deployments)."""
    return OpenAIBatch(
        model=target.model,
        api_key=target.api_key,
        api_base=target.api_base,
        redactor=target.redactor,
        extra_params=target.extra_params(),
        azure=True,
        api_version=target.api_version,
        session=shared.session_for(target.api_base) if shared is not None and target.api_base else None,
    )


def anthropic_batch(target: AdapterTarget, shared: ClientPool | None) -> AnthropicBatch:
    """The registry's batch factory for ``anthropic`` targets."""
    return AnthropicBatch(
        model=target.model,
        api_key=target.api_key,
        api_base=target.api_base,
        redactor=target.redactor,
        extra_body=target.extra_body,
        headers=target.headers,
        session=shared.session_for(target.api_base or ANTHROPIC_BASE) if shared is not None else None,
    )
