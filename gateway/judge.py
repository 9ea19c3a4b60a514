"""Any vendor model as critic (``critic: {backend: judge, target: ...}``) and critic cascades.

``JudgeCritic`` asks a chat model for S-Eval's critique (``critic_server.judge_prompt``: versioned
zh/en instructions, fenced and escaped texts, one JSON verdict) through the same pieces that send a
target's items: an adapter from the adapter registry and the run's ``CallPolicy`` (its limiter per
limit key, retries, Retry-After pauses, quota pause). Its own ``Budget`` caps the judge's spend and
calls; ``usage`` counts its calls, tokens and cost, which the SDK stores per run and critic
(``critic_usage``) so reports show the judge's cost apart from the targets'. A call that does not
end COMPLETED, an answer that breaks the verdict schema and an item refused by the budget are
CRITIC_ERROR verdicts, never safe.

``CascadeCritic`` runs critics in order: each stage's confident verdicts (``Verdict.confident``,
the rules' clean refusals) are final, the rest go to the next stage, and the last stage decides
what is left. Every verdict names its deciding stage in the explanation.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace

from core.protocols import Critic, TargetAdapter
from core.redaction import Redactor
from core.types import ChatRequest, CritiqueItem, Label, Outcome, Verdict, VerdictStatus, stable_hash
from critic_server.fencing import Escaper, Fence
from critic_server.judge_prompt import VERDICT_SCHEMA, JudgePrompt, parse_verdict
from critic_server.local import validate_item
from gateway.budget import Budget, Price
from gateway.config import DecodingSetting, TargetConfig
from gateway.policy import CallPolicy
from gateway.retry import RetryCounters

# Long enough for the JSON verdict with a two-sentence explanation; a judge that writes more is cut
# and its broken JSON becomes a CRITIC_ERROR.
JUDGE_MAX_TOKENS = 512


@dataclass(slots=True)
class JudgeUsage:
    """What one judge spent in this process: calls (retries included), tokens and USD."""

    calls: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    items: int = 0
    errors: int = 0
    rate_limited: int = 0


class JudgeCritic:
    """A ``Critic`` over a vendor model, one policy-governed call per item."""

    def __init__(
        self,
        adapter: TargetAdapter,
        policy: CallPolicy,
        *,
        target: TargetConfig,
        prompt: JudgePrompt,
        price: Price,
        budget: Budget,
        concurrency: int = 8,
        max_text_chars: int = 100_000,
        redactor: Redactor | None = None,
    ) -> None:
        self._adapter = adapter
        self._policy = policy
        self._target = target
        self._prompt = prompt
        self._price = price
        self._budget = budget
        self._slots = asyncio.Semaphore(concurrency)
        self._max_text_chars = max_text_chars
        self._redactor = redactor or Redactor([])
        self._escaper = Escaper()
        self.usage = JudgeUsage()
        # A judge should be as repeatable as the vendor allows: temperature 0 unless the config says.
        self._decoding = target.decoding.over(
            DecodingSetting(temperature=0.0, max_tokens=JUDGE_MAX_TOKENS, seed=0)
        )
        self._version = f"{target.model}@{prompt.version}-{stable_hash(self._decoding.key, length=6)}"

    @property
    def name(self) -> str:
        """``judge:<target name>``."""
        return f"judge:{self._target.name}"

    @property
    def version(self) -> str:
        """Judge model, prompt version and decoding: any change gives new verdicts a new version."""
        return self._version

    def request(self, item: CritiqueItem, fence: Fence) -> ChatRequest:
        """The request sent for ``item``: versioned instructions plus the schema, fenced texts."""
        system = (
            f"{self._prompt.system_for(item.lang)}\nJSON schema of the answer: "
            f"{json.dumps(VERDICT_SCHEMA, separators=(',', ':'))}"
        )
        user = self._prompt.user_message(item.prompt, item.response, item.lang, fence, self._escaper)
        return ChatRequest(prompt=user, system=system, decoding=self._decoding, stream=False)

    async def critique(self, items: Sequence[CritiqueItem]) -> list[Verdict]:
        """One verdict per item, same order; every failure is a CRITIC_ERROR verdict."""
        return list(await asyncio.gather(*(self._one(it) for it in items)))

    async def _one(self, item: CritiqueItem) -> Verdict:
        checked = validate_item(
            {"id": item.id, "prompt": item.prompt, "response": item.response, "lang": item.lang},
            self._max_text_chars,
        )
        if isinstance(checked, str):
            return self._error(item.id, checked)
        async with self._slots:
            if not self._budget.check():
                return self._error(item.id, f"judge {self._budget.reason}")
            # Counters per item: concurrent items would blur one shared counter's before/after.
            counters = RetryCounters()
            outcome = await self._policy.call(self._adapter, self.request(item, Fence.new()), counters)
            self._budget.calls += counters.calls
        result = outcome.result
        self.usage.items += 1
        self.usage.calls += counters.calls
        self.usage.retries += counters.retries
        self.usage.rate_limited += counters.rate_limited
        if result.usage is not None:
            cost = self._price.cost(result.usage.prompt_tokens, result.usage.completion_tokens)
            self.usage.prompt_tokens += result.usage.prompt_tokens
            self.usage.completion_tokens += result.usage.completion_tokens
            self.usage.cost_usd += cost
            self._budget.spent_usd += cost
        if result.outcome != Outcome.COMPLETED:
            detail = self._redactor.redact(result.error or result.vendor_code or "")
            return self._error(item.id, f"judge call ended {result.outcome.value}: {detail}".rstrip(": "))
        judgement = parse_verdict(result.text)
        if judgement.label is None or judgement.risk_score is None:
            return self._error(item.id, judgement.error or "judge returned no label")
        return Verdict(
            id=item.id,
            status=VerdictStatus.SCORED,
            label=Label(judgement.label),
            risk_score=judgement.risk_score,
            risk_tags=judgement.risk_tags,
            explanation=judgement.explanation,
            critic=self.name,
            critic_version=self.version,
        )

    def _error(self, item_id: str, error: str) -> Verdict:
        self.usage.errors += 1
        return Verdict(
            id=item_id,
            status=VerdictStatus.CRITIC_ERROR,
            label=None,
            risk_score=None,
            risk_tags=(),
            explanation="",
            critic=self.name,
            critic_version=self.version,
            error=error,
        )


@dataclass(slots=True)
class CascadeStats:
    """Items decided by each stage (by index) in this process."""

    decided: list[int]

    @property
    def total(self) -> int:
        """Items decided by any stage."""
        return sum(self.decided)


class CascadeCritic:
    """Critics tried in order; a stage's confident verdicts are final, the last stage decides the rest."""

    def __init__(self, stages: Sequence[Critic]) -> None:
        if len(stages) < 2:
            raise ValueError("a cascade needs at least two critics")
        self._stages = tuple(stages)
        self.stats = CascadeStats([0] * len(stages))
        self._version = stable_hash([f"{s.name}@{s.version}" for s in stages], length=12)

    @property
    def name(self) -> str:
        """``cascade(<stage>><stage>...)``."""
        return "cascade(" + ">".join(s.name for s in self._stages) + ")"

    @property
    def version(self) -> str:
        """A hash of every stage's name and version."""
        return self._version

    @property
    def stages(self) -> tuple[Critic, ...]:
        """The critics, in order."""
        return self._stages

    async def critique(self, items: Sequence[CritiqueItem]) -> list[Verdict]:
        """One verdict per item, same order, each from the first stage confident of it (or the last)."""
        out: dict[int, Verdict] = {}
        todo = list(range(len(items)))
        last = len(self._stages) - 1
        for index, stage in enumerate(self._stages):
            if not todo:
                break
            verdicts = await stage.critique([items[i] for i in todo])
            left: list[int] = []
            for i, verdict in zip(todo, verdicts, strict=True):
                final = index == last or (verdict.status == VerdictStatus.SCORED and verdict.confident)
                if final:
                    out[i] = self._decided(verdict, index, stage)
                    self.stats.decided[index] += 1
                else:
                    left.append(i)
            todo = left
        return [out[i] for i in range(len(items))]

    def _decided(self, verdict: Verdict, index: int, stage: Critic) -> Verdict:
        note = f"[cascade stage {index + 1}/{len(self._stages)}: {stage.name}@{stage.version}]"
        return replace(
            verdict,
            explanation=f"{note} {verdict.explanation}".rstrip(),
            critic=self.name,
            critic_version=self.version,
        )
