"""``seval run --estimate``: expected calls, tokens and cost of a run, without sending anything.

Streams the suites once. Prompt tokens are estimated from text length (the limiter's estimate);
completion tokens are the decoding's ``max_tokens`` when set, else ``ASSUMED_COMPLETION``.
Applied attacks are expanded in memory with their templates (no generator model is called), so
the prompt sizes of rewrite attacks are approximations. Items already stored for the run (resume)
are not counted again, and neither are items the response cache would answer (an identical request
answered in an earlier run): those are counted as ``cached``, at no cost. The run's spend so far is
given so the caller can tell whether the run would outgrow ``budget.max_usd``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from core.tokens import text_tokens
from core.types import Case, CaseKind
from gateway.budget import price_for
from gateway.config import RunConfig
from gateway.dispatch import cache_key
from gateway.planner import TargetPlan, suite_cases

FindCached = Callable[[Iterable[str]], Awaitable[dict[str, Any]]]
"""``Store.find_cached``: the cache keys an earlier run has a reusable answer for."""
_CACHE_CHUNK = 2_000

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
    cached: int = 0
    """Items the response cache would answer: not sent, not paid."""


@dataclass(frozen=True, slots=True)
class RunEstimate:
    """Expected work for a run."""

    run_id: str
    cases: int
    targets: tuple[TargetEstimate, ...]
    spent_usd: float = 0.0
    """What the run's earlier sessions already spent (``budget.max_usd`` covers every session)."""
    max_usd: float | None = None

    @property
    def calls(self) -> int:
        """Calls over every target."""
        return sum(t.calls for t in self.targets)

    @property
    def cost_usd(self) -> float | None:
        """Total cost, or None when some target has no price."""
        costs = [t.cost_usd for t in self.targets]
        return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)

    @property
    def over_budget(self) -> bool:
        """True when spend so far plus the estimate exceeds ``budget.max_usd``."""
        cost = self.cost_usd
        return self.max_usd is not None and cost is not None and self.spent_usd + cost > self.max_usd


async def estimate(
    config: RunConfig,
    *,
    done: dict[str, set[str]] | None = None,
    find_cached: FindCached | None = None,
    spent_usd: float = 0.0,
) -> RunEstimate:
    """The run's expected calls, tokens and cost; ``done`` holds keys already stored per target,
    ``find_cached`` (None: cache off) finds the items an earlier run's answer would cover."""
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
    cached = dict.fromkeys(calls, 0)
    targets_by_name = {t.name: t for t in config.targets}
    system = config.request.system
    pending: list[tuple[str, str, int, int]] = []  # target, cache key, prompt and completion tokens

    async def settle() -> None:
        hits = await find_cached([p[1] for p in pending]) if find_cached is not None else {}
        for name, key, p_tokens, c_tokens in pending:
            if key in hits:
                cached[name] += 1
            else:
                calls[name] += 1
                prompt[name] += p_tokens
                completion[name] += c_tokens
        pending.clear()

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
            target = targets_by_name[plan.name]
            for item in plan.items(cases, skip):
                key = cache_key(target, item.decoding, system, item.case.text, item.sample_index)
                tokens_out = item.decoding.max_tokens or ASSUMED_COMPLETION
                pending.append((plan.name, key, text_tokens(item.case.text), tokens_out))
        if len(pending) >= _CACHE_CHUNK:
            await settle()
    await settle()
    targets = []
    for t in config.targets:
        price = price_for(t)
        cost = price.cost(prompt[t.name], completion[t.name]) if price.known else None
        already = len(done.get(t.name, set()))
        targets.append(
            TargetEstimate(
                t.name, calls[t.name], already, prompt[t.name], completion[t.name], cost, cached[t.name]
            )
        )
    return RunEstimate(config.run_id, n_cases, tuple(targets), spent_usd, config.budget.max_usd)
