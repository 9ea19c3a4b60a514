"""The critic in-process: a loaded backend behind the ``core.protocols.Critic`` protocol, no HTTP hop.

Used by the SDK and the demo when ``critic.url`` is not set, by ``seval critique`` without
``--critic``, and by benchmarks::

    async with LocalCritic.open(ServerConfig(backend="rules")) as critic:
        verdicts = await critic.critique(items)

Each item is converted once (``CritiqueItem`` -> backend item -> ``Verdict``) and checked by the
same rules as the HTTP app (``validate_item``): a malformed or over-long item, an item the backend
could not judge and a batch whose backend call failed all come back as CRITIC_ERROR verdicts, never
as safe. Judge-injection fencing happens inside the model backends themselves, so it applies here
exactly as behind the server.

The event loop is never held by a model: the hf backend runs its forward passes in a worker thread
(``asyncio.to_thread`` inside ``HFBackend.judge``), the openai judge awaits HTTP, and the rules
backend is a few regexes per item. Micro-batched (model) backends are fed through the same
``MicroBatcher`` the server uses, so concurrent calls share forward passes of at most
``micro_batch_size`` items.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from pydantic import ValidationError

from core.critic_wire import CritiqueItemIn
from core.redaction import Redactor
from core.types import CritiqueItem, Label, Verdict, VerdictStatus
from critic_server.backends.base import Backend, Judgement
from critic_server.batching import MicroBatcher
from critic_server.config import ServerConfig


def _item_error(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors()[:5]:
        where = ".".join(str(x) for x in err["loc"]) or "item"
        problems.append(f"{where}: {err['msg']}")
    return "invalid item: " + "; ".join(problems)


def validate_item(raw: Any, max_text_chars: int) -> CritiqueItemIn | str:
    """``raw`` (a dict of wire fields) as a backend item, or the reason it cannot be judged: it breaks
    the wire schema, its prompt or response is longer than ``max_text_chars``, or its response is
    empty (whitespace only)."""
    try:
        item = CritiqueItemIn.model_validate(raw)
    except ValidationError as exc:
        return _item_error(exc)
    too_long = [f for f in ("prompt", "response") if len(getattr(item, f)) > max_text_chars]
    if too_long:
        return f"{' and '.join(too_long)} longer than the {max_text_chars}-character limit"
    if not item.response.strip():
        # A COMPLETED answer with no text carries nothing to judge: a critic would call it safe and
        # inflate the safety rate, so it is left unjudged (a CRITIC_ERROR, shown as coverage).
        return EMPTY_RESPONSE
    return item


EMPTY_RESPONSE = "empty response: nothing to judge (not counted as safe)"
"""The per-item error of a response with no text (``validate_item``)."""


class LocalCritic:
    """A ``Critic`` over a backend loaded in this process. Build with ``LocalCritic.open``."""

    def __init__(
        self,
        backend: Backend,
        *,
        max_text_chars: int,
        batcher: MicroBatcher[CritiqueItemIn, Judgement] | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self._backend = backend
        self._max_text_chars = max_text_chars
        self._batcher = batcher
        self._redactor = redactor or Redactor([])

    @classmethod
    @asynccontextmanager
    async def open(
        cls, config: ServerConfig | None = None, *, backend: Backend | None = None
    ) -> AsyncIterator[LocalCritic]:
        """Load the backend ``config`` names (``backend`` overrides: an already-built one), with a
        micro-batcher for model backends; release both on exit."""
        from critic_server.app import load_backend

        cfg = config if config is not None else ServerConfig()
        loaded = backend if backend is not None else await load_backend(cfg)
        try:
            if not loaded.micro_batched:
                yield cls(loaded, max_text_chars=cfg.max_text_chars)
                return
            batcher = MicroBatcher(
                loaded.judge, max_batch=cfg.micro_batch_size, max_wait_s=cfg.micro_batch_wait_ms / 1000
            )
            async with batcher:
                yield cls(loaded, max_text_chars=cfg.max_text_chars, batcher=batcher)
        finally:
            await loaded.aclose()

    @property
    def name(self) -> str:
        """Critic name stored with each verdict."""
        return self._backend.critic_name

    @property
    def version(self) -> str:
        """Critic version stored with each verdict."""
        return self._backend.version

    @property
    def backend(self) -> Backend:
        """The loaded backend (its kind, model and threshold)."""
        return self._backend

    async def critique(self, items: Sequence[CritiqueItem]) -> list[Verdict]:
        """One verdict per item, same order; every failure is a CRITIC_ERROR verdict."""
        out: dict[int, Verdict] = {}
        valid: list[tuple[int, CritiqueItemIn]] = []
        for i, it in enumerate(items):
            raw = {
                "id": it.id,
                "prompt": it.prompt,
                "response": it.response,
                "lang": it.lang,
                "risk_hint": it.risk_hint,
            }
            checked = validate_item(raw, self._max_text_chars)
            if isinstance(checked, str):
                out[i] = self._error(it.id, checked)
            else:
                valid.append((i, checked))
        if valid:
            batch = [item for _, item in valid]
            try:
                if self._batcher is not None:
                    judgements = await self._batcher.submit_many(batch)
                else:
                    judgements = await self._backend.judge(batch)
                if len(judgements) != len(batch):
                    raise RuntimeError(f"backend gave {len(judgements)} judgements for {len(batch)} items")
            except Exception as exc:
                error = f"critic backend failed: {self._redactor.redact_exception(exc)}"
                judgements = [Judgement.failed(error)] * len(batch)
            for (i, _), judgement in zip(valid, judgements, strict=True):
                out[i] = self._verdict(items[i].id, judgement)
        return [out[i] for i in range(len(items))]

    def _verdict(self, item_id: str, j: Judgement) -> Verdict:
        if j.error is not None or j.label is None or j.risk_score is None:
            return self._error(item_id, j.error or "critic returned no label")
        return Verdict(
            id=item_id,
            status=VerdictStatus.SCORED,
            label=Label(j.label),
            risk_score=j.risk_score,
            risk_tags=tuple(j.risk_tags),
            explanation=j.explanation,
            critic=self.name,
            critic_version=self.version,
            confident=j.confident,
        )

    def _error(self, item_id: str, error: str) -> Verdict:
        return Verdict(
            id=item_id,
            status=VerdictStatus.CRITIC_ERROR,
            label=None,
            risk_score=None,
            risk_tags=(),
            explanation="",
            critic=self.name,
            critic_version=self.version,
            error=error,
        )
