"""Shared machinery for attacks: seeded choice, attacked-case building with provenance, the
template-attack and generator-attack base classes, and how an attack declares recoverability.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol, runtime_checkable

from attacks.errors import AttackError, GeneratorRequiredError
from attacks.template_data import (
    AttackTemplates,
    LanguageTemplates,
    SlotRule,
    TemplateChoice,
    has_cjk,
    load_templates,
)
from core.errors import GenerationError
from core.protocols import Attack, TextGenerator
from core.types import Case, CaseKind, stable_hash

GENERATOR_NONE = "none"
GENERATOR_FALLBACK = "none (template fallback)"
# Keys every attacked case's provenance carries, in this order, before attack-specific ones.
PROVENANCE_KEYS = ("attack", "version", "template_id", "parent_id", "lang", "seed", "generator")


class RecoveryKind(StrEnum):
    """How the base request can be found again in an attacked prompt, by the attack's design."""

    VERBATIM = "verbatim"  # the base text appears unchanged inside the attacked text
    DECODE = "decode"  # an encoded payload decodes to exactly the base text
    FRAGMENTS = "fragments"  # string fragments reassemble to exactly the base text
    NONE = "none"  # a generator rewrote the request: not recoverable by design


@runtime_checkable
class RecoverableAttack(Attack, Protocol):
    """An attack that says how its base request can be recovered, and recovers it."""

    def recovery(self, attacked: Case) -> RecoveryKind:
        """How the base request of ``attacked`` (a case this attack produced) is recoverable."""
        ...

    def recover(self, attacked: Case) -> str | None:
        """The base request text recovered from ``attacked`` alone; None when ``recovery`` is NONE."""
        ...


class TemplateFallback:
    """The generator passed when the user explicitly chose the template-only fallback.

    Generator attacks recognise it and use their templates instead of a model; anything else that
    tries to generate with it gets a clear ``GenerationError``.
    """

    name = GENERATOR_FALLBACK

    async def generate(self, prompt: str, *, lang: str, seed: int) -> str:
        """Always fails: the template-only fallback has no model behind it."""
        raise GenerationError("the template-only fallback was chosen: there is no generator model to ask")


def generator_label(generator: TextGenerator) -> str:
    """The identity recorded in provenance: the generator's ``name`` or else its class name."""
    name = getattr(generator, "name", None)
    return name if isinstance(name, str) and name else type(generator).__name__


def derive_seed(seed: int, attack: str, case_id: str) -> int:
    """A 64-bit seed stable across runs and hosts for this (seed, attack, case)."""
    return int(stable_hash(seed, attack, case_id, length=16), 16)


def seeded_rng(seed: int, attack: str, case_id: str) -> random.Random:
    """A private RNG for one attack on one case; never the global one."""
    return random.Random(derive_seed(seed, attack, case_id))


def attacked_case_id(parent_id: str, attack: str, version: str, text: str) -> str:
    """Content-hash id of an attacked case, prefixed with the attack name for readability."""
    return f"{attack}-{stable_hash(parent_id, attack, version, text, length=24)}"


def attacked_case(
    base: Case,
    *,
    attack: str,
    version: str,
    text: str,
    template_id: str,
    seed: int,
    generator: str,
    extra: Sequence[tuple[str, str]] = (),
) -> Case:
    """An ATTACK case derived from ``base`` with the standard provenance plus ``extra`` pairs."""
    provenance = (
        ("attack", attack),
        ("version", version),
        ("template_id", template_id),
        ("parent_id", base.id),
        ("lang", base.lang),
        ("seed", str(seed)),
        ("generator", generator),
        *extra,
    )
    return Case(
        id=attacked_case_id(base.id, attack, version, text),
        lang=base.lang,
        text=text,
        dimension=base.dimension,
        risk_id=base.risk_id,
        kind=CaseKind.ATTACK,
        attack=attack,
        parent_id=base.id,
        twin_id=None,
        source=base.source,
        line=base.line,
        provenance=provenance,
    )


def check_applicable(attack: Attack, case: Case) -> None:
    """Raise ``AttackError`` unless ``attack`` can be applied to ``case`` (language, non-empty text)."""
    if case.lang not in attack.languages:
        raise AttackError(
            f"attack {attack.name!r} does not support language {case.lang!r} of case {case.id!r} "
            f"(it supports: {', '.join(attack.languages)})"
        )
    if not case.text.strip():
        raise AttackError(f"case {case.id!r} has an empty prompt: attack {attack.name!r} needs text")


@dataclass(frozen=True, slots=True)
class Rendered:
    """What an attack produced for one case, before it becomes a ``Case``."""

    text: str
    template_id: str
    generator: str = GENERATOR_NONE
    extra: tuple[tuple[str, str], ...] = ()


