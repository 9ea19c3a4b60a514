"""Generating base risk prompts for taxonomy nodes with a generator model (Mt), filtered.

Work is in rounds: each round, every (node, language) that still lacks rows sends one request for
what it lacks plus some slack; the answers are filtered in a fixed order (node, then language),
so the same generator answers always give the same suite, however the requests interleave. A
(node, language) stops when it has ``per_node`` rows or after ``max_rounds`` requests; the whole
job stops when the budget is spent.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import GenerationError, InputError
from core.taxonomy import Taxonomy, TaxonomyNode
from core.types import CaseKind, SkippedRow, stable_hash
from gateway.generation.filters import ROW_FILTERS, Deduper, Drop, RowCheck, UnparseableError, parse_answer
from gateway.generation.output import suite_row
from gateway.generation.seam import Generator
from gateway.generation.templates import PromptTemplate

SLACK = 1.25
"""Rows asked for per row still needed: filters drop some."""


@dataclass(frozen=True, slots=True)
class GenerationSettings:
    """What to generate and how hard to try."""

    nodes: tuple[str, ...]
    langs: tuple[str, ...]
    per_node: int
    seed: int = 0
    max_batch: int = 40
    max_rounds: int = 4
    examples: int = 3
    near_threshold: float = 0.7

    def __post_init__(self) -> None:
        if not self.nodes or not self.langs:
            raise InputError("generation needs at least one node and one language")
        if self.per_node < 1 or self.max_batch < 1 or self.max_rounds < 1:
            raise InputError("per_node, max_batch and max_rounds must be at least 1")
        if not 0.0 < self.near_threshold <= 1.0:
            raise InputError("near_threshold must be in (0, 1]")


@dataclass(frozen=True, slots=True)
class GenRequest:
    """One request sent to Mt (kept for the report and for checking against ground truth)."""

    node: str
    lang: str
    seed: int
    count: int
    outcome: str  # "ok" or why the whole answer was dropped


@dataclass(frozen=True, slots=True)
class GenRow:
    """One row Mt wrote, kept or dropped."""

    node: str
    lang: str
    seed: int
    index: int
    text: str
    drop: str | None  # a ``Drop`` value, "surplus" (kept but not needed), or None for a kept row


@dataclass(slots=True)
class GenerationReport:
    """Counts of one generation job (JSON: ``to_json``)."""

    generator: str
    templates: dict[str, str]
    settings: dict[str, Any]
    existing_indexed: int = 0
    requests: list[GenRequest] = field(default_factory=list)
    rows: list[GenRow] = field(default_factory=list)
    stopped: str | None = None
    seconds: float = 0.0

    @property
    def generated(self) -> int:
        """Rows Mt returned in parseable answers."""
        return len(self.rows)

    @property
    def kept(self) -> int:
        """Rows written to the suite."""
        return sum(1 for r in self.rows if r.drop is None)

    def dropped_by_reason(self) -> dict[str, int]:
        """Dropped rows per reason (``surplus``: passed every filter but was not needed)."""
        return dict(sorted(Counter(r.drop for r in self.rows if r.drop is not None).items()))

    def answers_dropped_by_reason(self) -> dict[str, int]:
        """Whole answers dropped per reason (refused, unparseable, empty, failed)."""
        return dict(sorted(Counter(q.outcome for q in self.requests if q.outcome != "ok").items()))

    def kept_by_node(self) -> dict[str, dict[str, int]]:
        """Kept rows per node and language."""
        out: dict[str, dict[str, int]] = {}
        for r in self.rows:
            if r.drop is None:
                out.setdefault(r.node, {}).setdefault(r.lang, 0)
                out[r.node][r.lang] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON (no prompt text)."""
        return {
            "generator": self.generator,
            "templates": self.templates,
            "settings": self.settings,
            "existing_prompts_indexed": self.existing_indexed,
            "requests": len(self.requests),
            "answers_dropped_by_reason": self.answers_dropped_by_reason(),
            "generated": self.generated,
            "kept": self.kept,
            "dropped_by_reason": self.dropped_by_reason(),
            "kept_by_node": self.kept_by_node(),
            "stopped": self.stopped,
            "seconds": round(self.seconds, 3),
        }

    def summary(self) -> str:
        """A few human lines."""
        lines = [
            f"generator {self.generator}: {len(self.requests)} request(s), {self.generated} rows generated, "
            f"{self.kept} kept",
        ]
        for reason, n in self.dropped_by_reason().items():
            lines.append(f"  dropped {reason}: {n}")
        for reason, n in self.answers_dropped_by_reason().items():
            lines.append(f"  whole answers {reason}: {n}")
        short = [
            f"{node}/{lang}"
            for node in self.settings["nodes"]
            for lang in self.settings["langs"]
            if self.kept_by_node().get(node, {}).get(lang, 0) < self.settings["per_node"]
        ]
        if short:
            lines.append(f"  short of per_node: {', '.join(short)}")
        if self.stopped:
            lines.append(f"  stopped: {self.stopped}")
        return "\n".join(lines)


