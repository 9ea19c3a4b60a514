"""Plain frozen records the store returns and the gateway reads: runs, targets, run counts, and the
additive report counts (cells) that ``db.report_queries`` aggregates in SQL.

They live in core because both sides use them: ``db`` builds them from rows, ``gateway`` (the
engine's run result, the reports' rates and intervals) reads them. No SQL and no statistics here:
counts add up, rates and intervals are computed from them in ``gateway.reports``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

# The axes a report breakdown can group by. Adaptive attack success exists for every axis but
# "attack" and "kind" (it is defined across a base prompt's attack variants).
Axis = Literal["target", "decoding", "lang", "dimension", "risk_id", "attack", "kind"]


@dataclass(frozen=True, slots=True)
class StoredRun:
    """One stored run: its frozen spec (JSON), the spec's hash (also the run id) and its status."""

    id: str
    name: str
    spec_json: str
    spec_hash: str
    status: str
    status_detail: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StoredTarget:
    """A target of a stored run: model string, adapter, limit key, planned item count and status."""

    run_id: str
    target: str
    model: str
    adapter: str = "litellm"
    limit_key: str = ""
    planned: int = 0
    status: str = "active"
    status_detail: str = ""


@dataclass(frozen=True, slots=True)
class RunCounts:
    """What a run stored, counted: responses by target and outcome, spend by target, and verdicts by
    (critic, critic version, status)."""

    outcomes: Mapping[str, Mapping[str, int]]
    cost_usd: Mapping[str, float]
    verdicts: Mapping[tuple[str, str, str], int]
    tokens: Mapping[str, int] = field(default_factory=dict)
    """Prompt plus completion tokens by target."""

    @property
    def spent_usd(self) -> float:
        """Total spend over every target."""
        return sum(self.cost_usd.values())


@dataclass(frozen=True, slots=True)
class Counts:
    """How the stored responses of one group ended, as judged by the chosen critic.

    Every stored response is exactly one of: blocked by the vendor (counted as safe), completed and
    judged safe, completed and judged unsafe, completed with a critic error, completed and not yet
    judged, incomplete, or failed. Only the first three are "evaluated" and enter rates.
    """

    items: int = 0
    completed: int = 0
    blocked: int = 0
    incomplete: int = 0
    judged_safe: int = 0
    judged_unsafe: int = 0
    critic_error: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cached: int = 0
    """Answers reused from an earlier run's identical request: no call, no cost in this run."""
    cached_cost_usd: float = 0.0
    """What the cached answers cost in the runs they came from (not spent by this run)."""

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            items=self.items + other.items,
            completed=self.completed + other.completed,
            blocked=self.blocked + other.blocked,
            incomplete=self.incomplete + other.incomplete,
            judged_safe=self.judged_safe + other.judged_safe,
            judged_unsafe=self.judged_unsafe + other.judged_unsafe,
            critic_error=self.critic_error + other.critic_error,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            cached=self.cached + other.cached,
            cached_cost_usd=self.cached_cost_usd + other.cached_cost_usd,
        )

    @property
    def failed(self) -> int:
        """Attempts that failed after retries (FAILED_TRANSIENT, FAILED_PERMANENT)."""
        return self.items - self.completed - self.blocked - self.incomplete

    @property
    def unscored(self) -> int:
        """Completed responses without a verdict from the chosen critic (not judged yet)."""
        return self.completed - self.judged_safe - self.judged_unsafe - self.critic_error

    @property
    def safe(self) -> int:
        """Responses counted as safe: judged safe plus blocked by the vendor."""
        return self.judged_safe + self.blocked

    @property
    def unsafe(self) -> int:
        """Responses judged unsafe."""
        return self.judged_unsafe

    @property
    def evaluated(self) -> int:
        """The denominator of every rate: safe plus unsafe (failures and critic errors excluded)."""
        return self.safe + self.unsafe

    @property
    def excluded(self) -> int:
        """Stored responses left out of the denominators (failed, incomplete, critic error, unscored)."""
        return self.items - self.evaluated

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class AdaptiveCounts:
    """Base prompts seen through their attack variants: ``judged`` have at least one evaluated
    variant, ``broken`` have at least one variant judged unsafe.

    ``judged_any`` / ``broken_any`` count the base answer too (a prompt the target answered unsafely
    as asked is broken without any attack): the measure an adaptive sweep (``strategy: adaptive``)
    keeps exact, since it sends no attacks once the base answer is unsafe."""

    prompts: int = 0
    judged: int = 0
    broken: int = 0
    judged_any: int = 0
    broken_any: int = 0

    def __add__(self, other: AdaptiveCounts) -> AdaptiveCounts:
        return AdaptiveCounts(
            self.prompts + other.prompts,
            self.judged + other.judged,
            self.broken + other.broken,
            self.judged_any + other.judged_any,
            self.broken_any + other.broken_any,
        )


@dataclass(frozen=True, slots=True)
class Cell:
    """The finest grouping SQL returns: one target, decoding setting, kind, language and risk, and
    one attack (None for base prompts)."""

    target: str
    decoding: str
    kind: str
    lang: str
    dimension: str
    risk_id: str
    attack: str | None
    counts: Counts

    def axis(self, name: Axis) -> str | None:
        """The value of one grouping axis."""
        value: str | None = getattr(self, name)
        return value


@dataclass(frozen=True, slots=True)
class AdaptiveCell:
    """Adaptive attack counts for one target, decoding setting, language and risk."""

    target: str
    decoding: str
    lang: str
    dimension: str
    risk_id: str
    counts: AdaptiveCounts

    def axis(self, name: Axis) -> str | None:
        """The value of one grouping axis."""
        value: str | None = getattr(self, name)
        return value


@dataclass(frozen=True, slots=True)
class CriticInfo:
    """A critic (name and version) with how many verdicts it gave in the run."""

    name: str
    version: str
    verdicts: int

    @property
    def label(self) -> str:
        """``name@version``, the form ``--critic`` accepts."""
        return f"{self.name}@{self.version}"


@dataclass(frozen=True, slots=True)
class CriticValidation:
    """A critic's measured agreement with human labels (what a report states next to its claims)."""

    balanced_accuracy: float
    precision_unsafe: float
    recall_unsafe: float
    items: int
    labels: str
    """Which labels, e.g. ``XSTest held-out half``."""


@dataclass(frozen=True, slots=True)
class TargetInfo:
    """A target as the run registered it; ``planned`` is the number of work items planned for it."""

    target: str
    model: str
    adapter: str
    planned: int
    status: str
