"""The gateway's client of the critic server; implements the ``Critic`` protocol.

Items are sent in batches of ``batch_size``. Transport errors, timeouts, 429 and 5xx are retried
with tenacity (jittered exponential back-off, ``max_attempts`` in all). A batch that still fails, an
answer that does not fit the wire schema, and every item the server could not judge come back as
``Verdict(status=CRITIC_ERROR)``: never as safe. ``name``/``version`` come from ``GET /v1/info``
(call ``await client.start()`` first, or let the first ``critique`` call do it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from core.critic_wire import CriticInfo, CritiqueResponse, CritiqueResult
from core.errors import ServiceError
from core.redaction import Redactor
from core.types import CritiqueItem, Label, Verdict, VerdictStatus


class CriticUnavailable(ServiceError):
    """The critic server could not be reached or answered with an error, after retries."""


class _RetryableStatus(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"critic answered HTTP {status}")
        self.status = status


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, (_RetryableStatus, httpx.TransportError))


class CriticClient:
    """Async client of ``critic_server`` (one connection pool; close with ``aclose``)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        batch_size: int = 64,
        timeout_s: float = 60.0,
        max_attempts: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff_max_s: float = 10.0,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
        )
        self._redactor = Redactor([token] if token else [])
        self._batch_size = batch_size
        self._max_attempts = max_attempts
        self._backoff_max_s = backoff_max_s
        self._info: CriticInfo | None = None
        self._info_lock = asyncio.Lock()

    @property
    def name(self) -> str:
        """Critic name reported by the server (``start`` must have run)."""
        return self._require_info().critic

    @property
    def version(self) -> str:
        """Critic version reported by the server (``start`` must have run)."""
        return self._require_info().version

    @property
    def info(self) -> CriticInfo:
        """Everything ``/v1/info`` reported."""
        return self._require_info()

    def _require_info(self) -> CriticInfo:
        if self._info is None:
            raise RuntimeError("CriticClient.start() has not run: name and version come from /v1/info")
        return self._info

    async def start(self) -> CriticInfo:
        """Fetch ``/v1/info`` (with retries); raises ``CriticUnavailable`` when it cannot."""
        async with self._info_lock:
            if self._info is None:
                try:
                    resp = await self._request("GET", "/v1/info")
                    self._info = CriticInfo.model_validate(resp.json())
                except (ValidationError, ValueError) as exc:
                    raise CriticUnavailable(f"critic /v1/info answer is malformed: {exc}") from None
            return self._info

    async def _request(self, method: str, path: str, json: object | None = None) -> httpx.Response:
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self._max_attempts),
                wait=wait_random_exponential(multiplier=0.1, max=self._backoff_max_s),
                retry=retry_if_exception(_retryable),
                reraise=True,
            ):
                with attempt:
                    resp = await self._client.request(method, path, json=json)
                    if resp.status_code == 429 or resp.status_code >= 500:
                        raise _RetryableStatus(resp.status_code)
                    if resp.status_code >= 400:
                        raise CriticUnavailable(
                            f"critic answered HTTP {resp.status_code}: "
                            f"{self._redactor.redact(resp.text[:300])}"
                        )
                    return resp
        except CriticUnavailable:
            raise
        except Exception as exc:
            raise CriticUnavailable(
                f"critic unreachable after {self._max_attempts} attempts: "
                f"{self._redactor.redact_exception(exc)}"
            ) from None
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def critique(self, items: Sequence[CritiqueItem]) -> list[Verdict]:
        """One verdict per item, same order; failures are CRITIC_ERROR verdicts."""
        if not items:
            return []
        try:
            info = await self.start()
        except CriticUnavailable as exc:
            return [self._error(it.id, str(exc), "unknown", "unknown") for it in items]
        size = min(self._batch_size, info.max_batch_items)
        batches = [items[i : i + size] for i in range(0, len(items), size)]
        out: list[Verdict] = []
        for batch in batches:
            out.extend(await self._critique_batch(batch, info))
        return out

    async def _critique_batch(self, batch: Sequence[CritiqueItem], info: CriticInfo) -> list[Verdict]:
        body = {
            "items": [
                {
                    "id": it.id,
                    "prompt": it.prompt,
                    "response": it.response,
                    "lang": it.lang,
                    "risk_hint": it.risk_hint,
                }
                for it in batch
            ]
        }
        try:
            resp = await self._request("POST", "/v1/critique", json=body)
            parsed = CritiqueResponse.model_validate(resp.json())
        except CriticUnavailable as exc:
            return [self._error(it.id, str(exc), info.critic, info.version) for it in batch]
        except (ValidationError, ValueError) as exc:
            msg = f"critic answer breaks the wire schema: {type(exc).__name__}"
            return [self._error(it.id, msg, info.critic, info.version) for it in batch]
        if len(parsed.results) != len(batch):
            msg = f"critic returned {len(parsed.results)} results for {len(batch)} items"
            return [self._error(it.id, msg, info.critic, info.version) for it in batch]
        return [self._verdict(it, res, info) for it, res in zip(batch, parsed.results, strict=True)]

    def _verdict(self, item: CritiqueItem, res: CritiqueResult, info: CriticInfo) -> Verdict:
        critic, version = res.critic or info.critic, res.critic_version or info.version
        if res.id != item.id:
            return self._error(
                item.id, f"critic answered for id {res.id!r} in this item's place", critic, version
            )
        if res.error is not None or res.label is None or res.risk_score is None:
            return self._error(item.id, res.error or "critic returned no label", critic, version)
        return Verdict(
            id=item.id,
            status=VerdictStatus.SCORED,
            label=Label(res.label),
            risk_score=res.risk_score,
            risk_tags=tuple(res.risk_tags),
            explanation=res.explanation,
            critic=critic,
            critic_version=version,
            confident=res.confident,
        )

    @staticmethod
    def _error(item_id: str, error: str, critic: str, version: str) -> Verdict:
        return Verdict(
            id=item_id,
            status=VerdictStatus.CRITIC_ERROR,
            label=None,
            risk_score=None,
            risk_tags=(),
            explanation="",
            critic=critic,
            critic_version=version,
            error=error,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