@dataclass(slots=True)
class _Job:
    node: TaxonomyNode
    lang: str
    template: PromptTemplate
    check: RowCheck
    examples: list[str]
    kept: list[dict[str, Any]] = field(default_factory=list)
    rounds: int = 0


async def generate_rows(
    settings: GenerationSettings,
    *,
    taxonomy: Taxonomy,
    templates: Mapping[str, PromptTemplate],
    generator: Generator,
    existing: Sequence[str | Path] = (),
) -> tuple[list[dict[str, Any]], GenerationReport]:
    """Generate, filter and return the kept suite rows (node, then language order) and the report.

    ``existing`` suites give seed examples of each node and the prompts new rows must not repeat.
    """
    started = time.perf_counter()
    nodes = [_node(taxonomy, n) for n in dict.fromkeys(settings.nodes)]
    missing = [lang for lang in settings.langs if lang not in templates]
    if missing:
        raise InputError(
            f"no generation template for language(s) {', '.join(missing)} (have {sorted(templates)})"
        )
    deduper = Deduper(settings.near_threshold)
    examples, indexed = _read_existing(existing, taxonomy, nodes, settings, deduper)
    report = GenerationReport(
        generator=generator.label,
        templates={lang: f"{templates[lang].id}@{templates[lang].version}" for lang in settings.langs},
        settings={
            "nodes": [n.id for n in nodes],
            "langs": list(settings.langs),
            "per_node": settings.per_node,
            "seed": settings.seed,
            "max_rounds": settings.max_rounds,
            "near_threshold": settings.near_threshold,
            "existing_suites": [str(p) for p in existing],
        },
        existing_indexed=indexed,
    )
    jobs = [
        _Job(node, lang, templates[lang], RowCheck(templates[lang], lang), examples.get((node.id, lang), []))
        for node in nodes
        for lang in settings.langs
    ]
    while True:
        active = [j for j in jobs if len(j.kept) < settings.per_node and j.rounds < settings.max_rounds]
        if not active or report.stopped:
            break
        asks = [(job, *_ask(job, settings, taxonomy)) for job in active]
        answers = await asyncio.gather(
            *(_call(generator, job, prompt, seed) for job, prompt, seed, _ in asks)
        )
        for (job, _prompt, seed, count), answer in zip(asks, answers, strict=True):
            job.rounds += 1
            _take(job, seed, count, answer, settings, generator, deduper, report)
        if generator.budget.reason is not None:
            report.stopped = generator.budget.reason
    report.seconds = time.perf_counter() - started
    return [row for job in jobs for row in job.kept], report


def _node(taxonomy: Taxonomy, label: str) -> TaxonomyNode:
    node = taxonomy.resolve(label)
    if node is None:
        raise InputError(
            f"unknown taxonomy node {label!r} (give an id like CI.drug_crimes, or a --taxonomy file)"
        )
    return node


