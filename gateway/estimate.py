"""``seval run --estimate``: expected calls, tokens and cost of a run, without sending anything.

Streams the suites once. Prompt tokens are estimated from text length (the limiter's estimate);
completion tokens are the decoding's ``max_tokens`` when set, else ``ASSUMED_COMPLETION``.
Applied attacks are expanded in memory with their templates (no generator model is called), so
the prompt sizes of rewrite attacks are approximations. Items already stored for the run (resume)
are not counted again, and neither are items the response cache would answer (an identical request
answered in an earlier run): those are counted as ``cached``, at no cost. The run's spend so far is
given so the caller can tell whether the run would outgrow ``budget.max_usd``.

A ``judge`` critic (alone or as a cascade stage) is estimated too: one judge call per response
(retries not counted), prompt tokens = the judge instructions + the case text + the target's
completion estimate, ``JUDGE_ASSUMED_OUTPUT`` tokens out. How many items a cascade's first stage
decides cannot be known before the answers exist: ``JudgeEstimate`` gives the upper bound (every
response reaches the judge) and an expected figure that assumes ``CASCADE_ASSUMED_FIRST_STAGE_SHARE``
(the share of clean refusals the rules decided on the demo run, ``bench/critic_cascade.py``; a
model that refuses more saves more, one that never refuses saves nothing).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.tokens import text_tokens
from core.types import Case, CaseKind
from gateway.budget import price_for
from gateway.config import JUDGE_BACKEND, RunConfig
from gateway.dispatch import cache_key
from gateway.planner import TargetPlan, case_chunks, suite_cases
from gateway.selection.strata import Breakdown

if TYPE_CHECKING:
    from db.store import Store

FindCached = Callable[[Iterable[str]], Awaitable[dict[str, Any]]]
"""``Store.find_cached``: the cache keys an earlier run has a reusable answer for."""
_CACHE_CHUNK = 2_000

ASSUMED_COMPLETION = 256
"""Completion tokens assumed per call when the decoding sets no ``max_tokens``."""
JUDGE_ASSUMED_OUTPUT = 80
"""Tokens of one JSON verdict with a short explanation."""
CASCADE_ASSUMED_FIRST_STAGE_SHARE = 0.38
"""Share of items a ``[rules, judge]`` cascade's rules decided on the demo run (simulated models)."""


@dataclass(frozen=True, slots=True)
class JudgeEstimate:
    """Expected judge calls and cost (``calls_expected`` assumes ``first_stage_share`` for a cascade)."""

    name: str
    calls_max: int
    calls_expected: int
    first_stage_share: float
    prompt_tokens_max: int
    completion_tokens_max: int
    cost_max_usd: float | None
    cost_expected_usd: float | None


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
    batch_saving_usd: float | None = None
    """For `mode: batch` targets: streaming cost minus the batch cost (``cost_usd``)."""


@dataclass(frozen=True, slots=True)
class RunEstimate:
    """Expected work for a run."""

    run_id: str
    cases: int
    targets: tuple[TargetEstimate, ...]
    # Source cases (the `limit` slice when there is one) by dimension, category, language, kind.
    breakdown: dict[str, dict[str, int]] = field(default_factory=dict)
    judge: JudgeEstimate | None = None
    spent_usd: float = 0.0
    """What the run's earlier sessions already spent (``budget.max_usd`` covers every session)."""
    max_usd: float | None = None
    upper_bound: bool = False
    """True for `strategy: adaptive`: the calls counted are every item; the run sends fewer (each
    base prompt's attacks stop at the first success, and none follow an unsafe base answer)."""

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
    store: Store | None = None,
    retry_failed: bool = True,
    find_cached: FindCached | None = None,
) -> RunEstimate:
    """The run's expected calls, tokens and cost. With the ``store`` holding an earlier session of the
    run, what it already has is left out: shards recorded done are skipped unread, and the others'
    stored work keys are read one shard at a time, so this costs the same at any stage of the run.
    With ``retry_failed``, items stored as FAILED_TRANSIENT or INCOMPLETE count as still to send.
    ``find_cached`` (None: cache off) finds the items an earlier run's answer would cover."""
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
        spent_usd = await store.spent_usd(config.run_id)
    else:
        spent_usd = 0.0
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

    n_cases = sum(settled.values())
    send_base = CaseKind.BASE in config.kinds
    sources = Breakdown()
    for shard, chunk in case_chunks(suite_cases(config, on_skip=lambda _row: None)):
        for source in chunk:
            sources.add(source)
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
        saving = None
        if cost is not None and t.mode == "batch":
            cost, saving = cost * t.batch.price_factor, cost * (1 - t.batch.price_factor)
        targets.append(
            TargetEstimate(
                t.name,
                calls[t.name],
                already.get(t.name, 0),
                prompt[t.name],
                completion[t.name],
                cost,
                cached[t.name],
                saving,
            )
        )
    return RunEstimate(
        config.run_id,
        n_cases,
        tuple(targets),
        sources.counts(),
        _judge(config, sum(calls.values()), prompt, completion),
        spent_usd,
        config.budget.max_usd,
        upper_bound=config.strategy == "adaptive",
    )


def _judge(
    config: RunConfig, responses: int, prompt: dict[str, int], completion: dict[str, int]
) -> JudgeEstimate | None:
    """The judge's share of the estimate, when a critic stage is ``judge``."""
    target = config.critic.target
    if not config.critic.enabled or target is None or JUDGE_BACKEND not in config.critic.stages:
        return None
    from critic_server.judge_prompt import load_judge_prompt

    judge_prompt = load_judge_prompt()
    overhead = text_tokens(judge_prompt.system["en"] + judge_prompt.user["en"]) + 200  # + schema, fences
    tokens_in = responses * overhead + sum(prompt.values()) + sum(completion.values())
    tokens_out = responses * JUDGE_ASSUMED_OUTPUT
    stage = config.critic.stages.index(JUDGE_BACKEND)
    share = CASCADE_ASSUMED_FIRST_STAGE_SHARE if stage > 0 else 0.0
    expected = round(responses * (1.0 - share))
    price = price_for(target)
    cost = price.cost(tokens_in, tokens_out) if price.known else None
    return JudgeEstimate(
        name=f"judge:{target.name}",
        calls_max=responses,
        calls_expected=expected,
        first_stage_share=share,
        prompt_tokens_max=tokens_in,
        completion_tokens_max=tokens_out,
        cost_max_usd=cost,
        cost_expected_usd=None if cost is None else cost * (1.0 - share),
    )
