"""The S-Eval risk taxonomy as data: four levels (dimension > category > subcategory > sub-subcategory).

The package ships S-Eval's two public levels (8 dimensions, 25 categories) in
``core/data/taxonomy.yaml``. Users add subcategories, sub-subcategories and wholly new risks with
a file of their own (``--taxonomy FILE``, YAML or JSON) in the same format::

    risks:
      - id: CI.drug_crimes.synthesis      # parent CI.drug_crimes must exist (built-in or in this file)
        name: Drug synthesis              # English name, required
        name_zh: 毒品合成                  # Chinese name, optional
        description: Making controlled substances   # optional
        level: 3                          # optional; checked against the id when given
      - id: AI                            # a new dimension: an upper-case code
        name: AI Misuse
        risk_types: [AI_Misuse]           # optional: `risk_type` strings in suite files that mean this node

Ids are stable keys used by the store and the reports: a dimension id is a short upper-case code
(``CI``), a deeper id is its parent's id plus a snake_case key (``CI.drug_crimes``). Problems in a
file (unknown parent, duplicate id, missing name, wrong depth, malformed entries) are all collected
and raised together as one ``TaxonomyError`` naming the file and each entry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from core.errors import TaxonomyError

MAX_DEPTH = 4
LEVEL_NAMES = ("dimension", "category", "subcategory", "sub-subcategory")
BUILTIN_SOURCE = "core/data/taxonomy.yaml"

_DIMENSION_ID = re.compile(r"^[A-Z][A-Z0-9_]{0,15}$")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_ENTRY_FIELDS = frozenset({"id", "name", "name_zh", "description", "level", "risk_types"})


@dataclass(frozen=True, slots=True)
class TaxonomyNode:
    """One risk at any level. ``level`` is 1 for a dimension up to 4 for a sub-subcategory."""

    id: str
    name: str
    name_zh: str | None
    level: int
    parent: str | None
    description: str = ""
    risk_types: tuple[str, ...] = ()
    source: str = BUILTIN_SOURCE

    @property
    def dimension(self) -> str:
        """Id of the dimension this node belongs to (itself for a dimension)."""
        return self.id.split(".", 1)[0]

    def display_name(self, lang: str = "en") -> str:
        """The Chinese name for ``lang="zh"`` when there is one, else the English name."""
        if lang == "zh" and self.name_zh:
            return self.name_zh
        return self.name


@dataclass(frozen=True)
class Taxonomy:
    """An immutable, validated taxonomy with lookups. Build it with ``load_taxonomy``."""

    _nodes: Mapping[str, TaxonomyNode]
    _children: Mapping[str, tuple[str, ...]]
    _by_risk_type: Mapping[str, str]
    _by_name: Mapping[str, str]

    @classmethod
    def from_nodes(cls, nodes: list[TaxonomyNode]) -> Taxonomy:
        """Index already validated nodes (parents before children, unique ids and risk types)."""
        children: dict[str, list[str]] = {}
        by_risk_type: dict[str, str] = {}
        name_owners: dict[str, set[str]] = {}
        for node in nodes:
            if node.parent is not None:
                children.setdefault(node.parent, []).append(node.id)
            for risk_type in node.risk_types:
                by_risk_type[risk_type] = node.id
            for name in (node.name, node.name_zh):
                if name:
                    name_owners.setdefault(name.casefold(), set()).add(node.id)
        # A name shared by two nodes cannot identify either, so only unique names resolve.
        by_name = {name: next(iter(ids)) for name, ids in name_owners.items() if len(ids) == 1}
        return cls(
            MappingProxyType({n.id: n for n in nodes}),
            MappingProxyType({k: tuple(v) for k, v in children.items()}),
            MappingProxyType(by_risk_type),
            MappingProxyType(by_name),
        )

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def __iter__(self) -> Iterator[TaxonomyNode]:
        return iter(self._nodes.values())

    def __len__(self) -> int:
        return len(self._nodes)

    def node(self, node_id: str) -> TaxonomyNode:
        """The node with this id; ``KeyError`` naming the id when there is none."""
        try:
            return self._nodes[node_id]
        except KeyError:
            raise KeyError(f"unknown taxonomy id {node_id!r}") from None

    def get(self, node_id: str) -> TaxonomyNode | None:
        """The node with this id, or None."""
        return self._nodes.get(node_id)

    def children(self, node_id: str) -> tuple[TaxonomyNode, ...]:
        """Direct children of a node, in definition order."""
        self.node(node_id)
        return tuple(self._nodes[c] for c in self._children.get(node_id, ()))

    def dimensions(self) -> tuple[TaxonomyNode, ...]:
        """The level-1 nodes, in definition order."""
        return self.at_level(1)

    def at_level(self, level: int) -> tuple[TaxonomyNode, ...]:
        """All nodes at one level (1 = dimension ... 4 = sub-subcategory), in definition order."""
        return tuple(n for n in self._nodes.values() if n.level == level)

    def dimension_of(self, node_id: str) -> TaxonomyNode:
        """The dimension a node belongs to."""
        return self._nodes[self.node(node_id).dimension]

    def path(self, node_id: str) -> tuple[TaxonomyNode, ...]:
        """The nodes from the dimension down to ``node_id`` inclusive."""
        node = self.node(node_id)
        parts = node.id.split(".")
        return tuple(self._nodes[".".join(parts[: i + 1])] for i in range(len(parts)))

    def node_for_risk_type(self, risk_type: str) -> TaxonomyNode | None:
        """The node a suite's ``risk_type`` string maps to (``Crimes_and_Illegal_Activities`` -> CI)."""
        node_id = self._by_risk_type.get(risk_type)
        return None if node_id is None else self._nodes[node_id]

    def dimension_for_risk_type(self, risk_type: str) -> str | None:
        """Dimension id for an S-Eval ``risk_type`` string, or None when the string is unknown."""
        node = self.node_for_risk_type(risk_type)
        return None if node is None else node.dimension

    def resolve(self, label: str) -> TaxonomyNode | None:
        """The node a free-form label names: an id, a ``risk_type`` string, or a unique English or
        Chinese name (case-insensitive). None when nothing matches."""
        label = label.strip()
        return (
            self._nodes.get(label)
            or self.node_for_risk_type(label)
            or self._nodes.get(self._by_name.get(label.casefold(), ""))
        )


