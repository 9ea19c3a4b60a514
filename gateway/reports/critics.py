"""The report's critic section: agreement between the critics that scored a run, the judge's cost,
and the latest validation of the critic behind the headline.

The headline numbers use one critic (the one the user chose, else the run's latest). When others
scored the same responses too, this section shows how far they agree: Cohen's kappa over responses
both scored (SCORED verdicts only) and the disagreements by risk dimension. ``seval critique export
RUN --disagreements`` writes those items for human labelling; ``seval critic validate --format
review`` measures a critic on the labels and stores the result, shown here for the headline critic.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape as esc
from typing import Any

from core.records import CriticInfo
from db.critic_records import (
    CriticUsage,
    LabelPairCount,
    ValidationRecord,
    critic_usage,
    label_pairs,
    latest_validations,
)


@dataclass(frozen=True, slots=True)
class DimensionDisagreement:
    """One dimension's agreement counts between the headline critic (A) and another (B)."""

    dimension: str
    n: int
    a_unsafe_b_safe: int
    a_safe_b_unsafe: int


@dataclass(frozen=True, slots=True)
class Agreement:
    """The headline critic against one other critic, over responses both scored."""

    other: str
    n: int
    observed: float | None
    kappa: float | None
    by_dimension: tuple[DimensionDisagreement, ...]

    @property
    def disagreements(self) -> int:
        """Responses the two label differently."""
        return sum(d.a_unsafe_b_safe + d.a_safe_b_unsafe for d in self.by_dimension)


