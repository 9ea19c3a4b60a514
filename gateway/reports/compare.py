"""Paired comparisons: line up arms (a target under one decoding setting and one critic, in one run)
on the items they share, and test each difference with the exact McNemar test.

Two arms are compared only when they differ in exactly one thing (the model under test, the
decoding setting, or the critic), so every difference has one cause (each decoding setting is its
own arm, so tests are paired per decoding setting). Items are paired by case id (which already
distinguishes an attacked variant from its base prompt) and sample index, and only items evaluated
in both arms count.

Clustering: a base prompt's attack variants and repeated samples are not independent evidence.
Items are grouped by base prompt; with one item per prompt the test is the exact McNemar test (and
Newcombe's interval), otherwise the clustered McNemar test and a cluster-robust interval
(``gateway.reports.stats``), so 7 variants x 46 prompts count as 46 prompts' worth of evidence.

Multiplicity: p-values are Holm-adjusted over all comparisons made together, and each comparison
also carries its interval at the Bonferroni-adjusted level ``1 - alpha / m``. The verdict "real
difference" needs both: the Holm-adjusted p below ``alpha`` and the adjusted interval excluding 0,
so a real difference is never shown with an interval that includes no difference. (Holm is a step-
down procedure with no interval of its own; Bonferroni's interval is the conservative companion.)
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
from gateway.reports.stats import (
    ClusterCounts,
    PairedDifference,
    Rate,
    clustered_paired_difference,
    holm_adjust,
)

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
        # The id prefix too: two runs may share a name (a changed config under the same name).
        parts.append(f"@{self.run_name} ({self.run_id[:12]})" if self.run_name else f"@{self.run_id[:12]}")
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
    clusters: int = 0
    """Base prompts the shared items come from (the independent units)."""
    adjusted_lo: float | None = None
    adjusted_hi: float | None = None
    adjusted_confidence: float = 0.95
    """The level of ``adjusted_lo``/``adjusted_hi``: ``1 - alpha / m`` for ``m`` comparisons."""

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
        """Whether the difference holds after adjustment: Holm p below ``alpha`` and the adjusted
        interval excluding 0."""
        lo, hi = self.adjusted_lo, self.adjusted_hi
        excludes_zero = lo is not None and hi is not None and (lo > 0 or hi < 0)
        return self.paired.n > 0 and self.p_holm < self.alpha and excludes_zero

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
            "base_prompts": self.clusters,
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
            "difference_lo_adjusted": self.adjusted_lo,
            "difference_hi_adjusted": self.adjusted_hi,
            "adjusted_confidence": self.adjusted_confidence,
            "verdict": self.verdict,
            "safer": None if self.safer is None else self.safer.record(),
        }


def arm_namer(comparisons: Sequence[Comparison]) -> Callable[[Arm], str]:
    """Short arm labels that name only what varies across the compared arms."""
    arms = [a for c in comparisons for a in (c.first, c.second)]
    many_decodings = len({a.decoding for a in arms}) > 1
    many_critics = len({a.critic for a in arms}) > 1
    run_ids = {a.run_id for a in arms}
    many_runs = len(run_ids) > 1
    prefix = _distinct_prefix(run_ids)

    def name(arm: Arm) -> str:
        parts = [arm.target]
        if many_decodings:
            parts.append(arm.decoding)
        if many_critics:
            parts.append(f"judged by {arm.critic.label if arm.critic else 'no critic'}")
        if many_runs:
            # Always with an id prefix: runs of one name (the same name, a changed config) differ.
            run_ref = arm.run_id[:prefix]
            parts.append(f"run {arm.run_name} ({run_ref})" if arm.run_name else f"run {run_ref}")
        return " · ".join(parts)

    return name


def _distinct_prefix(run_ids: set[str], shortest: int = 8) -> int:
    """The shortest id prefix length (at least ``shortest``) that tells every run apart."""
    width = shortest
    while len({r[:width] for r in run_ids}) < len(run_ids) and width < max(map(len, run_ids)):
        width += 1
    return width


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
    raw: list[tuple[Arm, Arm, Factor, str, list[ClusterCounts], PairedDifference]] = []
    for i, j in pairs:
        first, second = arms[i], arms[j]
        factor = _differs(first, second)
        assert factor is not None
        counts = counted[(i, j)]
        for kind in (CaseKind.BASE.value, CaseKind.ATTACK.value):
            if kind == CaseKind.BASE.value:
                # "yes" = safe: both safe, only first safe, only second safe, both unsafe.
                clusters = [(ss, su, us, uu) for uu, us, su, ss in counts.get(kind, [])]
            else:
                clusters = list(counts.get(kind, []))
            paired = clustered_paired_difference(clusters, confidence=confidence)
            raw.append((first, second, factor, kind, clusters, paired))
    tested = [i for i, item in enumerate(raw) if item[5].n > 0]
    adjusted = dict(zip(tested, holm_adjust([raw[i][5].p_value for i in tested]), strict=True))
    # Bonferroni's level for the intervals: alpha shared out over the tested family.
    level = 1.0 - alpha / max(1, len(tested))
    out: list[Comparison] = []
    for i, (first, second, factor, kind, clusters, paired) in enumerate(raw):
        wide = clustered_paired_difference(clusters, confidence=level) if paired.n else paired
        out.append(
            Comparison(
                first,
                second,
                factor,
                kind,
                paired,
                adjusted.get(i, 1.0),
                alpha,
                clusters=len(clusters),
                adjusted_lo=wide.lo,
                adjusted_hi=wide.hi,
                adjusted_confidence=level,
            )
        )
    return out