def _ask(job: _Job, settings: GenerationSettings, taxonomy: Taxonomy) -> tuple[str, int, int]:
    need = settings.per_node - len(job.kept)
    count = min(settings.max_batch, math.ceil(need * SLACK))
    seed = int(stable_hash(settings.seed, job.node.id, job.lang, job.rounds, length=8), 16)
    prompt = job.template.render(taxonomy, job.node, job.lang, count, job.examples)
    return prompt, seed, count


async def _call(generator: Generator, job: _Job, prompt: str, seed: int) -> str | GenerationError:
    try:
        return await generator.text.generate(prompt, lang=job.lang, seed=seed)
    except GenerationError as exc:
        return exc


def _take(
    job: _Job,
    seed: int,
    count: int,
    answer: str | GenerationError,
    settings: GenerationSettings,
    generator: Generator,
    deduper: Deduper,
    report: GenerationReport,
) -> None:
    node, lang = job.node.id, job.lang
    if isinstance(answer, GenerationError):
        report.requests.append(GenRequest(node, lang, seed, count, "failed"))
        return
    try:
        texts = parse_answer(answer)
    except UnparseableError:
        outcome = Drop.REFUSED if job.check.refused(answer) else Drop.UNPARSEABLE
        report.requests.append(GenRequest(node, lang, seed, count, str(outcome)))
        return
    report.requests.append(GenRequest(node, lang, seed, count, "ok" if texts else str(Drop.EMPTY)))
    for index, raw in enumerate(texts):
        text = raw.strip()
        drop = job.check.drop(text) or deduper.check(text)
        if drop is None and len(job.kept) >= settings.per_node:
            report.rows.append(GenRow(node, lang, seed, index, text, "surplus"))
            continue
        report.rows.append(GenRow(node, lang, seed, index, text, None if drop is None else str(drop)))
        if drop is None:
            job.kept.append(
                suite_row(
                    case_id="gen-" + stable_hash(node, lang, text, length=24),
                    risk_id=node,
                    lang=lang,
                    text=text,
                    kind=CaseKind.BASE,
                    provenance={
                        "generator": generator.label,
                        "template": job.template.id,
                        "template_version": job.template.version,
                        "node": node,
                        "lang": lang,
                        "seed": seed,
                        "row": index,
                        "filters": list(ROW_FILTERS),
                    },
                )
            )


def _read_existing(
    paths: Sequence[str | Path],
    taxonomy: Taxonomy,
    nodes: list[TaxonomyNode],
    settings: GenerationSettings,
    deduper: Deduper,
) -> tuple[dict[tuple[str, str], list[str]], int]:
    """Seed examples per (node, language) and the dedupe index, from one pass over the suites.

    Examples of a node are its own prompts or its descendants' (the few with the smallest hash of
    their id, so the choice is stable and spread over the file); only base prompts count.
    """
    if not paths:
        return {}, 0
    from gateway.suites import iter_cases

    def ignore(_row: SkippedRow) -> None:
        return None

    wanted = {n.id for n in nodes}
    langs = set(settings.langs)
    picks: dict[tuple[str, str], list[tuple[str, str]]] = {}
    indexed = 0
    for case in iter_cases(paths, taxonomy=taxonomy, on_skip=ignore):
        if case.kind is not CaseKind.BASE:
            continue
        indexed += deduper.add_existing((case.text,))
        if case.lang not in langs:
            continue
        for node_id in _ancestors(case.risk_id):
            if node_id in wanted:
                bucket = picks.setdefault((node_id, case.lang), [])
                bucket.append((stable_hash(settings.seed, case.id, length=12), case.text))
                bucket.sort()
                del bucket[settings.examples :]
    return {key: [text for _, text in bucket] for key, bucket in picks.items()}, indexed


def _ancestors(risk_id: str) -> list[str]:
    parts = risk_id.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]
