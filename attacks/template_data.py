"""Attack template files: loading, validation, rendering and extraction.

Each attack's wording lives in ``attacks/templates/<attack>.yaml``::

    attack: goal_hijacking
    languages:
      en:
        templates:
          main:                      # a named group; attacks say which groups they use
            - id: classroom
              text: "... {{benign}} ... {{prompt}}"
        pools:
          benign: ["...", "..."]     # a slot named after a pool is filled by a seeded choice from it
      zh: ...

Slots are written ``{{name}}`` so that code and prose braces never clash. Rendering is a single
pass: text a slot is filled with is never scanned for further slots.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from attacks.errors import AttackError, TemplateDataError

SLOT_RE = re.compile(r"\{\{([a-z_][a-z0-9_]*)\}\}")
# CJK Unified Ideographs and Extension A: enough to tell Chinese text from text without any.
CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_ID_PATTERN = r"^[a-z0-9][a-z0-9_]*$"
_CHOICE_RE = re.compile(r"^(?P<group>[a-z0-9_]+)\.(?P<id>[a-z0-9_]+)(?:\[(?P<pools>[^\]]*)\])?$")


def has_cjk(text: str) -> bool:
    """True when ``text`` contains at least one Chinese character."""
    return CJK_RE.search(text) is not None


@dataclass(frozen=True, slots=True)
class Template:
    """One template: an id unique in its group and text with ``{{slot}}`` placeholders."""

    id: str
    text: str

    @property
    def slots(self) -> tuple[str, ...]:
        """Slot names in order of appearance (repeats included)."""
        return tuple(SLOT_RE.findall(self.text))

    def render(self, values: Mapping[str, str]) -> str:
        """The text with every slot replaced by its value (single pass)."""
        missing = [s for s in dict.fromkeys(self.slots) if s not in values]
        if missing:
            raise TemplateDataError(f"template {self.id!r}: no value for slot(s) {', '.join(missing)}")
        return SLOT_RE.sub(lambda m: values[m.group(1)], self.text)

    def extract(self, text: str, known: Mapping[str, str]) -> dict[str, str] | None:
        """The values of the slots not in ``known`` that make this template render to ``text``.

        Exact when one slot is unknown. With several unknown slots the leftmost takes as much as it
        can (a prompt that quotes the template's own wording may then split differently).
        Returns None when ``text`` was not rendered from this template with these known values.
        """
        pattern: list[str] = []
        seen: set[str] = set()
        pos = 0
        for match in SLOT_RE.finditer(self.text):
            pattern.append(re.escape(self.text[pos : match.start()]))
            slot = match.group(1)
            if slot in known:
                pattern.append(re.escape(known[slot]))
            elif slot in seen:
                pattern.append(f"(?P={slot})")
            else:
                pattern.append(f"(?P<{slot}>.*)")
                seen.add(slot)
            pos = match.end()
        pattern.append(re.escape(self.text[pos:]))
        found = re.fullmatch("".join(pattern), text, flags=re.DOTALL)
        return None if found is None else found.groupdict()


@dataclass(frozen=True, slots=True)
class TemplateChoice:
    """Which template (and which pool entries) an attack used; its ``id`` goes into provenance.

    ``id`` reads ``group.template`` or ``group.template[pool=3,other=0]`` and parses back.
    """

    group: str
    template: str
    pools: tuple[tuple[str, int], ...] = ()

    @property
    def id(self) -> str:
        """The provenance form of this choice."""
        base = f"{self.group}.{self.template}"
        if not self.pools:
            return base
        return base + "[" + ",".join(f"{name}={index}" for name, index in self.pools) + "]"

    @classmethod
    def parse(cls, template_id: str) -> TemplateChoice:
        """Inverse of ``id``; raises ``AttackError`` for text that is not a template id."""
        found = _CHOICE_RE.fullmatch(template_id)
        if found is None:
            raise AttackError(f"not a template id: {template_id!r}")
        pools: list[tuple[str, int]] = []
        if found.group("pools"):
            for part in found.group("pools").split(","):
                name, _, index = part.partition("=")
                if not index.isdigit():
                    raise AttackError(f"not a template id: {template_id!r}")
                pools.append((name, int(index)))
        return cls(found.group("group"), found.group("id"), tuple(pools))


@dataclass(frozen=True, slots=True)
class LanguageTemplates:
    """The template groups and pools of one attack in one language."""

    lang: str
    groups: Mapping[str, tuple[Template, ...]]
    pools: Mapping[str, tuple[str, ...]]

    def group(self, name: str) -> tuple[Template, ...]:
        """The templates of group ``name``."""
        try:
            return self.groups[name]
        except KeyError:
            raise TemplateDataError(f"no template group {name!r} for language {self.lang!r}") from None

    def choose(self, group: str, rng: random.Random) -> TemplateChoice:
        """A seeded choice of a template in ``group`` and of an entry for each pool slot it uses."""
        template = rng.choice(self.group(group))
        picks = tuple(
            (slot, rng.randrange(len(self.pools[slot])))
            for slot in dict.fromkeys(template.slots)
            if slot in self.pools
        )
        return TemplateChoice(group, template.id, picks)

    def template(self, choice: TemplateChoice) -> Template:
        """The template a choice names."""
        for template in self.group(choice.group):
            if template.id == choice.template:
                return template
        raise AttackError(f"no template {choice.id!r} for language {self.lang!r}")

    def pool_values(self, choice: TemplateChoice) -> dict[str, str]:
        """The pool entries a choice picked, by slot name."""
        values: dict[str, str] = {}
        for name, index in choice.pools:
            pool = self.pools.get(name, ())
            if not 0 <= index < len(pool):
                raise AttackError(f"template id {choice.id!r}: no entry {index} in pool {name!r}")
            values[name] = pool[index]
        return values


@dataclass(frozen=True, slots=True)
class SlotRule:
    """What a template group may contain: ``required`` slots appear exactly once, ``optional`` any
    number of times; a slot named after a pool is always allowed."""

    group: str
    required: frozenset[str]
    optional: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class AttackTemplates:
    """All the template data of one attack, validated against its slot rules."""

    attack: str
    source: str
    by_lang: Mapping[str, LanguageTemplates]

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages the file covers, in file order."""
        return tuple(self.by_lang)

    def lang(self, lang: str) -> LanguageTemplates:
        """The templates for ``lang``; ``AttackError`` when the attack has none."""
        try:
            return self.by_lang[lang]
        except KeyError:
            raise AttackError(
                f"attack {self.attack!r} has no {lang!r} templates (it has: {', '.join(self.by_lang)})"
            ) from None


class _TemplateModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID_PATTERN, description="Template id, unique in its group.")
    text: str = Field(min_length=1, description="Template text with {{slot}} placeholders.")


