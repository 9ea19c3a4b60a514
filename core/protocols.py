"""The seams between packages. Concrete implementations are wired together in the CLI / SDK only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from core.types import AttemptResult, Case, ChatRequest, CritiqueItem, Verdict


@runtime_checkable
class TargetAdapter(Protocol):
    """Sends one request to one target model and classifies how it ended.

    An adapter never retries and never raises for vendor behaviour: every exception, status code
    and finish reason becomes an ``AttemptResult`` with exactly one ``Outcome``. Retries, limits
    and deadlines belong to the gateway's policy layer.
    """

    @property
    def limit_key(self) -> str:
        """Key under which rate limits are shared: (provider, API key fingerprint, model)."""
        ...

    @property
    def name(self) -> str:
        """Adapter kind recorded with each run (``litellm`` or ``openai``)."""
        ...

    async def send(self, request: ChatRequest) -> AttemptResult:
        """Send one request (streaming when ``request.stream``) and return its classified result."""
        ...

    async def aclose(self) -> None:
        """Release connection pools."""
        ...


@runtime_checkable
class Critic(Protocol):
    """Batch-first judge: many (prompt, response, lang) in, one verdict per item out, same order."""

    @property
    def name(self) -> str:
        """Critic name stored with each verdict."""
        ...

    @property
    def version(self) -> str:
        """Critic version stored with each verdict (model revision, rule-set version)."""
        ...

    async def critique(self, items: Sequence[CritiqueItem]) -> list[Verdict]:
        """Judge every item; failures come back as CRITIC_ERROR verdicts, never as safe."""
        ...


@runtime_checkable
class TextGenerator(Protocol):
    """A generator model (Mt) used by attacks that rewrite a prompt."""

    async def generate(self, prompt: str, *, lang: str, seed: int) -> str:
        """Return the model's completion for ``prompt``; raises ``GenerationError`` on failure."""
        ...


@runtime_checkable
class Attack(Protocol):
    """An adversarial instruction attack: turns one base case into attacked cases with provenance."""

    name: str
    version: str
    languages: tuple[str, ...]
    description: str
    needs_generator: bool

    async def apply(self, case: Case, *, seed: int, generator: TextGenerator | None = None) -> list[Case]:
        """Attacked variants of ``case``: same input and seed give the same output."""
        ...
