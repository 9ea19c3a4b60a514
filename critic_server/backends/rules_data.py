"""The ``rules`` critic's rule set: YAML data files in ``rules_data/``, loaded once and validated.

Files (all in ``rules_data/``):

- ``fragments.yaml``: named regex fragments shared by the patterns (``{{person}}`` in a pattern is
  replaced by the ``person`` fragment) and ``step_line``, the pattern of a numbered or bulleted line.
- ``en.yaml``, ``zh.yaml``: per language, the prompt ``framing`` patterns (``intent``,
  ``definitional``, ``fiction``; ``fiction_answer``, the same context named by the answer, and
  ``real_world``, a prompt that rules it out), the ``contrast`` words that turn a sentence ("but"),
  the ``rebuttal`` reading (an opening sentence that restates the prompt's claim with the opposite
  polarity), the response ``refusals`` and ``compliance`` cues, the ``spans`` that are not an
  answer's content (``disclaimer`` and ``meta``: notes to an evaluator, verdicts, fences), and the
  risk ``concepts`` per taxonomy dimension.

A pattern is a string or a list of strings (joined without separator, so long patterns wrap).
Every problem names the file and the entry at fault. The critic's version is derived from the
bytes of these files and the source of the rules modules (``rules_version``), so changing any
pattern or any rule logic gives verdicts a new version and never reuses stale ones.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.critic_wire import DIMENSION_IDS
from core.errors import ConfigError

DATA_DIR = Path(__file__).with_name("rules_data")
DATA_FILES = ("fragments.yaml", "en.yaml", "zh.yaml")
LANGUAGES = ("en", "zh")
# The modules whose logic decides verdicts: part of the version, with the data.
_CODE_MODULES = ("rules.py", "rules_data.py", "rules_gate.py")
_FRAGMENT_REF = re.compile(r"\{\{(\w+)\}\}")

Framing = Literal["intent", "always"]
_M = TypeVar("_M", bound="BaseModel")


class RulesDataError(ConfigError):
    """A rules data file that cannot be used, with the file and entry at fault."""


@dataclass(frozen=True, slots=True)
class Cue:
    """A response cue (refusal, compliance or a non-content span): a pattern and its strength."""

    id: str
    weight: float
    pattern: str
    set_aside: bool = False
    """A refusal cue that marks its sentence as a refusal span, set aside before the content is
    read on its own (plain declining, not the rebuttals and cautions that are part of an answer)."""
    warning: bool = False
    """A refusal cue that compliant answers carry too (a caution, advice to seek help): after an
    opening sentence that complies it counts half, since it then qualifies an answer already given."""
    redirect: bool = False
    """A refusal cue that turns to an alternative ("instead, ..."): what follows it in the content is
    the alternative on offer, not an answer to the request."""
    assent: bool = False
    """A compliance cue that only assents ("sure", "of course"): refusals open with it too ("of
    course, but ..."), so it alone does not make an opening sentence compliant."""


@dataclass(frozen=True, slots=True)
class Concept:
    """A risk concept of one taxonomy dimension.

    ``framing="intent"`` concepts count fully only when the prompt asks for action; ``"always"``
    concepts carry their intent in the pattern itself. ``also`` must match somewhere too (pairs);
    ``unless`` marks a context that makes the pair harmless (weight scaled down).
    ``on_response=False`` concepts are read on prompts only: in responses they mostly match the
    rebuttals and history lessons that answer such prompts. ``also_first``: the ``also`` match must
    begin before the end of the pattern's match (a group that is the subject of "should not be
    allowed", not a word after it). ``antecedent``: a response match counts only when the prompt
    matches it too (a pronoun object, "kill them", refers to what the prompt named).
    """

    id: str
    dimension: str
    weight: float
    description: str
    pattern: str
    framing: Framing = "intent"
    also: str | None = None
    unless: str | None = None
    on_response: bool = True
    also_first: bool = False
    antecedent: str | None = None


@dataclass(frozen=True, slots=True)
class Rebuttal:
    """An opening sentence that restates the prompt's claim with the opposite polarity rebuts it
    ("why should X not ..." answered "there is no reason X should not ..."): a refusal of this weight.

    ``negation`` counts polarity; ``unit`` (one capture group) finds the content units compared
    (words, or CJK character pairs), of which ``stop`` ones are left out and the first
    ``stem_chars`` characters are compared; ``min_shared`` units must be shared with the prompt.
    """

    weight: float
    negation: str
    unit: str
    stop: str
    stem_chars: int
    min_shared: int


@dataclass(frozen=True, slots=True)
class LanguageRules:
    """The rules of one language, fragments resolved."""

    intent: str
    definitional: str
    fiction: str
    fiction_answer: str
    real_world: str
    contrast: str
    rebuttal: Rebuttal
    refusals: tuple[Cue, ...]
    compliance: tuple[Cue, ...]
    disclaimers: tuple[Cue, ...]
    meta: tuple[Cue, ...]
    concepts: tuple[Concept, ...]


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Everything the rules engine reads, and the version derived from it."""

    en: LanguageRules
    zh: LanguageRules
    step_line: str
    version: str


# -- file schemas ------------------------------------------------------------------------------

Pattern = str | list[str]
Weight = Annotated[float, Field(ge=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _CueIn(_Strict):
    id: str = Field(min_length=1)
    weight: Weight
    pattern: Pattern
    set_aside: bool = False
    warning: bool = False
    redirect: bool = False
    assent: bool = False


class _ConceptIn(_Strict):
    id: str = Field(min_length=1)
    dimension: str
    weight: Weight
    description: str = Field(min_length=1)
    pattern: Pattern
    framing: Framing = "intent"
    also: Pattern | None = None
    unless: Pattern | None = None
    on_response: bool = True
    also_first: bool = False
    antecedent: Pattern | None = None


class _FramingIn(_Strict):
    intent: Pattern
    definitional: Pattern
    fiction: Pattern
    fiction_answer: Pattern
    real_world: Pattern


class _SpansIn(_Strict):
    disclaimer: list[_CueIn]
    meta: list[_CueIn]


class _RebuttalIn(_Strict):
    weight: Weight
    negation: Pattern
    unit: Pattern
    stop: Pattern
    stem_chars: int = Field(ge=1)
    min_shared: int = Field(ge=1)


class _LanguageIn(_Strict):
    framing: _FramingIn
    contrast: Pattern
    rebuttal: _RebuttalIn
    refusals: list[_CueIn]
    compliance: list[_CueIn]
    spans: _SpansIn
    concepts: list[_ConceptIn]


class _FragmentsIn(_Strict):
    fragments: dict[str, Pattern]
    step_line: Pattern


# -- loading -----------------------------------------------------------------------------------


def rules_version(data_dir: Path = DATA_DIR) -> str:
    """First 12 hex digits of sha256 over the data files' names and bytes and the rules modules'
    source: any change to a pattern, a weight or the engine gives a new version."""
    digest = hashlib.sha256()
    code_dir = Path(__file__).parent
    for name in DATA_FILES:
        digest.update(f"data/{name}\0".encode())
        digest.update(_read_bytes(data_dir / name))
    for name in _CODE_MODULES:
        digest.update(f"code/{name}\0".encode())
        digest.update((code_dir / name).read_bytes())
    return digest.hexdigest()[:12]


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise RulesDataError(f"{path}: cannot read rules data ({exc.strerror or exc})") from None


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(_read_bytes(path).decode("utf-8"))
    except UnicodeDecodeError:
        raise RulesDataError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise RulesDataError(f"{path}: invalid YAML ({exc})") from None


def _where(payload: Any, loc: tuple[int | str, ...]) -> str:
    """A pydantic error location with list indices replaced by the entry's id where it has one."""
    parts: list[str] = []
    node = payload
    for key in loc:
        entry_id = None
        try:
            node = node[key]
            if isinstance(node, Mapping) and isinstance(node.get("id"), str):
                entry_id = node["id"]
        except (KeyError, IndexError, TypeError):
            node = None
        if isinstance(key, int):
            parts.append(f"[{entry_id!r}]" if entry_id else f"[{key}]")
        else:
            parts.append(f".{key}" if parts else key)
    return "".join(parts)


def _parse(path: Path, model: type[_M]) -> _M:
    payload = _read_yaml(path)
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise RulesDataError(
            f"{path}: {_where(payload, tuple(first['loc']))}: {first['msg']}"
            + (f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else "")
        ) from None


class _Resolver:
    """Joins, resolves and compiles patterns of one file, naming the entry at fault."""

    def __init__(self, path: Path, fragments: Mapping[str, str]) -> None:
        self._path = path
        self._fragments = fragments

    def __call__(self, pattern: Pattern, where: str) -> str:
        text = "".join(pattern) if isinstance(pattern, list) else pattern

        def fragment(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in self._fragments:
                raise RulesDataError(f"{self._path}: {where}: unknown fragment {{{{{name}}}}}")
            return self._fragments[name]

        resolved = _FRAGMENT_REF.sub(fragment, text)
        try:
            re.compile(resolved)
        except re.error as exc:
            raise RulesDataError(f"{self._path}: {where}: invalid regex ({exc})") from None
        return resolved


def _cues(section: str, cues: list[_CueIn], resolve: _Resolver, path: Path) -> tuple[Cue, ...]:
    seen: set[str] = set()
    out: list[Cue] = []
    for c in cues:
        if c.id in seen:
            raise RulesDataError(f"{path}: {section}[{c.id!r}]: duplicate id")
        seen.add(c.id)
        out.append(
            Cue(
                c.id,
                c.weight,
                resolve(c.pattern, f"{section}[{c.id!r}].pattern"),
                c.set_aside,
                c.warning,
                c.redirect,
                c.assent,
            )
        )
    return tuple(out)


def _language(path: Path, fragments: Mapping[str, str]) -> LanguageRules:
    data = _parse(path, _LanguageIn)
    resolve = _Resolver(path, fragments)
    concepts: list[Concept] = []
    seen: set[str] = set()
    for c in data.concepts:
        where = f"concepts[{c.id!r}]"
        if c.id in seen:
            raise RulesDataError(f"{path}: {where}: duplicate id")
        seen.add(c.id)
        if c.dimension not in DIMENSION_IDS or not c.id.startswith(c.dimension + "."):
            raise RulesDataError(
                f"{path}: {where}: dimension must be one of {', '.join(DIMENSION_IDS)} "
                f"and the id must start with it, got {c.dimension!r}"
            )
        concepts.append(
            Concept(
                c.id,
                c.dimension,
                c.weight,
                c.description,
                resolve(c.pattern, f"{where}.pattern"),
                c.framing,
                resolve(c.also, f"{where}.also") if c.also is not None else None,
                resolve(c.unless, f"{where}.unless") if c.unless is not None else None,
                c.on_response,
                c.also_first,
                resolve(c.antecedent, f"{where}.antecedent") if c.antecedent is not None else None,
            )
        )
    return LanguageRules(
        intent=resolve(data.framing.intent, "framing.intent"),
        definitional=resolve(data.framing.definitional, "framing.definitional"),
        fiction=resolve(data.framing.fiction, "framing.fiction"),
        fiction_answer=resolve(data.framing.fiction_answer, "framing.fiction_answer"),
        real_world=resolve(data.framing.real_world, "framing.real_world"),
        contrast=resolve(data.contrast, "contrast"),
        rebuttal=Rebuttal(
            data.rebuttal.weight,
            resolve(data.rebuttal.negation, "rebuttal.negation"),
            resolve(data.rebuttal.unit, "rebuttal.unit"),
            resolve(data.rebuttal.stop, "rebuttal.stop"),
            data.rebuttal.stem_chars,
            data.rebuttal.min_shared,
        ),
        refusals=_cues("refusals", data.refusals, resolve, path),
        compliance=_cues("compliance", data.compliance, resolve, path),
        disclaimers=_cues("spans.disclaimer", data.spans.disclaimer, resolve, path),
        meta=_cues("spans.meta", data.spans.meta, resolve, path),
        concepts=tuple(concepts),
    )


def load_rule_set(data_dir: Path = DATA_DIR) -> RuleSet:
    """Read and validate the rule set in ``data_dir``; raises ``RulesDataError`` naming the file
    and entry at fault."""
    frag_path = data_dir / "fragments.yaml"
    raw = _parse(frag_path, _FragmentsIn)
    fragments: dict[str, str] = {}
    for name, value in raw.fragments.items():
        # A fragment may use fragments defined above it in the file.
        fragments[name] = _Resolver(frag_path, fragments)(value, f"fragments.{name}")
    step_line = _Resolver(frag_path, fragments)(raw.step_line, "step_line")
    en = _language(data_dir / "en.yaml", fragments)
    zh = _language(data_dir / "zh.yaml", fragments)
    return RuleSet(en=en, zh=zh, step_line=step_line, version=rules_version(data_dir))


@cache
def default_rule_set() -> RuleSet:
    """The packaged rule set, read once per process (it is immutable)."""
    return load_rule_set(DATA_DIR)
