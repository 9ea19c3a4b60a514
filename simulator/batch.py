"""Simulated vendor batch APIs, with a time-compressed completion window.

- OpenAI (and Azure OpenAI under ``/openai/...?api-version=``): ``POST .../files`` (multipart,
  ``purpose=batch``), ``POST .../batches``, ``GET .../batches/{id}``, ``GET .../files/{id}/content``.
  Answered lines go to the output file, error statuses and expired lines to the error file.
- Anthropic Message Batches: ``POST .../messages/batches``, ``GET .../messages/batches/{id}``,
  ``GET .../messages/batches/{id}/results`` (JSONL of ``succeeded`` / ``errored`` / ``expired``).

A job is ``in_progress`` for ``VendorConfig.batch_seconds`` after creation; the first poll after
that answers every line through the same handler as a live request (same answers, blocks and
fault scenarios; a ``x-sim-fault`` header on the create call applies to every line) and ends the
job. ``batch_expire_rate`` of the lines (by hash) expire instead of being answered.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from simulator.behaviour import digest, unit
from simulator.config import VendorConfig
from simulator.httpserver import Request, Responder
from simulator.stats import VendorStats
from simulator.wire import send_json

LineHandler = Callable[[str, Request, Responder], Awaitable[int]]
"""Answers one line as a live request: (wire, request, responder) -> status."""


class CapturedResponse(Responder):
    """A ``Responder`` that keeps the response instead of writing it to a connection."""

    __slots__ = ("body", "status")

    def __init__(self) -> None:  # no connection: nothing is written anywhere
        self.status = 0
        self.body = b""

    def send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Keep a whole response."""
        self.status, self.body = status, body

    def start_stream(self, status: int, headers: list[tuple[str, str]]) -> None:
        """Keep the status of a streamed response (batch lines are never streamed)."""
        self.status = status

    def write(self, data: bytes) -> None:
        """Keep a chunk."""
        self.body += data

    async def drain(self) -> None:
        """Nothing to wait for."""

    def end_stream(self, final: bytes = b"") -> None:
        """Keep the last chunk."""
        self.body += final

    def write_raw_and_close(self, data: bytes) -> None:
        """A cut connection: the line is a server error."""
        self.status, self.body = 500, b'{"error": {"message": "connection cut", "type": "server_error"}}'

    def reset(self) -> None:
        """A reset connection: the line is a server error."""
        self.write_raw_and_close(b"")

    async def wait_disconnect(self) -> None:
        """A stalled line: answered as a server error at once."""
        self.write_raw_and_close(b"")


@dataclass(slots=True)
class _Job:
    id: str
    wire: str  # openai | anthropic
    created: float
    lines: list[tuple[str, Request]]
    tries: list[int] = field(default_factory=list)  # earlier batches that carried each line's custom_id
    status: str = "in_progress"
    results: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    output_file: str | None = None
    error_file: str | None = None
    metadata: dict[str, Any] | None = None  # OpenAI's per-job metadata, as given at creation


