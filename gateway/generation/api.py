"""``generate``: the SDK and CLI front door of test generation.

from gateway import generate
result = await generate(nodes=["CI.drug_crimes"], langs=["en", "zh"], per_node=20,
                        generator="openai/gpt-4o-mini", out="gen.jsonl")
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError
from core.redaction import Redactor
from core.taxonomy import load_taxonomy
from gateway.config import BudgetConfig, RunConfig, TargetConfig, load_run_config
from gateway.generation.engine import GenerationReport, GenerationSettings, generate_rows
from gateway.generation.output import write_rows
from gateway.generation.seam import ResponseFormat, open_generator
from gateway.generation.templates import RESPONSE_SCHEMA, load_templates


@dataclass(frozen=True, slots=True)
class GenerationResult:
    """Where the suite and its report were written, and the report."""

    out: Path
    report_path: Path
    report: GenerationReport


def resolve_generator(
    generator: TargetConfig | str, config: RunConfig | None, api_base: str | None = None
) -> TargetConfig:
    """Mt's target: a ``TargetConfig``; the name of a target (or of the attack generator) in
    ``config``; else a litellm model string (with ``api_base`` for an OpenAI-compatible server)."""
    if isinstance(generator, TargetConfig):
        return generator
    if config is not None:
        candidates = [*config.targets, *([config.attacks.generator] if config.attacks.generator else [])]
        for target in candidates:
            if target.name == generator:
                return target
    try:
        return TargetConfig(name="generator", model=generator, api_base=api_base)
    except ValueError as exc:
        raise ConfigError(
            f"generator {generator!r} is neither a target in the config nor a usable model: {exc}"
        ) from None


async def generate(
    *,
    nodes: Sequence[str],
    langs: Sequence[str],
    per_node: int,
    generator: TargetConfig | str,
    out: str | Path,
    config: RunConfig | str | Path | None = None,
    taxonomy: str | Path | None = None,
    suites: Sequence[str | Path] = (),
    api_base: str | None = None,
    seed: int = 0,
    report_path: str | Path | None = None,
    response_format: ResponseFormat = "auto",
    templates: str | Path | None = None,
    near_threshold: float = 0.7,
    max_rounds: int = 4,
    budget: BudgetConfig | None = None,
) -> GenerationResult:
    """Generate ``per_node`` prompts per node and language into the suite ``out`` (JSONL).

    ``config`` (a run config or its YAML) supplies the generator target by name, the retry policy,
    rate limits and budget (``budget`` overrides it), and the taxonomy file unless ``taxonomy`` is
    given. ``suites`` are existing suites: seed examples per node and the prompts new rows must not
    repeat. The report goes to ``report_path`` (default ``<out>.report.json``).
    """
    cfg = load_run_config(config) if isinstance(config, str | Path) else config
    target = resolve_generator(generator, cfg, api_base)
    run = cfg or RunConfig(name="seval-generate", suites=["sample"], targets=[target])
    if budget is not None:
        run = run.model_copy(update={"budget": budget})
    tax_file = taxonomy if taxonomy is not None else (cfg.taxonomy if cfg is not None else None)
    tax = load_taxonomy(Path(tax_file) if tax_file else None)
    settings = GenerationSettings(
        nodes=tuple(nodes),
        langs=tuple(langs),
        per_node=per_node,
        seed=seed,
        max_rounds=max_rounds,
        near_threshold=near_threshold,
    )
    names = [target.api_key_env] if target.api_key_env else []
    async with open_generator(
        target,
        run,
        redactor=Redactor.from_env(names),
        schema=RESPONSE_SCHEMA,
        response_format=response_format,
    ) as mt:
        rows, report = await generate_rows(
            settings,
            taxonomy=tax,
            templates=load_templates(Path(templates) if templates else None),
            generator=mt,
            existing=list(suites),
        )
    out_path = Path(out)
    write_rows(out_path, rows)
    rp = Path(report_path) if report_path else out_path.with_name(out_path.name + ".report.json")
    rp.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return GenerationResult(out_path, rp, report)
