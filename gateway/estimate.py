"""``seval run --estimate``: expected calls, tokens and cost of a run, without sending anything.

Streams the suites once. Prompt tokens are estimated from text length (the limiter's estimate);
completion tokens are the decoding's ``max_tokens`` when set, else ``ASSUMED_COMPLETION``.
Applied attacks are expanded in memory with their templates (no generator model is called), so
the prompt sizes of rewrite attacks are approximations. Items already stored for the run (resume)
are not counted again.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.tokens import text_tokens
from core.types import Case, CaseKind
from gateway.budget import price_for
from gateway.config import RunConfig
from gateway.planner import TargetPlan, suite_cases

ASSUMED_COMPLETION = 256
"""Completion tokens assumed per call when the decoding sets no ``max_tokens``."""


@dataclass(frozen=True, slots=True)
class TargetEstimate:
    """Expected work for one target."""

    name: str
    calls: int
    already_done: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None  # None: no price known (config or litellm's cost map)
    batch_saving_usd: float | None = None
    """For `mode: batch` targets: streaming cost minus the batch cost (``cost_usd``)."""


@dataclass(frozen=True, slots=True)
class RunEstimate:
    """Expected work for a run."""

    run_id: str
    cases: int
    targets: tuple[TargetEstimate, ...]

    @property
    def calls(self) -> int:
        """Calls over every target."""
        return sum(t.calls for t in self.targets)

    @property
    def cost_usd(self) -> float | None:
        """Total cost, or None when some target has no price."""
        costs = [t.cost_usd for t in self.targets]
        return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)


async def estimate(config: RunConfig, *, done: dict[str, set[str]] | None = None) -> RunEstimate:
    """The run's expected calls, tokens and cost; ``done`` holds keys already stored per target."""
    from attacks.expand import make_expander

    expander = (
        make_expander(config.attacks.apply, allow_template_fallback=True, languages=config.languages)
        if config.attacks.apply
        else None
    )
    plans = [TargetPlan.of(config, t) for t in config.targets]
    done = done or {}
    calls = dict.fromkeys((p.name for p in plans), 0)
    prompt = dict.fromkeys(calls, 0)
    completion = dict.fromkeys(calls, 0)
    n_cases = 0
    send_base = CaseKind.BASE in config.kinds
    for source in suite_cases(config, on_skip=lambda _row: None):
        cases: list[Case] = []
        if source.kind is not CaseKind.BASE or send_base:
            cases.append(source)
        if expander is not None and source.kind is CaseKind.BASE:
            cases.extend(await expander.expand(source, seed=config.attacks.seed))
        n_cases += len(cases)
        for plan in plans:
            skip = done.get(plan.name, set())
            for item in plan.items(cases, skip):
                calls[plan.name] += 1
                prompt[plan.name] += text_tokens(item.case.text)
                completion[plan.name] += item.decoding.max_tokens or ASSUMED_COMPLETION
    targets = []
    for t in config.targets:
        price = price_for(t)
        cost = price.cost(prompt[t.name], completion[t.name]) if price.known else None
        saving = None
        if cost is not None and t.mode == "batch":
            cost, saving = cost * t.batch.price_factor, cost * (1 - t.batch.price_factor)
        already = len(done.get(t.name, set()))
        targets.append(
            TargetEstimate(t.name, calls[t.name], already, prompt[t.name], completion[t.name], cost, saving)
        )
    return RunEstimate(config.run_id, n_cases, tuple(targets))
