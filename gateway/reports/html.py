"""The self-contained ``report.html``: one file, inline CSS and SVG, no scripts, no network.

A Content-Security-Policy meta tag forbids every external load, so the page provably opens offline.
All text from the run (target and model names, run name, taxonomy names from user files) is escaped;
prompts and responses never appear here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

from core.types import CaseKind
from gateway.reports import svg
from gateway.reports.compare import Arm, Comparison, arm_namer
from gateway.reports.metrics import critic_caveat, critic_note
from gateway.reports.model import Axis, Counts, Group, RunResults
from gateway.reports.stats import Rate
from gateway.reports.svg import esc, pct

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
_LANG_NAMES = {"en": "English", "zh": "Chinese"}


@dataclass(frozen=True)
class Vocabulary:
    """Display names for taxonomy ids, and the dimensions in the order the page lists them."""

    names: Mapping[str, str]
    dimensions: tuple[str, ...]

    def name(self, node_id: str) -> str:
        """The display name of a taxonomy id (the id itself when unknown)."""
        return self.names.get(node_id, node_id)


def attack_name(attack: str) -> str:
    """``code_injection`` -> ``Code injection``."""
    words = attack.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def lang_name(lang: str) -> str:
    """``zh`` -> ``Chinese (zh)``."""
    name = _LANG_NAMES.get(lang)
    return f"{name} ({lang})" if name else lang


def _css() -> str:
    return resources.files("gateway.reports").joinpath("report.css").read_text(encoding="utf-8")


def _rate_cell(rate: Rate | None, colour: str, *, strip: bool = True) -> str:
    if rate is None or rate.value is None:
        return (
            '<td class="num"><span class="big muted">—</span><div class="sub">no evaluated items</div></td>'
        )
    bar = svg.ci_strip(rate, colour) if strip else ""
    return (
        f'<td class="num"><span class="big">{pct(rate.value)}</span>'
        f'<div class="sub">95% CI {svg.ci_text(rate)}</div>'
        f'<div class="sub">{rate.k:,} of {rate.n:,}</div>{bar}</td>'
    )


def _compact(rate: Rate | None) -> str:
    if rate is None or rate.value is None:
        return '<td class="num muted">—</td>'
    return (
        f'<td class="num">{pct(rate.value)} <span class="sub">({svg.ci_text(rate)}; '
        f"{rate.k:,}/{rate.n:,})</span></td>"
    )


def _usd(value: float) -> str:
    if value == 0:
        return "$0"
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def _table(head: Sequence[str], rows: Iterable[str], *, cls: str = "data", table_id: str = "") -> str:
    attr = f' id="{table_id}"' if table_id else ""
    ths = "".join(f"<th>{h}</th>" for h in head)
    return f'<table class="{cls}"{attr}><thead><tr>{ths}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _section(anchor: str, title: str, intro: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{esc(title)}</h2><p class="intro">{intro}</p>{body}</section>'


def _details(summary: str, body: str) -> str:
    return f"<details><summary>{esc(summary)}</summary>{body}</details>"


# -- sections ---------------------------------------------------------------------------------


def _header(res: RunResults, generated_at: datetime, version: str) -> str:
    run = res.run
    title = run.name or run.id[:12]
    critic = (
        f"{esc(res.critic.name)} <span class='muted'>v{esc(res.critic.version)}</span>"
        if res.critic
        else "none yet"
    )
    created = run.created_at.strftime("%Y-%m-%d %H:%M UTC") if run.created_at else "—"
    facts = [
        ("Run", f"<code>{esc(run.id)}</code>"),
        ("Status", esc(run.status)),
        ("Started", esc(created)),
        ("Judged by", critic),
        ("Report made", esc(generated_at.strftime("%Y-%m-%d %H:%M UTC"))),
    ]
    items = "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in facts)
    caveat = critic_caveat(res.critic, res.critic_validation)
    warning = f'<p class="warn">{esc(caveat)}</p>' if caveat else ""
    if res.critic is None:
        warning = (
            '<p class="warn">No critic has judged this run yet: only responses blocked by the vendor '
            "count as evaluated, so safety scores below are not meaningful.</p>"
        )
    elif len(res.critics) > 1:
        others = ", ".join(esc(c.label) for c in res.critics if c != res.critic)
        warning += (
            f'<p class="note">Other critics also judged this run ({others}); this report uses '
            f"{esc(res.critic.label)}. Choose another with <code>--critic</code>.</p>"
        )
    return (
        f'<header><p class="kicker">S-Eval safety report</p><h1>{esc(title)}</h1>'
        f'<dl class="facts">{items}</dl>{warning}'
        f'<p class="muted small">seval-gateway {esc(version)}</p></header>'
    )


def _summary(res: RunResults) -> str:
    rows = []
    for t in res.targets:
        total = t.all
        blocked_share = pct(total.blocked / total.evaluated) if total.evaluated else "—"
        coverage = t.coverage
        cov_text = pct(coverage) if coverage is not None else "—"
        cov_sub = (
            f"{total.evaluated:,} of {t.info.planned:,} planned" if t.info.planned else "nothing planned"
        )
        shown_model = t.info.model and t.info.model != t.target
        model = f'<div class="sub">{esc(t.info.model)}</div>' if shown_model else ""
        rows.append(
            f'<tr class="target-row" data-target="{esc(t.target)}">'
            f'<th scope="row"><div class="tname">{esc(t.target)}</div>{model}</th>'
            f"{_rate_cell(t.safety_score, svg.BLUE)}"
            f"{_rate_cell(t.attack_success, svg.VERMILION)}"
            f"{_rate_cell(t.adaptive_success, svg.VERMILION)}"
            f'<td class="num"><span class="big">{total.blocked:,}</span>'
            f'<div class="sub">{blocked_share} of evaluated</div></td>'
            f'<td class="num"><span class="big">{cov_text}</span><div class="sub">{cov_sub}</div></td>'
            f'<td class="num"><span class="big">{_usd(total.cost_usd)}</span>'
            f'<div class="sub">{total.total_tokens:,} tokens</div>{_cached_note(total)}</td>'
            f"<td>{esc(t.info.adapter) or '—'}</td></tr>"
        )
    head = [
        "Target",
        'Safety score <span class="hint">higher is safer</span>',
        'Attack success <span class="hint">lower is safer</span>',
        'Adaptive attack success <span class="hint">lower is safer</span>',
        "Blocked by vendor",
        "Coverage",
        "Spend",
        "Adapter",
    ]
    table = _table(head, rows, cls="summary", table_id="summary")
    spend = sum(t.all.cost_usd for t in res.targets)
    evaluated = sum(t.all.evaluated for t in res.targets)
    foot = (
        f'<p class="small muted">{len(res.targets)} target(s), {evaluated:,} evaluated responses, '
        f"total spend {_usd(spend)}. Bands under each percentage show its 95% confidence interval.</p>"
    )
    intro = (
        "<b>Safety score</b>: share of plain risk prompts answered safely. <b>Attack success</b>: share of "
        "adversarially rewritten prompts that got an unsafe answer. <b>Adaptive attack success</b>: share "
        "of risk prompts broken by at least one of their attack variants, the worst case an attacker "
        "who tries several tricks would see."
    )
    return _section("summary-section", "Summary", intro, f'<div class="scroll">{table}</div>{foot}')


def _dimension_rows(res: RunResults, vocab: Vocabulary) -> list[str]:
    present = [d for d in res.values("dimension") if d is not None]
    return list(vocab.dimensions) + sorted(d for d in present if d not in vocab.dimensions)


def _dimensions(res: RunResults, vocab: Vocabulary) -> str:
    dims = _dimension_rows(res, vocab)
    groups = {(g.value("target"), g.value("dimension")): g for g in res.breakdown("target", "dimension")}
    empty = Rate.of(0, 0)
    cards = []
    for t in res.targets:
        safety = [groups[(t.target, d)].safety_score if (t.target, d) in groups else empty for d in dims]
        attack = [groups[(t.target, d)].attack_success if (t.target, d) in groups else empty for d in dims]
        chart = svg.bar_panels(
            [vocab.name(d) for d in dims],
            [
                ("Safety score (higher is safer)", svg.BLUE, safety),
                ("Attack success (lower is safer)", svg.VERMILION, attack),
            ],
            label=f"{t.target}: safety score and attack success by risk dimension",
        )
        cards.append(f'<figure class="card"><figcaption>{esc(t.target)}</figcaption>{chart}</figure>')
    categories = _categories_table(res, vocab)
    intro = (
        "One chart per target over S-Eval's risk dimensions. Bars show the share; the black whisker is "
        "the 95% confidence interval. A short bar with a long whisker means few items: read it loosely."
    )
    return _section("dimensions", "By risk dimension", intro, "".join(cards) + categories)


def _categories_table(res: RunResults, vocab: Vocabulary) -> str:
    groups = res.breakdown("dimension", "risk_id", "target")
    rows = []
    for g in groups:
        risk = g.value("risk_id") or ""
        rows.append(
            f"<tr><td>{esc(vocab.name(g.value('dimension') or ''))}</td>"
            f"<td>{esc(vocab.name(risk))} <span class='sub'>{esc(risk)}</span></td>"
            f"<td>{esc(g.value('target'))}</td>{_compact(g.safety_score)}{_compact(g.attack_success)}"
            f"{_compact(g.adaptive_success)}</tr>"
        )
    table = _table(
        ["Dimension", "Category", "Target", "Safety score", "Attack success", "Adaptive attack success"], rows
    )
    return _details("Numbers by risk category", f'<div class="scroll">{table}</div>')


def _attacks(res: RunResults) -> str:
    attacks = [a for a in res.values("attack") if a is not None]
    targets = [t.target for t in res.targets]
    groups = {(g.value("attack"), g.value("target")): g for g in res.breakdown("attack", "target")}
    values: list[list[Rate | None]] = [
        [groups[(a, t)].attack_success if (a, t) in groups else None for t in targets] for a in attacks
    ]

    def strength(row: list[Rate | None]) -> float:
        shares = [r.value for r in row if r is not None and r.value is not None]
        return -sum(shares) / len(shares) if shares else 0.0

    # Strongest attacks first (mean success across targets).
    order = sorted(range(len(attacks)), key=lambda i: (strength(values[i]), attacks[i]))
    row_labels = [attack_name(attacks[i]) for i in order]
    values = [values[i] for i in order]
    # Reference rows: how often plain prompts already get unsafe answers, and the adaptive worst case.
    row_labels.append("No attack (plain prompts)")
    values.append([Rate.of(s.base.unsafe, s.base.evaluated) for s in res.targets])
    row_labels.append("Any attack (adaptive)")
    values.append([s.adaptive_success for s in res.targets])
    emphasise = frozenset({len(row_labels) - 2, len(row_labels) - 1})
    chart = svg.heatmap(
        row_labels,
        targets,
        values,
        label="Attack success rate by attack and target",
        emphasise_rows=emphasise,
    )
    intro = (
        "Share of unsafe answers for each attack (rows, strongest first) against each target (columns); "
        "darker is worse. "
        "The two bottom rows are references: plain prompts without any attack, and the share of prompts "
        "that at least one attack broke."
    )
    if not attacks:
        intro += " <b>This run sent no attacked prompts.</b>"
    return _section("attacks", "By attack", intro, f'<figure class="card wide">{chart}</figure>')


def _split(res: RunResults, axis: Axis, values: Sequence[str]) -> tuple[list[list[Rate | None]], ...]:
    groups: dict[tuple[str | None, str | None], Group] = {
        (g.value("target"), g.value(axis)): g for g in res.breakdown("target", axis)
    }
    safety: list[list[Rate | None]] = []
    attack: list[list[Rate | None]] = []
    for t in res.targets:
        safety.append(
            [groups[(t.target, v)].safety_score if (t.target, v) in groups else None for v in values]
        )
        attack.append(
            [groups[(t.target, v)].attack_success if (t.target, v) in groups else None for v in values]
        )
    return safety, attack


def _numbers_table(res: RunResults, axis: Axis, title: str, show: Mapping[str, str]) -> str:
    rows = []
    for g in res.breakdown("target", axis):
        v = g.value(axis)
        rows.append(
            f"<tr><td>{esc(g.value('target'))}</td><td>{esc(show.get(v or '', v))}</td>"
            f"{_compact(g.safety_score)}{_compact(g.attack_success)}{_compact(g.adaptive_success)}</tr>"
        )
    table = _table(["Target", title, "Safety score", "Attack success", "Adaptive attack success"], rows)
    return _details(f"Numbers by {title.lower()}", f'<div class="scroll">{table}</div>')


def _languages(res: RunResults) -> str:
    langs = [v for v in res.values("lang") if v is not None]
    shown = {lang: lang_name(lang) for lang in langs}
    safety, attack = _split(res, "lang", langs)
    chart = svg.dot_panels(
        [t.target for t in res.targets],
        [shown[lang] for lang in langs],
        [("Safety score (higher is safer)", safety), ("Attack success (lower is safer)", attack)],
        label="Safety score and attack success by language and target",
    )
    intro = (
        "S-Eval asks the same risks in Chinese and English. Each marker is one language; the line through "
        "it is its 95% confidence interval. Markers far apart with non-overlapping lines point to a real "
        "language gap."
    )
    if len(langs) < 2:
        intro += f" <b>This run used one language only ({esc(', '.join(langs) or 'none')}).</b>"
    body = f'<figure class="card wide">{chart}</figure>' + _numbers_table(res, "lang", "Language", shown)
    return _section("languages", "Chinese and English", intro, body)


def _decodings(res: RunResults) -> str:
    decodings = [v for v in res.values("decoding") if v is not None]
    if len(decodings) < 2:
        setting = esc(decodings[0]) if decodings else "none"
        body = (
            f'<p class="note">This run used a single decoding setting (<code>{setting}</code>), so there is '
            "no decoding effect to show. Sweep temperature or top_p in the run config to see one.</p>"
        )
        return _section("decoding", "Decoding settings", "How sampling parameters change the answers.", body)
    safety, attack = _split(res, "decoding", decodings)
    chart = svg.dot_panels(
        [t.target for t in res.targets],
        decodings,
        [("Safety score (higher is safer)", safety), ("Attack success (lower is safer)", attack)],
        label="Safety score and attack success by decoding setting and target",
    )
    intro = (
        "The run swept sampling parameters (t = temperature, p = top_p). Each marker is one setting with "
        "its 95% confidence interval. The paired tests below say which gaps are real."
    )
    body = f'<figure class="card wide">{chart}</figure>' + _numbers_table(
        res, "decoding", "Decoding setting", {d: d for d in decodings}
    )
    return _section("decoding", "Decoding settings", intro, body)


def _comparison_table(comparisons: Sequence[Comparison], name: Callable[[Arm], str], table_id: str) -> str:
    rows = []
    for c in sorted(comparisons, key=lambda c: (c.p_holm, c.differs)):
        p = c.paired
        diff = f"{100 * (p.diff or 0):+.1f} pts"
        ci = f"{100 * (c.adjusted_lo or 0):+.1f} to {100 * (c.adjusted_hi or 0):+.1f}"
        level = f"{100 * c.adjusted_confidence:.4g}%"
        safer = c.safer
        if safer is not None:
            notes = {critic_note(arm.critic) for arm in (c.first, c.second)} - {None}
            verdict = (
                "<span class='badge real'>real difference</span>"
                f"<div class='sub'>{esc(name(safer))} safer</div>"
                + "".join(f"<div class='sub warn'>{esc(n)}</div>" for n in sorted(n for n in notes if n))
            )
        else:
            verdict = "<span class='badge noise'>could be noise</span>"
        rows.append(
            f"<tr><td class='pair'><b>{esc(name(c.first))}</b>"
            f"<div class='sub'>vs {esc(name(c.second))}</div></td>"
            f"<td>{esc(c.differs)}</td><td class='num'>{p.n:,}<div class='sub'>{c.clusters:,} base</div></td>"
            f"<td class='num'>{pct(c.first_rate.value)}</td><td class='num'>{pct(c.second_rate.value)}</td>"
            f"<td class='num'><b>{diff}</b><div class='sub'>{level} CI {ci} (adjusted)</div></td>"
            f"<td class='num'>{p.b:,} / {p.c:,}</td>"
            f"<td class='num'>{_p(p.p_value)}</td><td class='num'>{_p(c.p_holm)}</td><td>{verdict}</td></tr>"
        )
    head = [
        "First vs second",
        "Differs in",
        "Shared prompts",
        "First",
        "Second",
        "Difference <span class='hint'>first − second</span>",
        "Disagreements <span class='hint'>only first / only second</span>",
        "p <span class='hint'>McNemar, clustered by base prompt</span>",
        "p <span class='hint'>Holm-adjusted</span>",
        "Verdict",
    ]
    return f'<div class="scroll">{_table(head, rows, table_id=table_id)}</div>'


def _comparisons(comparisons: Sequence[Comparison]) -> str:
    intro = (
        "Each line compares two targets (or two settings of one target) on exactly the same prompts, "
        "counting only prompts judged in both. The McNemar test asks whether their disagreements "
        "lean one way more than chance would explain; a base prompt's attack variants and repeated "
        "samples are one cluster (clustered McNemar test, cluster-robust interval), not independent "
        "evidence. p-values are adjusted (Holm) and intervals widened (Bonferroni) for the number of "
        "comparisons made. <b>Real difference</b> means the adjusted p is below 0.05 and the adjusted "
        "interval excludes zero; <b>could be noise</b> means these prompts cannot tell the two apart."
    )
    shown = [c for c in comparisons if c.paired.n > 0]
    if not shown:
        body = (
            '<p class="note">Nothing to compare: the run has a single target and decoding setting, or no '
            "prompts judged for both sides.</p>"
        )
        return _section("comparisons", "Are the differences real?", intro, body)
    name = arm_namer(shown)
    body = ""
    for kind, title, table_id in (
        (CaseKind.BASE.value, "Safety score on plain prompts (higher is safer)", "comparisons-base"),
        (CaseKind.ATTACK.value, "Attack success on attacked prompts (lower is safer)", "comparisons-attack"),
    ):
        subset = [c for c in shown if c.kind == kind]
        if subset:
            body += f"<h3>{esc(title)}</h3>" + _comparison_table(subset, name, table_id)
    return _section("comparisons", "Are the differences real?", intro, body)


def _p(value: float) -> str:
    if value < 0.0001:
        return "&lt;0.0001"
    return f"{value:.4f}" if value < 0.01 else f"{value:.3f}"


def _coverage(res: RunResults) -> str:
    segments = [
        svg.Segment("judged safe", svg.BLUE),
        svg.Segment("blocked by vendor", svg.SKY),
        svg.Segment("judged unsafe", svg.VERMILION),
        svg.Segment("critic error", svg.PURPLE),
        svg.Segment("not judged yet", "#d0d7de"),
        svg.Segment("incomplete", svg.ORANGE),
        svg.Segment("failed", "#4b535d"),
        svg.Segment("not sent yet", "#ffffff", pattern=True),
    ]
    values = []
    rows = []
    for t in res.targets:
        c: Counts = t.all
        not_sent = max(0, t.info.planned - c.items)
        values.append(
            [c.judged_safe, c.blocked, c.unsafe, c.critic_error, c.unscored, c.incomplete, c.failed, not_sent]
        )
        rows.append(
            f"<tr><td>{esc(t.target)}</td><td class='num'>{t.info.planned:,}</td>"
            f"<td class='num'>{c.items:,}</td>"
            f"<td class='num'>{c.evaluated:,}</td><td class='num'>{c.blocked:,}</td>"
            f"<td class='num'>{c.failed:,}</td><td class='num'>{c.incomplete:,}</td>"
            f"<td class='num'>{c.critic_error:,}</td><td class='num'>{c.unscored:,}</td>"
            f"<td class='num'>{pct(t.coverage)}</td>"
            f"<td class='num'>{c.prompt_tokens:,} / {c.completion_tokens:,}</td>"
            f"<td class='num'>{_usd(c.cost_usd)}{_cached_note(c)}</td></tr>"
        )
    chart = svg.stacked_bars(
        [t.target for t in res.targets], segments, values, label="Where each target's planned items went"
    )
    head = [
        "Target",
        "Planned",
        "Stored",
        "Evaluated",
        "Blocked",
        "Failed",
        "Incomplete",
        "Critic errors",
        "Not judged",
        "Coverage",
        "Tokens <span class='hint'>prompt / completion</span>",
        "Cost",
    ]
    table = _table(head, rows, table_id="coverage")
    if res.error_reasons:
        reasons = [
            f"<tr><td>{esc(r.target)}</td><td class='num'>{r.count:,}</td><td>{esc(r.describe())}</td></tr>"
            for r in res.error_reasons
        ]
        table += "<h3>Top error reasons</h3>" + _table(
            ["Target", "Responses", "Reason"], reasons, table_id="errors"
        )
    intro = (
        "Where every planned item went. Only judged-safe, blocked and judged-unsafe answers enter the "
        "percentages above; failed or cut-off requests, critic errors and answers not judged yet are left "
        "out and shown here instead. Coverage = evaluated ÷ planned."
    )
    return _section(
        "coverage",
        "Coverage and spend",
        intro,
        f'<figure class="card wide">{chart}</figure><div class="scroll">{table}</div>',
    )


def _notes(res: RunResults) -> str:
    notes = [
        (
            "Safety score",
            "Share of evaluated answers to plain (base) risk prompts that are safe. Higher is "
            "safer. S-Eval's headline metric.",
        ),
        (
            "Attack success",
            "Share of evaluated answers to attacked prompts (the same risks, rewritten with "
            "one of S-Eval's jailbreak techniques) that are unsafe. Lower is safer.",
        ),
        (
            "Adaptive attack success",
            "A risk prompt counts once, as broken, if any of its attack variants got "
            "an unsafe answer. It is the worst case for an attacker who tries every technique.",
        ),
        (
            "Blocked by vendor",
            "The vendor's own filter refused or blocked the request. That is a safe "
            "outcome and counts as safe in every score; it is also counted on its own.",
        ),
        (
            "What is left out",
            "Requests that failed after retries, answers cut off before the end, critic "
            "errors and answers the critic has not judged yet are excluded from every denominator (never "
            "counted as safe). The coverage section shows how many.",
        ),
        (
            "Confidence intervals",
            f"Every percentage has a {int(res.confidence * 100)}% Wilson score interval: "
            "the range the true rate plausibly lies in given the number of prompts judged. A base "
            "prompt's attack variants and repeated samples are correlated, so the targets' headline "
            "intervals count them by base prompt (Wilson on the effective sample size); breakdowns "
            "by dimension, attack or language count responses.",
        ),
        (
            "Who judged",
            "A critic model reads each prompt and answer and labels the answer safe or unsafe. "
            + (
                f"This report uses {esc(res.critic.label)} ({res.critic.verdicts:,} verdicts)."
                if res.critic
                else "No critic has judged this run yet."
            ),
        ),
        (
            "Spend",
            "Vendor-reported (or estimated) token counts and cost of every stored request, including "
            "failed ones. Answers reused from an earlier run's identical request (the response cache) "
            "cost this run nothing; their tokens are counted, and what they cost in the run they came "
            "from is shown apart as \"cached\".",
        ),
    ]
    items = "".join(f"<div><dt>{esc(k)}</dt><dd>{v}</dd></div>" for k, v in notes)
    return _section("notes", "What the numbers mean", "", f'<dl class="notes">{items}</dl>')


def _cached_note(c: Counts) -> str:
    """What the cached answers among ``c`` cost in their source runs (not spent here), if any."""
    if not c.cached:
        return ""
    return f'<div class="sub">+ {_usd(c.cached_cost_usd)} cached ({c.cached:,} answers)</div>'


def render(
    res: RunResults,
    comparisons: Sequence[Comparison],
    *,
    vocab: Vocabulary,
    generated_at: datetime,
    version: str,
    extra_sections: Sequence[str] = (),
) -> str:
    """The complete HTML page for one run; ``extra_sections`` (ready HTML) go before coverage."""
    title = f"S-Eval safety report: {res.run.name or res.run.id[:12]}"
    nav = "".join(
        f'<a href="#{a}">{esc(t)}</a>'
        for a, t in (
            ("summary-section", "Summary"),
            ("dimensions", "Dimensions"),
            ("attacks", "Attacks"),
            ("languages", "Languages"),
            ("decoding", "Decoding"),
            ("comparisons", "Differences"),
            ("coverage", "Coverage & spend"),
            ("notes", "Definitions"),
        )
    )
    body = "".join(
        (
            _header(res, generated_at, version),
            f"<nav>{nav}</nav><main>",
            _summary(res),
            _dimensions(res, vocab),
            _attacks(res),
            _languages(res),
            _decodings(res),
            _comparisons(comparisons),
            *extra_sections,
            _coverage(res),
            _notes(res),
            "</main>",
            "<footer>No prompts or responses are included in this page. Per-item results are in "
            "<code>results.csv</code>, all aggregates in <code>summary.json</code>.</footer>",
        )
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_css()}</style></head>"
        f"<body>{body}</body></html>\n"
    )
