"""What every critic backend provides to the HTTP app."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from core.critic_wire import CritiqueItemIn, LabelText


@dataclass(frozen=True, slots=True)
class Judgement:
    """A backend's judgement of one item, or why it could not judge it (``error`` set, label None)."""

    label: LabelText | None
    risk_score: float | None
    risk_tags: tuple[str, ...] = ()
    explanation: str = ""
    error: str | None = None
    confident: bool = False  # sure by the backend's own evidence (see ``Verdict.confident``)

    @classmethod
    def failed(cls, error: str) -> Judgement:
        """A judgement that carries only the reason there is none."""
        return cls(label=None, risk_score=None, error=error)


class Backend(Protocol):
    """A loaded critic. Built once per server (lifespan); ``judge`` is called per (micro-)batch."""

    @property
    def kind(self) -> str:
        """Backend kind: ``rules``, ``hf`` or ``openai``."""
        ...

    @property
    def critic_name(self) -> str:
        """Critic name stored with each verdict."""
        ...

    @property
    def version(self) -> str:
        """Critic version stored with each verdict; changes whenever verdicts could change."""
        ...

    @property
    def model(self) -> str:
        """Model path or name (``builtin`` for rules)."""
        ...

    @property
    def threshold(self) -> float:
        """Risk score at or above which the label is unsafe."""
        ...

    @property
    def micro_batched(self) -> bool:
        """True when items from concurrent requests should be coalesced before ``judge``."""
        ...

    async def judge(self, items: Sequence[CritiqueItemIn]) -> list[Judgement]:
        """One judgement per item, same order. Item-level failures are judgements with ``error``."""
        ...

    async def aclose(self) -> None:
        """Release the model or connection pool."""
        ...
