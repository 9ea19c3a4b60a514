"""How a run and its targets stand: the status values stored in the database and the result types
``gateway.run`` returns (built from the store by ``gateway.pipeline.collect_result``).

Run status: ``running`` while it runs, then ``completed``; ``partial`` when a target was paused
(quota, spend limit, credentials) and the rest finished; ``budget_exhausted``; ``interrupted``
(stop requested: in-flight requests finish, everything is flushed); ``failed`` (an error the run
cannot go on from, with its reason). Each target's status says the same per target.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


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
