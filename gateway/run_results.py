"""How a run and its targets stand: the status values stored in the database and the result types
``gateway.run`` returns (built from the store by ``gateway.pipeline.collect_result``).

Run status: ``running`` while it runs, then ``completed``; ``partial`` when a target was paused
(quota, spend limit, credentials) and the rest finished; ``budget_exhausted``; ``interrupted``
(stop requested: in-flight requests finish, everything is flushed); ``failed`` (an error the run
cannot go on from, with its reason). Each target's status says the same per target.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from core.records import RunCounts
from core.types import Outcome

_ANSWERED = (Outcome.COMPLETED.value, Outcome.BLOCKED_BY_VENDOR.value)


class RunStatus(StrEnum):
    """Run status values stored in ``runs.status``."""

    RUNNING = "running"
    COMPLETED = "completed"
    PARTIAL = "partial"
    BUDGET = "budget_exhausted"
    INTERRUPTED = "interrupted"
    FAILED = "failed"


class TargetStatus(StrEnum):
    """Target status values stored in ``run_targets.status``."""

    ACTIVE = "active"
    DONE = "done"
    PAUSED = "paused"  # quota, spend limit or credentials: the vendor will refuse until a person acts
    STOPPED = "stopped"  # the run stopped (budget, interrupt) before this target finished


@dataclass(frozen=True, slots=True)
class TargetResult:
    """How one target of a run stands (all sessions of the run together)."""

    name: str
    model: str
    adapter: str
    status: str
    detail: str
    planned: int
    outcomes: Mapping[str, int]
    cost_usd: float
    retries: int = 0
    rate_limited: int = 0
    calls: int = 0  # vendor calls made for this target by this session (not earlier ones)

    @property
    def done(self) -> int:
        """Items with a stored response."""
        return sum(self.outcomes.values())


@dataclass(frozen=True, slots=True)
class RunResult:
    """The result of ``gateway.run``: the run's id, how it ended, and counts per target and outcome."""

    run_id: str
    name: str
    status: str
    detail: str
    targets: tuple[TargetResult, ...]
    spent_usd: float
    critic: str | None = None
    verdicts: Mapping[str, int] = field(default_factory=dict)

    def target(self, name: str) -> TargetResult:
        """The result of the target called ``name``."""
        for t in self.targets:
            if t.name == name:
                return t
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class EarlierWork:
    """What earlier sessions of a run stored for one target, as a resumed session starts (for live
    progress that shows the whole run, not this session alone).

    Outcome counts cover only the answers this session will not send again; tokens and spend cover
    every stored row, since a row sent again keeps adding to its own tokens and cost.
    """

    blocked: int = 0
    failed: int = 0
    """Failed or cut off (FAILED_*, INCOMPLETE) and not sent again."""
    tokens: int = 0
    cost_usd: float = 0.0

    @classmethod
    def of(cls, counts: RunCounts, target: str, *, resent: Collection[str] = ()) -> EarlierWork:
        """``target``'s earlier work in ``counts``; ``resent``: stored outcomes this session sends again."""
        outcomes = counts.outcomes.get(target, {})
        kept = {o: n for o, n in outcomes.items() if o not in resent}
        return cls(
            blocked=kept.get(Outcome.BLOCKED_BY_VENDOR, 0),
            failed=sum(n for o, n in kept.items() if o not in _ANSWERED),
            tokens=counts.tokens.get(target, 0),
            cost_usd=counts.cost_usd.get(target, 0.0),
        )
