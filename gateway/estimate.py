"""``seval run --estimate``: expected calls, tokens and cost of a run, without sending anything.

Streams the suites once. Prompt tokens are estimated from text length (the limiter's estimate);
completion tokens are the decoding's ``max_tokens`` when set, else ``ASSUMED_COMPLETION``.
Applied attacks are expanded in memory with their templates (no generator model is called), so
the prompt sizes of rewrite attacks are approximations. Items already stored for the run (resume)
are not counted again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.tokens import text_tokens
from core.types import Case, CaseKind
from gateway.budget import price_for
from gateway.config import RunConfig
from gateway.planner import TargetPlan, case_chunks, suite_cases

if TYPE_CHECKING:
    from db.store import Store

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


async def estimate(
    config: RunConfig, *, store: Store | None = None, retry_failed: bool = True
) -> RunEstimate:
    """The run's expected calls, tokens and cost. With the ``store`` holding an earlier session of the
    run, what it already has is left out: shards recorded done are skipped unread, and the others'
    stored work keys are read one shard at a time, so this costs the same at any stage of the run.
    With ``retry_failed``, items stored as FAILED_TRANSIENT or INCOMPLETE count as still to send."""
    from attacks.expand import make_expander
    from db.coordination import Coordination

    expander = (
        make_expander(config.attacks.apply, allow_template_fallback=True, languages=config.languages)
        if config.attacks.apply
        else None
    )
    plans = [TargetPlan.of(config, t) for t in config.targets]
    include_retryable = not retry_failed
    settled: dict[int, int] = {}
    already: dict[str, int] = {}
    if store is not None:
        coord = Coordination(store.engine)
        settled = await coord.done_shard_cases(config.run_id, settled_only=retry_failed)
        already = await store.done_counts(config.run_id, include_retryable=include_retryable)
    calls = dict.fromkeys((p.name for p in plans), 0)
    prompt = dict.fromkeys(calls, 0)
    completion = dict.fromkeys(calls, 0)
    n_cases = sum(settled.values())
    send_base = CaseKind.BASE in config.kinds
    for shard, chunk in case_chunks(suite_cases(config, on_skip=lambda _row: None)):
        if shard in settled:
            continue
        cases: list[Case] = []
        for source in chunk:
            if source.kind is not CaseKind.BASE or send_base:
                cases.append(source)
            if expander is not None and source.kind is CaseKind.BASE:
                cases.extend(await expander.expand(source, seed=config.attacks.seed))
        n_cases += len(cases)
        done: dict[str, set[str]] = {}
        if store is not None and already:
            done = await store.done_for_cases(
                config.run_id, [c.id for c in cases], include_retryable=include_retryable
            )
        for plan in plans:
            for item in plan.items(cases, done.get(plan.name, set())):
                calls[plan.name] += 1
                prompt[plan.name] += text_tokens(item.case.text)
                completion[plan.name] += item.decoding.max_tokens or ASSUMED_COMPLETION
    targets = []
    for t in config.targets:
        price = price_for(t)
        cost = price.cost(prompt[t.name], completion[t.name]) if price.known else None
        targets.append(
            TargetEstimate(
                t.name, calls[t.name], already.get(t.name, 0), prompt[t.name], completion[t.name], cost
            )
        )
    return RunEstimate(config.run_id, n_cases, tuple(targets))
