"""The API the engine calls: check named attacks up front, then expand base cases into attacked cases.

    expander = make_expander(["code_injection", "positive_induction"], generator=gen)
    attacked = await expander.expand(case, seed=run_seed)

``make_expander`` fails before any work starts when a name is unknown, repeated, lacks a language
the run needs, or needs a generator that is neither configured nor replaced by the explicitly
allowed template-only fallback. ``expand`` is the one-call form.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from attacks.base import PROVENANCE_KEYS, TemplateFallback
from attacks.errors import AttackError, GeneratorRequiredError, UnknownAttackError
from attacks.registry import AttackRegistry, default_registry
from core.errors import GenerationError
from core.protocols import Attack, TextGenerator
from core.types import Case, CaseKind


def resolve_attacks(
    names: Sequence[str],
    *,
    generator_configured: bool,
    allow_template_fallback: bool = False,
    languages: Iterable[str] = (),
    registry: AttackRegistry | None = None,
) -> tuple[Attack, ...]:
    """The attacks called ``names``, after checking they can all run; every problem in one error."""
    registry = registry if registry is not None else default_registry()
    repeated = sorted({n for n in names if list(names).count(n) > 1})
    if repeated:
        raise AttackError(f"attack(s) named more than once: {', '.join(repeated)}")
    unknown = [n for n in names if n not in registry.attacks]
    if unknown:
        if len(unknown) == 1:
            registry.get(unknown[0])  # raises the precise error (unknown, or which plugin failed)
        raise UnknownAttackError(
            f"unknown attack(s): {', '.join(unknown)}; registered: {', '.join(registry.names())}"
        )
    attacks = tuple(registry.get(n) for n in names)
    if not generator_configured and not allow_template_fallback:
        needy = [a.name for a in attacks if a.needs_generator]
        if needy:
            raise GeneratorRequiredError(
                f"attack(s) {', '.join(needy)} need a generator model: configure one, or explicitly allow "
                "the template-only fallback (--no-generator / allow_template_fallback=True)"
            )
    wanted = list(dict.fromkeys(languages))
    for attack in attacks:
        missing = [lang for lang in wanted if lang not in attack.languages]
        if missing:
            raise AttackError(
                f"attack {attack.name!r} does not support language(s) {', '.join(missing)} "
                f"(it supports: {', '.join(attack.languages)})"
            )
    return attacks


def _check_output(attack: Attack, base: Case, out: Case) -> None:
    """Guard against plugins that break the attacked-case contract."""
    problems = []
    if out.kind is not CaseKind.ATTACK:
        problems.append("kind is not ATTACK")
    if out.attack != attack.name:
        problems.append(f"attack field is {out.attack!r}")
    if out.parent_id != base.id:
        problems.append(f"parent_id is {out.parent_id!r}, not {base.id!r}")
    if out.lang != base.lang:
        problems.append(f"lang is {out.lang!r}, not {base.lang!r}")
    if not out.text.strip():
        problems.append("text is empty")
    missing = [k for k in PROVENANCE_KEYS if k not in out.provenance_dict()]
    if missing:
        problems.append(f"provenance lacks {', '.join(missing)}")
    if problems:
        raise AttackError(
            f"attack {attack.name!r} on case {base.id!r} returned a bad case: {'; '.join(problems)}"
        )


@dataclass(frozen=True, slots=True)
class Expander:
    """Checked attacks plus the generator they use (``TemplateFallback`` when that was chosen)."""

    attacks: tuple[Attack, ...]
    generator: TextGenerator | None = None

    async def expand(self, case: Case, *, seed: int) -> list[Case]:
        """Every attack applied to ``case`` in order, outputs concatenated.

        Raises ``GenerationError`` when a generator fails and ``AttackError`` for anything else an
        attack gets wrong, each naming the attack and the case.
        """
        results: list[Case] = []
        for attack in self.attacks:
            try:
                produced = await attack.apply(case, seed=seed, generator=self.generator)
            except (AttackError, GenerationError):
                raise
            except Exception as exc:  # a plugin's own failure, reported with where it happened
                raise AttackError(
                    f"attack {attack.name!r} failed on case {case.id!r}: {type(exc).__name__}: {exc}"
                ) from exc
            for out in produced:
                _check_output(attack, case, out)
            results.extend(produced)
        return results


def make_expander(
    attack_names: Sequence[str],
    *,
    generator: TextGenerator | None = None,
    allow_template_fallback: bool = False,
    languages: Iterable[str] = (),
    registry: AttackRegistry | None = None,
) -> Expander:
    """Resolve and check ``attack_names`` (see ``resolve_attacks``) and bind the generator.

    With no generator and ``allow_template_fallback``, generator attacks use their templates and
    record ``generator: none (template fallback)``; a configured generator always takes precedence.
    """
    attacks = resolve_attacks(
        attack_names,
        generator_configured=generator is not None,
        allow_template_fallback=allow_template_fallback,
        languages=languages,
        registry=registry,
    )
    if generator is None and allow_template_fallback:
        generator = TemplateFallback()
    return Expander(attacks, generator)


async def expand(
    case: Case,
    attack_names: Sequence[str],
    *,
    seed: int,
    generator: TextGenerator | None = None,
    allow_template_fallback: bool = False,
    registry: AttackRegistry | None = None,
) -> list[Case]:
    """One-call form: check the attacks, then expand ``case`` with each of them."""
    expander = make_expander(
        attack_names,
        generator=generator,
        allow_template_fallback=allow_template_fallback,
        languages=(case.lang,),
        registry=registry,
    )
    return await expander.expand(case, seed=seed)