class _LanguageModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    templates: dict[str, list[_TemplateModel]] = Field(description="Template groups by name.")
    pools: dict[str, list[str]] = Field(default_factory=dict, description="Slot fillers by slot name.")


class _FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    attack: str = Field(description="The attack this file belongs to.")
    languages: dict[str, _LanguageModel] = Field(min_length=1, description="Templates per language.")


def _check_language(where: str, lang: str, text: str) -> None:
    if lang == "zh" and not has_cjk(text):
        raise TemplateDataError(f"{where}: Chinese text has no Chinese characters")
    if lang != "zh" and has_cjk(text):
        raise TemplateDataError(f"{where}: {lang!r} text contains Chinese characters")


def _validate_language(
    source: str, lang: str, spec: _LanguageModel, rules: Mapping[str, SlotRule]
) -> LanguageTemplates:
    where = f"{source}: {lang}"
    if set(spec.templates) != set(rules):
        raise TemplateDataError(
            f"{where}: template groups are {sorted(spec.templates)}, the attack expects {sorted(rules)}"
        )
    for name, pool in spec.pools.items():
        if not pool:
            raise TemplateDataError(f"{where}: pool {name!r} is empty")
        for index, entry in enumerate(pool):
            if SLOT_RE.search(entry):
                raise TemplateDataError(f"{where}: pool {name!r} entry {index} contains a slot")
            _check_language(f"{where}: pool {name!r} entry {index}", lang, entry)
    groups: dict[str, tuple[Template, ...]] = {}
    for name, items in spec.templates.items():
        rule = rules[name]
        if not items:
            raise TemplateDataError(f"{where}: template group {name!r} is empty")
        ids = [item.id for item in items]
        if len(set(ids)) != len(ids):
            raise TemplateDataError(f"{where}: template group {name!r} repeats an id")
        for item in items:
            here = f"{where}.{name}.{item.id}"
            slots = SLOT_RE.findall(item.text)
            unknown = sorted(set(slots) - rule.required - rule.optional - set(spec.pools))
            if unknown:
                raise TemplateDataError(f"{here}: unknown slot(s) {', '.join(unknown)}")
            for slot in sorted(rule.required):
                if slots.count(slot) != 1:
                    raise TemplateDataError(f"{here}: slot {slot!r} must appear exactly once")
            _check_language(here, lang, item.text)
        groups[name] = tuple(Template(item.id, item.text) for item in items)
    pools = {name: tuple(pool) for name, pool in spec.pools.items()}
    return LanguageTemplates(lang, MappingProxyType(groups), MappingProxyType(pools))


def load_templates(attack: str, rules: tuple[SlotRule, ...], *, path: Path | None = None) -> AttackTemplates:
    """Load and validate ``attacks/templates/<attack>.yaml`` (or ``path``) against ``rules``.

    Raises ``TemplateDataError`` naming the file, language, group and template of any problem.
    """
    if path is None:
        resource = resources.files("attacks").joinpath("templates", f"{attack}.yaml")
        source = f"attacks/templates/{attack}.yaml"
        try:
            raw = resource.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TemplateDataError(f"{source}: template file not found") from None
    else:
        source = str(path)
        try:
            raw = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TemplateDataError(f"{source}: cannot read: {exc}") from None
    try:
        spec = _FileModel.model_validate(yaml.safe_load(raw))
    except yaml.YAMLError as exc:
        raise TemplateDataError(f"{source}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        raise TemplateDataError(f"{source}: {exc}") from None
    if spec.attack != attack:
        raise TemplateDataError(f"{source}: file is for attack {spec.attack!r}, not {attack!r}")
    by_rule = {rule.group: rule for rule in rules}
    by_lang = {lang: _validate_language(source, lang, item, by_rule) for lang, item in spec.languages.items()}
    return AttackTemplates(attack, source, MappingProxyType(by_lang))
