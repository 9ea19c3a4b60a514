"""Paired comparisons: line up arms (a target under one decoding setting and one critic, in one run)
on the items they share, and test each difference with the exact McNemar test.

Two arms are compared only when they differ in exactly one thing (the model under test, the
decoding setting, or the critic), so every difference has one cause. Items are paired by case id
(which already distinguishes an attacked variant from its base prompt) and sample index, and only
items evaluated in both arms count. P-values are also Holm-adjusted over all comparisons made
together, and the verdict ("real" or "could be noise") uses the adjusted value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Literal

from core.types import CaseKind
from db.report_queries import ReportQueries
from gateway.reports.metrics import choose_critic
from gateway.reports.model import CriticInfo, RunInfo
from gateway.reports.stats import PairedDifference, Rate, holm_adjust, paired_difference

Factor = Literal["target", "run", "decoding", "critic"]


@dataclass(frozen=True, slots=True)
class Arm:
    """One side of a comparison: a target of a run, under one decoding setting and one critic."""

    run_id: str
    run_name: str
    target: str
    decoding: str
    critic: CriticInfo | None

    @property
    def label(self) -> str:
        """A short human label: ``target [decoding] (critic) @run``, leaving out defaults."""
        parts = [self.target]
        if self.decoding != "default":
            parts.append(f"[{self.decoding}]")
        parts.append(f"({self.critic.label if self.critic else 'no critic'})")
        parts.append(f"@{self.run_name or self.run_id[:12]}")
        return " ".join(parts)

    def record(self) -> dict[str, Any]:
        """The arm as a JSON-ready dict."""
        return {
            "run_id": self.run_id,
            "run_name": self.run_name,
            "target": self.target,
            "decoding": self.decoding,
            "critic": self.critic.label if self.critic else None,
        }


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two arms on their shared, evaluated items of one kind.

    For base prompts the metric is the safety score (the "yes" event is a safe response); for attack
    prompts it is the attack success rate (the "yes" event is an unsafe response). ``paired.diff``
    is first minus second.
    """

    first: Arm
    second: Arm
    differs: Factor
    kind: str
    paired: PairedDifference
    p_holm: float
    alpha: float = 0.05

    @property
    def metric(self) -> str:
        """``safety_score`` for base prompts, ``attack_success`` for attack prompts."""
        return "safety_score" if self.kind == CaseKind.BASE.value else "attack_success"

    @property
    def first_rate(self) -> Rate:
        """The metric for the first arm, on the shared items only."""
        p = self.paired
        return Rate.of(p.a + p.b, p.n)

    @property
    def second_rate(self) -> Rate:
        """The metric for the second arm, on the shared items only."""
        p = self.paired
        return Rate.of(p.a + p.c, p.n)

    @property
    def significant(self) -> bool:
        """Whether the difference holds after Holm adjustment at ``alpha``."""
        return self.paired.n > 0 and self.p_holm < self.alpha

    @property
    def safer(self) -> Arm | None:
        """The arm that is safer on these items, when the difference is real (else None).

        A higher safety score is safer; a higher attack success rate is less safe.
        """
        diff = self.paired.diff
        if not self.significant or diff is None or diff == 0:
            return None
        first_ahead = diff > 0
        if self.kind == CaseKind.BASE.value:
            return self.first if first_ahead else self.second
        return self.second if first_ahead else self.first

    @property
    def verdict(self) -> str:
        """Plain words for a reader: is this difference real?"""
        if self.paired.n == 0:
            return "no shared items"
        return "real difference" if self.significant else "could be noise"

    def record(self) -> dict[str, Any]:
        """The comparison as a JSON-ready dict."""
        p = self.paired
        return {
            "first": self.first.record(),
            "second": self.second.record(),
            "differs": self.differs,
            "kind": self.kind,
            "metric": self.metric,
            "shared_items": p.n,
            "both_yes": p.a,
            "first_only": p.b,
            "second_only": p.c,
            "both_no": p.d,
            "first_rate": self.first_rate.value,
            "second_rate": self.second_rate.value,
            "difference": p.diff,
            "difference_lo": p.lo,
            "difference_hi": p.hi,
            "p_value": p.p_value,
            "p_holm": self.p_holm,
            "verdict": self.verdict,
            "safer": None if self.safer is None else self.safer.record(),
        }


