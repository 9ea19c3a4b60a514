"""CLI commands: attacks (``seval attacks list``, ``seval attacks apply``).

Import-light on purpose: typer and the standard library at module level; the attack library, and
litellm for a generator model, are imported inside the commands that need them.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from attacks.expand import Expander
    from attacks.generator import AdapterGenerator
    from core.types import Case

attacks_app = typer.Typer(help="List the attack library and apply attacks to prompts (JSONL in, JSONL out).")


@attacks_app.command("list")
def list_attacks(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of attack objects.")] = False,
) -> None:
    """List registered attacks (built-ins and installed plugins); plugin problems go to stderr."""
    from attacks.registry import default_registry

    registry = default_registry()
    for problem in registry.problems:
        typer.echo(f"warning: {problem}", err=True)
    attacks = registry.by_name()
    if as_json:
        rows = [
            {
                "name": a.name,
                "version": a.version,
                "languages": list(a.languages),
                "needs_generator": a.needs_generator,
                "description": a.description,
            }
            for a in attacks
        ]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    width = max(len(a.name) for a in attacks)
    for a in attacks:
        needs = "generator" if a.needs_generator else "template "
        langs = ",".join(a.languages)
        typer.echo(f"{a.name:<{width}}  v{a.version:<8} {langs:<6} {needs}  {a.description}")


@attacks_app.command("apply")
def apply(
    attack: Annotated[str, typer.Option("--attack", help="Attack name (see `seval attacks list`).")],
    lang: Annotated[str, typer.Option("--lang", help="Language of the input prompts: zh or en.")],
    source: Annotated[str, typer.Argument(help="JSONL file of prompts, or '-' for stdin.")] = "-",
    seed: Annotated[int, typer.Option("--seed", help="Seed: same input and seed, same output.")] = 0,
    no_generator: Annotated[
        bool,
        typer.Option(
            "--no-generator", help="Use the template-only fallback for attacks that need a generator."
        ),
    ] = False,
    generator_model: Annotated[
        str | None, typer.Option("--generator-model", help="litellm model string of the generator model.")
    ] = None,
    generator_base_url: Annotated[
        str | None, typer.Option("--generator-base-url", help="API base URL of the generator model.")
    ] = None,
    generator_key_env: Annotated[
        str | None, typer.Option("--generator-key-env", help="Environment variable holding its API key.")
    ] = None,
) -> None:
    """Apply one attack to each JSONL line ``{"id"?, "prompt"|"text", "risk"?}``; write attacked JSONL.

    Output lines carry ``id``, ``parent_id``, ``attack``, ``lang``, ``prompt``, ``dimension``,
    ``risk`` and ``provenance``. Bad or failing lines are reported to stderr with their line number
    and skipped; the exit status is then 1.
    """
    from attacks.errors import AttackError
    from attacks.expand import make_expander, resolve_attacks

    if no_generator and generator_model:
        _fail("--no-generator and --generator-model exclude each other")
    if (generator_base_url or generator_key_env) and not generator_model:
        _fail("--generator-base-url and --generator-key-env need --generator-model")
    try:
        (chosen,) = resolve_attacks(
            [attack],
            generator_configured=generator_model is not None,
            allow_template_fallback=no_generator,
            languages=[lang],
        )
    except AttackError as exc:
        _fail(str(exc))
    generator = None
    if generator_model and chosen.needs_generator:
        generator = _build_generator(generator_model, generator_base_url, generator_key_env)
    expander = make_expander(
        [attack], generator=generator, allow_template_fallback=no_generator, languages=[lang]
    )
    name = "<stdin>" if source == "-" else source
    try:
        stream = sys.stdin if source == "-" else open(source, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        _fail(f"cannot read {source}: {exc.strerror}")
    try:
        written, skipped = asyncio.run(_apply_all(expander, stream, name, lang, seed))
    finally:
        if stream is not sys.stdin:
            stream.close()
    if skipped:
        typer.echo(f"{name}: {written} attacked prompt(s) written, {skipped} line(s) skipped", err=True)
        raise typer.Exit(1)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _build_generator(model: str, base_url: str | None, key_env: str | None) -> AdapterGenerator:
    """The generator model behind the litellm adapter (imported only when asked for)."""
    from adapters.litellm_adapter import LiteLLMAdapter
    from attacks.generator import AdapterGenerator
    from core.redaction import Redactor

    api_key = None
    if key_env:
        api_key = os.environ.get(key_env)
        if not api_key:
            _fail(f"--generator-key-env: environment variable {key_env} is not set")
    adapter = LiteLLMAdapter(
        model=model,
        api_key=api_key,
        api_base=base_url,
        redactor=Redactor.from_env([key_env] if key_env else []),
    )
    return AdapterGenerator(adapter, label=model)


def _parse_line(line: str, lang: str, name: str, lineno: int) -> Case:
    """The base case a JSONL input line describes; ``ValueError`` saying what is wrong."""
    from core.types import Case, stable_hash

    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(row, dict):
        raise ValueError("expected a JSON object")
    text = row.get("prompt", row.get("text"))
    if not isinstance(text, str) or not text.strip():
        raise ValueError('needs a non-empty string "prompt" (or "text")')
    case_id = row.get("id")
    if case_id is None:
        case_id = f"prompt-{stable_hash(lang, text, length=16)}"
    elif isinstance(case_id, bool) or not isinstance(case_id, str | int) or not str(case_id):
        raise ValueError('"id" must be a non-empty string or an integer')
    risk = row.get("risk", "")
    if not isinstance(risk, str):
        raise ValueError('"risk" must be a string')
    row_lang = row.get("lang", lang)
    if row_lang != lang:
        raise ValueError(f'"lang" is {row_lang!r} but --lang is {lang!r}')
    return Case(
        id=str(case_id),
        lang=lang,
        text=text,
        dimension=risk.split(".", 1)[0],
        risk_id=risk,
        source=name,
        line=lineno,
    )


async def _apply_all(
    expander: Expander, lines: Iterable[str], name: str, lang: str, seed: int
) -> tuple[int, int]:
    """Expand every line, writing results as they come; returns (written, skipped)."""
    from attacks.errors import AttackError
    from core.errors import GenerationError

    written = skipped = 0
    try:
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                case = _parse_line(line, lang, name, lineno)
                produced = await expander.expand(case, seed=seed)
            except (ValueError, GenerationError) as exc:  # AttackError is a ValueError
                kind = "" if isinstance(exc, AttackError | GenerationError) else "bad input: "
                typer.echo(f"{name}:{lineno}: {kind}{exc}", err=True)
                skipped += 1
                continue
            for out in produced:
                _write(out)
                written += 1
    finally:
        aclose = getattr(expander.generator, "aclose", None)
        if aclose is not None:
            await aclose()
    return written, skipped


def _write(case: Case) -> None:
    record: dict[str, Any] = {
        "id": case.id,
        "parent_id": case.parent_id,
        "attack": case.attack,
        "lang": case.lang,
        "prompt": case.text,
        "dimension": case.dimension,
        "risk": case.risk_id,
        "provenance": case.provenance_dict(),
    }
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root app."""
    app.add_typer(attacks_app, name="attacks")