class TemplateAttack:
    """Base for attacks written as templates: picks a seeded template from group ``main`` and puts
    the base prompt in its ``{{prompt}}`` slot. Subclasses set ``name``, ``version``,
    ``description`` and override ``render``/``slot_rules`` when they need more.
    """

    name: str = ""
    version: str = "1"
    description: str = ""
    needs_generator: bool = False
    slot_rules: tuple[SlotRule, ...] = (SlotRule("main", frozenset({"prompt"})),)

    def __init__(self, templates: AttackTemplates | None = None) -> None:
        if not self.name:
            raise AttackError(f"{type(self).__name__} does not set a name")
        self.templates = templates if templates is not None else load_templates(self.name, self.slot_rules)
        self.languages: tuple[str, ...] = self.templates.languages

    async def apply(self, case: Case, *, seed: int, generator: TextGenerator | None = None) -> list[Case]:
        """One attacked variant of ``case``: same case and seed give the same variant."""
        check_applicable(self, case)
        rng = seeded_rng(seed, self.name, case.id)
        rendered = await self.render(case, rng, generator)
        return [
            attacked_case(
                case,
                attack=self.name,
                version=self.version,
                text=rendered.text,
                template_id=rendered.template_id,
                seed=seed,
                generator=rendered.generator,
                extra=rendered.extra,
            )
        ]

    async def render(self, case: Case, rng: random.Random, generator: TextGenerator | None) -> Rendered:
        """Fill a seeded ``main`` template with the base prompt."""
        return self.fill(case, rng, "main", {"prompt": case.text})

    def fill(self, case: Case, rng: random.Random, group: str, values: dict[str, str]) -> Rendered:
        """Choose a template in ``group`` and render it with its pool picks plus ``values``."""
        lang = self.templates.lang(case.lang)
        choice = lang.choose(group, rng)
        text = lang.template(choice).render({**lang.pool_values(choice), **values})
        return Rendered(text, choice.id)

    def recovery(self, attacked: Case) -> RecoveryKind:
        """Template attacks keep the base prompt verbatim."""
        return RecoveryKind.VERBATIM

    def recover(self, attacked: Case) -> str | None:
        """The ``{{prompt}}`` slot of the template named in ``attacked``'s provenance."""
        return self.extract_slot(attacked, "prompt")

    def extract_slot(self, attacked: Case, slot: str, known: dict[str, str] | None = None) -> str | None:
        """The value of ``slot`` in ``attacked``'s text, matched against the template it records."""
        lang, choice = self.recorded_choice(attacked)
        found = lang.template(choice).extract(attacked.text, {**lang.pool_values(choice), **(known or {})})
        return None if found is None else found.get(slot)

    def recorded_choice(self, attacked: Case) -> tuple[LanguageTemplates, TemplateChoice]:
        """The language templates and template choice recorded in ``attacked``'s provenance."""
        template_id = attacked.provenance_dict().get("template_id")
        if template_id is None:
            raise AttackError(f"case {attacked.id!r} has no template_id in its provenance")
        return self.templates.lang(attacked.lang), TemplateChoice.parse(template_id)


class GeneratorAttack(TemplateAttack, ABC):
    """Base for attacks that ask a generator model for a rewrite.

    Without a generator they raise ``GeneratorRequiredError``; given ``TemplateFallback`` they use
    ``render_fallback``; given a model they call ``render_generated``. Meta-prompts live in the
    template group ``meta`` with a ``{{prompt}}`` slot.
    """

    needs_generator = True
    # The template group whose use means the generator rewrote the request itself (so the base text
    # is gone by design); None when the base prompt always stays verbatim.
    rewrite_group: str | None = None

    async def render(self, case: Case, rng: random.Random, generator: TextGenerator | None) -> Rendered:
        """Dispatch on the generator: none (error), the template fallback, or a model."""
        if generator is None:
            raise GeneratorRequiredError(
                f"attack {self.name!r} needs a generator model: configure one (--generator-model) or "
                "explicitly allow the template-only fallback (--no-generator / allow_template_fallback=True)"
            )
        if isinstance(generator, TemplateFallback):
            return replace(self.render_fallback(case, rng), generator=GENERATOR_FALLBACK)
        rendered = await self.render_generated(case, rng, generator)
        return replace(rendered, generator=generator_label(generator))

    def recovery(self, attacked: Case) -> RecoveryKind:
        """NONE when the generator rewrote the request (``rewrite_group``), else VERBATIM."""
        _, choice = self.recorded_choice(attacked)
        return RecoveryKind.NONE if choice.group == self.rewrite_group else RecoveryKind.VERBATIM

    def recover(self, attacked: Case) -> str | None:
        """The prompt slot; None for a generator rewrite."""
        if self.recovery(attacked) is RecoveryKind.NONE:
            return None
        return super().recover(attacked)

    @abstractmethod
    def render_fallback(self, case: Case, rng: random.Random) -> Rendered:
        """The template-only version of the attack."""

    @abstractmethod
    async def render_generated(self, case: Case, rng: random.Random, generator: TextGenerator) -> Rendered:
        """The model-assisted version of the attack."""

    async def ask(
        self, case: Case, rng: random.Random, generator: TextGenerator, values: dict[str, str] | None = None
    ) -> tuple[str, TemplateChoice]:
        """Send a seeded meta-prompt about ``case`` to ``generator``; return its checked answer.

        Raises ``GenerationError`` (naming the attack and case) when the model fails, answers
        nothing, or answers in the wrong language.
        """
        lang = self.templates.lang(case.lang)
        choice = lang.choose("meta", rng)
        meta = lang.template(choice).render(
            {**lang.pool_values(choice), **(values or {}), "prompt": case.text}
        )
        gen_seed = rng.randrange(2**31)
        where = f"attack {self.name!r} on case {case.id!r}"
        try:
            answer = (await generator.generate(meta, lang=case.lang, seed=gen_seed)).strip()
        except GenerationError as exc:
            raise GenerationError(f"{where}: {exc}") from exc
        if not answer:
            raise GenerationError(f"{where}: generator {generator_label(generator)} returned nothing")
        if case.lang == "zh" and not has_cjk(answer):
            raise GenerationError(f"{where}: generator answered without Chinese text for a zh case")
        if case.lang == "en" and not any("a" <= ch.lower() <= "z" for ch in answer):
            raise GenerationError(f"{where}: generator answered without English text for an en case")
        return answer, choice