def load_taxonomy(extra: Path | None = None) -> Taxonomy:
    """The built-in taxonomy, extended with the entries of ``extra`` (YAML or JSON) when given.

    Raises ``TaxonomyError`` listing every problem, each naming the file and entry.
    """
    builtin_text = resources.files("core").joinpath("data/taxonomy.yaml").read_text(encoding="utf-8")
    entries = _entries(BUILTIN_SOURCE, yaml.safe_load(builtin_text))
    if extra is not None:
        entries += _entries(str(extra), _read_file(extra))
    return Taxonomy.from_nodes(_validate(entries))


@dataclass(frozen=True, slots=True)
class _Entry:
    source: str
    index: int
    raw: Any

    def where(self) -> str:
        ident = self.raw.get("id") if isinstance(self.raw, dict) else None
        label = f" ({ident!r})" if isinstance(ident, str) else ""
        return f"{self.source}: entry {self.index}{label}"


def _read_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TaxonomyError([f"{path}: cannot read taxonomy file: {exc}"]) from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
        raise TaxonomyError([f"{path}: not valid {kind}: {exc}"]) from None


def _entries(source: str, document: Any) -> list[_Entry]:
    if not isinstance(document, dict) or not isinstance(document.get("risks"), list):
        raise TaxonomyError([f"{source}: expected a mapping with a 'risks' list at the top level"])
    unknown = sorted(set(document) - {"risks"})
    if unknown:
        raise TaxonomyError([f"{source}: unknown top-level key(s) {', '.join(map(repr, unknown))}"])
    return [_Entry(source, i, raw) for i, raw in enumerate(document["risks"], start=1)]