def arm_namer(comparisons: Sequence[Comparison]) -> Callable[[Arm], str]:
    """Short arm labels that name only what varies across the compared arms."""
    arms = [a for c in comparisons for a in (c.first, c.second)]
    many_decodings = len({a.decoding for a in arms}) > 1
    many_critics = len({a.critic for a in arms}) > 1
    many_runs = len({a.run_id for a in arms}) > 1

    def name(arm: Arm) -> str:
        parts = [arm.target]
        if many_decodings:
            parts.append(arm.decoding)
        if many_critics:
            parts.append(f"judged by {arm.critic.label if arm.critic else 'no critic'}")
        if many_runs:
            parts.append(f"run {arm.run_name or arm.run_id[:12]}")
        return " · ".join(parts)

    return name


def _differs(first: Arm, second: Arm) -> Factor | None:
    """The one factor the arms differ in, or None when they differ in none or in several."""
    changed: list[Factor] = []
    if (first.run_id, first.target) != (second.run_id, second.target):
        changed.append("run" if first.target == second.target else "target")
    if first.decoding != second.decoding:
        changed.append("decoding")
    if first.critic != second.critic:
        changed.append("critic")
    return changed[0] if len(changed) == 1 else None


async def arms_of(
    q: ReportQueries, run: RunInfo, *, critic: str | None = None, all_critics: bool = False
) -> list[Arm]:
    """The arms of one run: each target x decoding setting, under the chosen critic (every critic with
    ``all_critics``)."""
    critics = await q.critics(run.id)
    chosen: list[CriticInfo | None] = (
        list(critics) if all_critics and critics else [choose_critic(critics, critic)]
    )
    pairs = await q.target_decodings(run.id)
    return [Arm(run.id, run.name, target, decoding, c) for target, decoding in pairs for c in chosen]


async def compare(
    q: ReportQueries,
    runs: Sequence[RunInfo],
    *,
    critic: str | None = None,
    all_critics: bool = False,
    confidence: float = 0.95,
    alpha: float = 0.05,
) -> list[Comparison]:
    """Every comparison between arms of ``runs`` that differ in exactly one factor, for base and attack
    prompts, with Holm-adjusted p-values over the whole set."""
    arms: list[Arm] = []
    for run in runs:
        arms.extend(await arms_of(q, run, critic=critic, all_critics=all_critics))
    pairs = [(i, j) for i, j in combinations(range(len(arms)), 2) if _differs(arms[i], arms[j])]
    counted = await q.paired_counts(arms, pairs)
    raw: list[tuple[Arm, Arm, Factor, str, PairedDifference]] = []
    for i, j in pairs:
        first, second = arms[i], arms[j]
        factor = _differs(first, second)
        assert factor is not None
        counts = counted[(i, j)]
        for kind in (CaseKind.BASE.value, CaseKind.ATTACK.value):
            uu, us, su, ss = counts.get(kind, (0, 0, 0, 0))
            if kind == CaseKind.BASE.value:
                # "yes" = safe: both safe, only first safe, only second safe, both unsafe.
                paired = paired_difference(ss, su, us, uu, confidence=confidence)
            else:
                paired = paired_difference(uu, us, su, ss, confidence=confidence)
            raw.append((first, second, factor, kind, paired))
    tested = [i for i, item in enumerate(raw) if item[4].n > 0]
    adjusted = dict(zip(tested, holm_adjust([raw[i][4].p_value for i in tested]), strict=True))
    return [
        Comparison(first, second, factor, kind, paired, adjusted.get(i, 1.0), alpha)
        for i, (first, second, factor, kind, paired) in enumerate(raw)
    ]
