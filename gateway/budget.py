"""Spending: what a target's tokens cost (``Price``, ``price_for``) and the run's caps (``Budget``).

Prices come from the target's config, else litellm's offline cost map, else they are unknown
(zero, and a ``max_usd`` cap then refuses to start). The budget is shared by every target of a run
and counts every vendor call the policy layer makes for them (retries included).
"""

from __future__ import annotations

from dataclasses import dataclass

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
    import os

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    try:
        # Probing with a million tokens of each kind gives the per-token prices litellm would use.
        prompt_cost, _ = litellm.cost_per_token(model=target.litellm_model, prompt_tokens=1_000_000)
        _, completion_cost = litellm.cost_per_token(model=target.litellm_model, completion_tokens=1_000_000)
    except Exception:  # litellm raises a bare Exception for models its map lacks
        return Price(0.0, 0.0, known=False)
    return Price(float(prompt_cost) / 1e6, float(completion_cost) / 1e6)


class Budget:
    """The run's spending caps, shared by every target. Reaching one stops new sends."""

    __slots__ = ("calls", "max_calls", "max_usd", "reason", "spent_usd")

    def __init__(self, *, max_usd: float | None, max_calls: int | None, spent_usd: float = 0.0) -> None:
        self.max_usd = max_usd
        self.max_calls = max_calls
        self.spent_usd = spent_usd
        self.calls = 0
        self.reason: str | None = None

    def check(self) -> bool:
        """True while a new item may be sent; records why not once a cap is reached."""
        if self.reason is not None:
            return False
        if self.max_usd is not None and self.spent_usd >= self.max_usd:
            self.reason = f"budget reached: spent ${self.spent_usd:.4f} of max_usd ${self.max_usd:.4f}"
        elif self.max_calls is not None and self.calls >= self.max_calls:
            self.reason = f"budget reached: {self.calls} vendor calls of max_calls {self.max_calls}"
        return self.reason is None