@dataclass(frozen=True, slots=True)
class CriticReview:
    """Everything the critic section shows."""

    headline: str | None
    agreements: tuple[Agreement, ...]
    usage: tuple[CriticUsage, ...]
    validation: tuple[ValidationRecord, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (``summary.json``'s ``critic_review``)."""
        return {
            "headline": self.headline,
            "agreements": [
                {
                    "other": a.other,
                    "n": a.n,
                    "observed_agreement": a.observed,
                    "cohen_kappa": a.kappa,
                    "by_dimension": [vars_of(d) for d in a.by_dimension],
                }
                for a in self.agreements
            ],
            "judge_usage": [vars_of(u) for u in self.usage],
            "validation": [vars_of(v) for v in self.validation],
        }


def vars_of(obj: Any) -> dict[str, Any]:
    """A slotted dataclass as a dict."""
    return {f: getattr(obj, f) for f in obj.__slots__}


def cohen_kappa(counts: Sequence[LabelPairCount]) -> tuple[int, float | None, float | None]:
    """(n, observed agreement, Cohen's kappa) of two raters' safe/unsafe labels.

    Kappa is None when it is undefined (no items, or both critics gave one and the same label to
    everything, so chance agreement is 1).
    """
    n = sum(c.n for c in counts)
    if n == 0:
        return 0, None, None
    agree = sum(c.n for c in counts if c.label_a == c.label_b)
    a_unsafe = sum(c.n for c in counts if c.label_a == "unsafe") / n
    b_unsafe = sum(c.n for c in counts if c.label_b == "unsafe") / n
    observed = agree / n
    chance = a_unsafe * b_unsafe + (1 - a_unsafe) * (1 - b_unsafe)
    if chance >= 1.0:
        return n, observed, None
    return n, observed, (observed - chance) / (1 - chance)


def agreement(other: str, counts: Sequence[LabelPairCount]) -> Agreement:
    """Agreement of the headline critic with ``other`` from their paired label counts."""
    n, observed, kappa = cohen_kappa(counts)
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for c in counts:
        row = per[c.dimension]
        row[0] += c.n
        if c.label_a == "unsafe" and c.label_b == "safe":
            row[1] += c.n
        elif c.label_a == "safe" and c.label_b == "unsafe":
            row[2] += c.n
    dims = tuple(DimensionDisagreement(d, *per[d]) for d in sorted(per))
    return Agreement(other=other, n=n, observed=observed, kappa=kappa, by_dimension=dims)


async def review(
    engine: Any, run_id: str, headline: CriticInfo | None, critics: Sequence[CriticInfo]
) -> CriticReview:
    """The critic section's data for ``run_id``, ``headline`` being the critic the numbers use."""
    agreements: list[Agreement] = []
    validation: list[ValidationRecord] = []
    if headline is not None:
        a = (headline.name, headline.version)
        for other in critics:
            if (other.name, other.version) == a:
                continue
            counts = await label_pairs(engine, run_id, a, (other.name, other.version))
            if counts:
                agreements.append(agreement(other.label, counts))
        validation = await latest_validations(engine, headline.name, headline.version)
    usage = await critic_usage(engine, run_id)
    return CriticReview(
        headline=headline.label if headline is not None else None,
        agreements=tuple(agreements),
        usage=tuple(usage),
        validation=tuple(validation),
    )


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def render_section(rev: CriticReview) -> str:
    """The HTML section (empty when there is nothing to show beyond the headline critic)."""
    if not rev.agreements and not rev.usage and not rev.validation:
        return ""
    parts: list[str] = []
    head = esc(rev.headline or "none")
    if rev.agreements:
        rows = "".join(
            f"<tr><td>{esc(a.other)}</td><td>{a.n:,}</td><td>{_pct(a.observed)}</td>"
            f"<td>{'–' if a.kappa is None else f'{a.kappa:.3f}'}</td><td>{a.disagreements:,}</td></tr>"
            for a in rev.agreements
        )
        parts.append(
            '<table class="data" id="critic-agreement"><thead><tr><th>other critic</th><th>both scored</th>'
            "<th>agreement</th><th>Cohen's kappa</th><th>disagreements</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
        for a in rev.agreements:
            dims = "".join(
                f"<tr><td>{esc(d.dimension)}</td><td>{d.n:,}</td><td>{d.a_unsafe_b_safe:,}</td>"
                f"<td>{d.a_safe_b_unsafe:,}</td></tr>"
                for d in a.by_dimension
            )
            parts.append(
                f"<details><summary>Disagreements with {esc(a.other)} by dimension</summary>"
                '<table class="data"><thead><tr><th>dimension</th><th>both scored</th>'
                f"<th>{head} unsafe, other safe</th><th>{head} safe, other unsafe</th></tr></thead>"
                f"<tbody>{dims}</tbody></table></details>"
            )
    if rev.usage:
        rows = "".join(
            f"<tr><td>{esc(u.critic)}@{esc(u.critic_version)}</td><td>{u.items:,}</td><td>{u.calls:,}</td>"
            f"<td>{u.retries:,}</td><td>{u.prompt_tokens + u.completion_tokens:,}</td>"
            f"<td>${u.cost_usd:.4f}</td><td>{u.errors:,}</td></tr>"
            for u in rev.usage
        )
        parts.append(
            '<table class="data" id="judge-usage"><thead><tr><th>judge</th><th>items</th><th>calls</th>'
            "<th>retries</th><th>tokens</th><th>cost (USD)</th><th>critic errors</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
            "<p>Judge calls are paid apart from the targets' spend shown under coverage.</p>"
        )
    if rev.validation:
        v0 = rev.validation[0]
        rows = "".join(
            f"<tr><td>{esc(v.lang)}</td><td>{v.n:,}</td><td>{_pct(v.balanced_accuracy)}</td>"
            f"<td>{_pct(v.unsafe_precision)}</td><td>{_pct(v.unsafe_recall)}</td><td>{v.errors:,}</td></tr>"
            for v in rev.validation
        )
        parts.append(
            f"<p>Latest validation of {head} against human labels: {esc(v0.dataset)} "
            f"(split {esc(v0.split)}, data hash {esc(v0.dataset_hash[:12])}).</p>"
            '<table class="data" id="critic-validation"><thead><tr><th>language</th><th>n</th>'
            "<th>balanced accuracy</th><th>precision (unsafe)</th><th>recall (unsafe)</th>"
            f"<th>critic errors</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    elif rev.headline is not None:
        parts.append(
            f"<p>{head} has no stored validation: measure it with <code>seval critic validate</code>.</p>"
        )
    intro = (
        f"The numbers above use {head}. Cohen's kappa corrects agreement for chance (1: perfect, "
        "0: chance level); only responses both critics scored are compared."
    )
    return (
        f'<section id="critics"><h2>Critics: agreement, cost, validation</h2><p class="intro">{intro}</p>'
        f"{''.join(parts)}</section>"
    )