class BatchDesk:
    """The vendor's batch jobs and files (in memory, for the life of the simulated vendor)."""

    def __init__(self, config: VendorConfig, stats: VendorStats, answer: LineHandler) -> None:
        self._config = config
        self._stats = stats
        self._answer = answer
        self._files: dict[str, bytes] = {}
        self._jobs: dict[str, _Job] = {}
        self._seen: Counter[str] = Counter()

    @staticmethod
    def handles(path: str) -> bool:
        """True for a batch or file path."""
        return "/batches" in path or path.endswith("/files") or "/files/" in path

    async def handle(self, request: Request, responder: Responder) -> None:
        """Serve one batch-API request."""
        path, method = request.path, request.method
        if "/openai/" in path and "api-version" not in request.query:
            send_json(responder, 404, {"error": {"code": "404", "message": "Resource not found"}})
        elif method == "POST" and path.endswith("/files"):
            self._upload(request, responder)
        elif method == "GET" and path.endswith("/content") and "/files/" in path:
            file_id = path.rsplit("/", 2)[-2]
            if file_id in self._files:
                responder.send(200, [("content-type", "application/jsonl")], self._files[file_id])
            else:
                send_json(responder, 404, {"error": {"message": "no such file", "type": "not_found"}})
        elif method == "POST" and path.endswith("/messages/batches"):
            self._create_anthropic(request, responder)
        elif method == "POST" and path.endswith("/batches"):
            self._create_openai(request, responder)
        elif method == "GET" and "/messages/batches/" in path:
            await self._get_anthropic(path, responder)
        elif method == "GET" and "/batches/" in path:
            await self._get_openai(path, responder)
        elif method == "GET" and path.endswith("/batches"):
            self._list_openai(request, responder)
        else:
            send_json(responder, 404, {"error": {"message": f"no route for {method} {path}"}})

    # OpenAI / Azure OpenAI
    def _upload(self, request: Request, responder: Responder) -> None:
        content = _multipart_file(request)
        if content is None:
            send_json(responder, 400, {"error": {"message": "expected a multipart file", "type": "invalid"}})
            return
        file_id = f"file-{uuid.uuid4().hex[:24]}"
        self._files[file_id] = content
        send_json(
            responder, 200, {"id": file_id, "object": "file", "bytes": len(content), "purpose": "batch"}
        )

    def _create_openai(self, request: Request, responder: Responder) -> None:
        spec = orjson.loads(request.body)
        content = self._files.get(str(spec.get("input_file_id")))
        if content is None:
            send_json(responder, 400, {"error": {"message": "unknown input_file_id", "type": "invalid"}})
            return
        headers = _line_headers(request)
        lines: list[tuple[str, Request]] = []
        for raw in content.splitlines():
            if raw.strip():
                line = orjson.loads(raw)
                path = "/v1/chat/completions"
                body = orjson.dumps(line["body"])
                lines.append((str(line["custom_id"]), Request("POST", path, {}, headers, body)))
        job = self._new_job("openai", lines, f"batch_{uuid.uuid4().hex[:24]}")
        metadata = spec.get("metadata")
        job.metadata = metadata if isinstance(metadata, dict) else None
        send_json(responder, 200, self._openai_view(job, spec))

    def _list_openai(self, request: Request, responder: Responder) -> None:
        """``GET /v1/batches?limit=N&after=ID``: newest first, paged by the last id seen."""
        jobs = sorted((j for j in self._jobs.values() if j.wire == "openai"), key=lambda j: -j.created)
        after = request.query.get("after")
        if after:
            ids = [j.id for j in jobs]
            jobs = jobs[ids.index(after) + 1 :] if after in ids else []
        limit = max(1, min(100, int(request.query.get("limit") or 20)))
        page = jobs[:limit]
        send_json(
            responder,
            200,
            {
                "object": "list",
                "data": [self._openai_view(j, {}) for j in page],
                "first_id": page[0].id if page else None,
                "last_id": page[-1].id if page else None,
                "has_more": len(jobs) > limit,
            },
        )

    async def _get_openai(self, path: str, responder: Responder) -> None:
        job = self._jobs.get(path.rsplit("/", 1)[-1])
        if job is None:
            send_json(responder, 404, {"error": {"message": "no such batch", "type": "not_found"}})
            return
        await self._maybe_finish(job)
        send_json(responder, 200, self._openai_view(job, {}))

    def _openai_view(self, job: _Job, spec: dict[str, Any]) -> dict[str, Any]:
        counts = job.counts or {"total": len(job.lines), "completed": 0, "failed": 0}
        return {
            "id": job.id,
            "object": "batch",
            "endpoint": spec.get("endpoint", "/v1/chat/completions"),
            "status": job.status,
            "created_at": int(job.created),
            "output_file_id": job.output_file,
            "error_file_id": job.error_file,
            "request_counts": counts,
            "metadata": job.metadata,
        }

    # Anthropic
    def _create_anthropic(self, request: Request, responder: Responder) -> None:
        spec = orjson.loads(request.body)
        headers = _line_headers(request)
        lines = [
            (str(r["custom_id"]), Request("POST", "/v1/messages", {}, headers, orjson.dumps(r["params"])))
            for r in spec.get("requests") or []
        ]
        job = self._new_job("anthropic", lines, f"msgbatch_{uuid.uuid4().hex[:24]}")
        send_json(responder, 200, self._anthropic_view(job))

    async def _get_anthropic(self, path: str, responder: Responder) -> None:
        parts = path.split("/messages/batches/", 1)[-1].split("/")
        job = self._jobs.get(parts[0])
        if job is None:
            send_json(
                responder, 404, {"type": "error", "error": {"type": "not_found_error", "message": "no batch"}}
            )
            return
        await self._maybe_finish(job)
        if parts[1:] == ["results"]:
            if job.status != "ended":
                send_json(responder, 400, {"type": "error", "error": {"type": "invalid_request_error"}})
                return
            responder.send(200, [("content-type", "application/jsonl")], _jsonl(job.results))
            return
        send_json(responder, 200, self._anthropic_view(job))

    def _anthropic_view(self, job: _Job) -> dict[str, Any]:
        counts = job.counts or {"processing": len(job.lines), "succeeded": 0, "errored": 0}
        return {
            "id": job.id,
            "type": "message_batch",
            "processing_status": job.status,
            "request_counts": {"processing": 0, "canceled": 0, "expired": 0, **counts},
            "results_url": None,  # the client asks ``/{id}/results``, as the API documents
        }

    # both
    def _new_job(self, wire: str, lines: list[tuple[str, Request]], job_id: str) -> _Job:
        job = self._jobs[job_id] = _Job(job_id, wire, time.time(), lines)
        stats = self._stats
        stats.batches_created += 1
        stats.batch_lines += len(lines)
        for custom_id, _ in lines:
            job.tries.append(self._seen[custom_id])
            if self._seen[custom_id]:
                stats.batch_lines_repeated += 1
            self._seen[custom_id] += 1
        return job

    async def _maybe_finish(self, job: _Job) -> None:
        """Answer every line once the (compressed) completion window has passed."""
        if job.results or job.status in ("completed", "ended"):
            return
        if time.time() - job.created < self._config.batch_seconds:
            return
        expired = 0
        for (custom_id, request), tries in zip(job.lines, job.tries, strict=True):
            # by hash of the line and its try: a line sent again may go through the next time
            key = digest("batch-expire", self._config.seed, custom_id, tries)
            if unit(key, 0) < self._config.batch_expire_rate:
                expired += 1
                job.results.append(self._expired_line(job.wire, custom_id))
                continue
            captured = CapturedResponse()
            status = await self._answer(job.wire, request, captured)
            body = orjson.loads(captured.body) if captured.body else None
            job.results.append(self._line(job.wire, custom_id, status, body))
        if job.wire == "anthropic":
            ok = sum(1 for r in job.results if r["result"]["type"] == "succeeded")
            job.counts = {"processing": 0, "succeeded": ok, "errored": len(job.results) - ok - expired}
            job.counts["expired"] = expired
            job.status = "ended"
            return
        out = [r for r in job.results if (r.get("response") or {}).get("status_code") == 200]
        err = [r for r in job.results if r not in out]
        job.output_file = self._store_file(out)
        job.error_file = self._store_file(err) if err else None
        job.counts = {"total": len(job.lines), "completed": len(out), "failed": len(err)}
        job.status = "expired" if expired else "completed"

    def _store_file(self, lines: list[dict[str, Any]]) -> str:
        file_id = f"file-{uuid.uuid4().hex[:24]}"
        self._files[file_id] = _jsonl(lines)
        return file_id

    @staticmethod
    def _expired_line(wire: str, custom_id: str) -> dict[str, Any]:
        if wire == "anthropic":
            return {"custom_id": custom_id, "result": {"type": "expired"}}
        error = {"code": "batch_expired", "message": "This request could not be executed before the window."}
        return {
            "id": f"req_{uuid.uuid4().hex[:12]}",
            "custom_id": custom_id,
            "response": None,
            "error": error,
        }

    @staticmethod
    def _line(wire: str, custom_id: str, status: int, body: Any) -> dict[str, Any]:
        if wire == "anthropic":
            if status == 200 and isinstance(body, dict):
                return {"custom_id": custom_id, "result": {"type": "succeeded", "message": body}}
            return {"custom_id": custom_id, "result": {"type": "errored", "error": body}}
        response = {"status_code": status, "request_id": f"req_{uuid.uuid4().hex[:12]}", "body": body}
        return {
            "id": f"batch_req_{uuid.uuid4().hex[:12]}",
            "custom_id": custom_id,
            "response": response,
            "error": None,
        }


def _line_headers(request: Request) -> dict[str, str]:
    """The headers each line is answered with: the caller's key and fault header."""
    keep = ("authorization", "x-api-key", "api-key", "x-sim-fault")
    return {k: v for k, v in request.headers.items() if k in keep}


def _jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


def _multipart_file(request: Request) -> bytes | None:
    """The ``file`` part of a multipart/form-data body."""
    content_type = request.headers.get("content-type", "")
    _, sep, boundary = content_type.partition("boundary=")
    if not sep:
        return None
    delimiter = b"--" + boundary.strip('"').encode()
    for part in request.body.split(delimiter):
        head, sep2, content = part.partition(b"\r\n\r\n")
        if sep2 and b'name="file"' in head:
            return content.removesuffix(b"\r\n")
    return None
