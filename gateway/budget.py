"""Spending: what a target's tokens cost (``Price``, ``price_for``) and the run's caps (``Budget``).

Prices come from the target's config, else litellm's offline cost map, else they are unknown
(zero, and a ``max_usd`` cap then refuses to start). The budget is shared by every target of a run
and counts every vendor call the policy layer makes for them (retries included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.tokens import text_tokens
from core.types import AttemptResult, Outcome
from gateway.config import TargetConfig


@dataclass(frozen=True, slots=True)
class Price:
    """USD per token for one target; ``known`` is False when neither config nor litellm has a price."""

    input_per_token: float
    output_per_token: float
    known: bool = True

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """The cost of one response."""
        return prompt_tokens * self.input_per_token + completion_tokens * self.output_per_token


def price_for(target: TargetConfig) -> Price:
    """Config prices, else litellm's offline cost map (imported only here), else unknown (zero)."""
    if target.prices is not None:
        return Price(target.prices.input_per_1m / 1e6, target.prices.output_per_1m / 1e6)
    from adapters.litellm_import import quiet_litellm

    litellm = quiet_litellm()
    try:
        # Probing with a million tokens of each kind gives the per-token prices litellm would use.
        prompt_cost, _ = litellm.cost_per_token(model=target.litellm_model, prompt_tokens=1_000_000)
        _, completion_cost = litellm.cost_per_token(model=target.litellm_model, completion_tokens=1_000_000)
    except Exception:  # litellm raises a bare Exception for models its map lacks
        return Price(0.0, 0.0, known=False)
    return Price(float(prompt_cost) / 1e6, float(completion_cost) / 1e6)


def charged_tokens(prompt: str, result: AttemptResult) -> tuple[int, int]:
    """(prompt, completion) tokens one final answer is charged: the vendor's usage; an estimate when
    the vendor answered without usage (so spend and budget stay honest); nothing for a failure."""
    usage = result.usage
    if usage is not None:
        return usage.prompt_tokens, usage.completion_tokens
    if result.outcome is Outcome.FAILED_TRANSIENT or result.outcome is Outcome.FAILED_PERMANENT:
        return 0, 0
    return text_tokens(prompt), text_tokens(result.text)


class Ledger(Protocol):
    """The run's shared spending ledger (``db.coordination.Coordination`` bound to a run and worker)."""

    async def reserve(self, *, usd: float, max_usd: float | None, max_calls: int | None) -> bool:
        """Reserve one call of up to ``usd``; False when a cap would be passed."""
        ...

    async def settle(self, *, reserved_usd: float, spent_usd: float, calls: int) -> None:
        """Replace a reservation by the call's actual cost and vendor calls."""
        ...

    async def unreserve(self, *, reserved_usd: float) -> None:
        """Hand back a reservation whose call was never made."""
        ...


class Budget:
    """The run's spending caps, shared by every target. Reaching one stops new sends.

    In one process the caps are checked against this process's own counts. With a ``ledger`` (every
    worker of a sweep, or any run with a cap), each item first reserves its estimated cost in the
    shared ledger and settles it after the call, so the workers together never pass ``max_usd`` or
    ``max_calls`` by more than the calls in flight exceed their estimates.
    """

    __slots__ = ("_ledger", "calls", "max_calls", "max_usd", "reason", "spent_usd")

    def __init__(
        self,
        *,
        max_usd: float | None,
        max_calls: int | None,
        spent_usd: float = 0.0,
        ledger: Ledger | None = None,
    ) -> None:
        self.max_usd = max_usd
        self.max_calls = max_calls
        self.spent_usd = spent_usd
        self.calls = 0
        self.reason: str | None = None
        self._ledger = ledger if (max_usd is not None or max_calls is not None) else None

    @property
    def capped(self) -> bool:
        """True when a cap is set."""
        return self.max_usd is not None or self.max_calls is not None

    def check(self) -> bool:
        """True while a new item may be sent; records why not once a cap is reached."""
        if self.reason is not None:
            return False
        if self.max_usd is not None and self.spent_usd >= self.max_usd:
            self.reason = f"budget reached: spent ${self.spent_usd:.4f} of max_usd ${self.max_usd:.4f}"
        elif self.max_calls is not None and self.calls >= self.max_calls:
            self.reason = f"budget reached: {self.calls} vendor calls of max_calls {self.max_calls}"
        return self.reason is None

    async def reserve(self, estimate_usd: float) -> bool:
        """True when an item estimated at ``estimate_usd`` may be sent (reserved in the ledger)."""
        if self._ledger is None:
            return self.check()
        if self.reason is not None:
            return False
        if await self._ledger.reserve(usd=estimate_usd, max_usd=self.max_usd, max_calls=self.max_calls):
            return True
        self.reason = "budget reached: the run's workers together have spent or reserved up to " + (
            f"max_usd ${self.max_usd:.4f}" if self.max_usd is not None else f"max_calls {self.max_calls}"
        )
        return False

    async def settle(self, reserved_usd: float, cost_usd: float, calls: int) -> None:
        """Account for a finished item: its actual cost (and, with a ledger, its vendor calls)."""
        self.spent_usd += cost_usd
        if self._ledger is not None:
            await self._ledger.settle(reserved_usd=reserved_usd, spent_usd=cost_usd, calls=calls)

    async def unreserve(self, reserved_usd: float) -> None:
        """An item reserved but never sent (its target paused)."""
        if self._ledger is not None:
            await self._ledger.unreserve(reserved_usd=reserved_usd)