def _validate(entries: list[_Entry]) -> list[TaxonomyNode]:
    problems: list[str] = []
    nodes: dict[str, TaxonomyNode] = {}
    accepted: list[tuple[_Entry, TaxonomyNode]] = []
    risk_type_owner: dict[str, str] = {}
    for entry in entries:
        node = _check_entry(entry, problems)
        if node is None:
            continue
        if node.id in nodes:
            problems.append(f"{entry.where()}: duplicate id, already defined in {nodes[node.id].source}")
            continue
        for risk_type in node.risk_types:
            owner = risk_type_owner.setdefault(risk_type, node.id)
            if owner != node.id:
                problems.append(f"{entry.where()}: risk_type {risk_type!r} already maps to {owner!r}")
        nodes[node.id] = node
        accepted.append((entry, node))
    # Parents may be defined after their children in a file, so check them once all ids are known.
    for entry, node in accepted:
        if node.parent is not None and node.parent not in nodes:
            problems.append(f"{entry.where()}: unknown parent {node.parent!r}")
    if problems:
        raise TaxonomyError(problems)
    return _tree_order(list(nodes.values()))


def _tree_order(nodes: list[TaxonomyNode]) -> list[TaxonomyNode]:
    """Depth-first, siblings in definition order: every parent precedes its children."""
    by_parent: dict[str | None, list[TaxonomyNode]] = {}
    for node in nodes:
        by_parent.setdefault(node.parent, []).append(node)
    ordered: list[TaxonomyNode] = []

    def walk(parent: str | None) -> None:
        for child in by_parent.get(parent, []):
            ordered.append(child)
            walk(child.id)

    walk(None)
    return ordered


def _check_entry(entry: _Entry, problems: list[str]) -> TaxonomyNode | None:
    raw = entry.raw
    if not isinstance(raw, dict):
        problems.append(f"{entry.where()}: expected a mapping, got {type(raw).__name__}")
        return None
    before = len(problems)
    unknown = sorted(set(raw) - _ENTRY_FIELDS)
    if unknown:
        problems.append(f"{entry.where()}: unknown field(s) {', '.join(map(repr, unknown))}")
    node_id = raw.get("id")
    if not isinstance(node_id, str) or not node_id:
        problems.append(f"{entry.where()}: missing id")
        return None
    parts = node_id.split(".")
    if len(parts) > MAX_DEPTH:
        problems.append(f"{entry.where()}: wrong depth: {len(parts)} levels, the taxonomy has {MAX_DEPTH}")
    elif not _DIMENSION_ID.match(parts[0]) or not all(_KEY.match(p) for p in parts[1:]):
        problems.append(
            f"{entry.where()}: bad id: a dimension is an upper-case code (CI) and each deeper level "
            "adds a snake_case key (CI.drug_crimes)"
        )
    level = raw.get("level")
    if level is not None and level != len(parts):
        problems.append(f"{entry.where()}: wrong depth: level {level!r} given but the id has {len(parts)}")
    name = _text_field(entry, "name", problems, required=True)
    name_zh = _text_field(entry, "name_zh", problems, required=False)
    description = _text_field(entry, "description", problems, required=False)
    risk_types = raw.get("risk_types", [])
    if not isinstance(risk_types, list) or not all(isinstance(r, str) and r for r in risk_types):
        problems.append(f"{entry.where()}: risk_types must be a list of non-empty strings")
        risk_types = []
    if len(problems) > before or name is None:
        return None
    return TaxonomyNode(
        id=node_id,
        name=name,
        name_zh=name_zh,
        level=len(parts),
        parent=".".join(parts[:-1]) or None,
        description=description or "",
        risk_types=tuple(risk_types),
        source=entry.source,
    )


def _text_field(entry: _Entry, key: str, problems: list[str], *, required: bool) -> str | None:
    value = entry.raw.get(key)
    if value is None:
        if required:
            problems.append(f"{entry.where()}: missing {key}")
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{entry.where()}: {key} must be a non-empty string")
        return None
    return value.strip()
