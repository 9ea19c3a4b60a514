"""Reader for S-Eval release files (``S-Eval_{base_risk,attack}_{en,zh}_{scale}.jsonl[.zip]``).

Each line is ``{"traceid", "risk_type", "prompt", "ext"}`` where ``ext`` is a JSON string:
``{"model": "base_risk"}`` for base rows (English rows add ``from_traceid``, the Chinese twin) and
``{"model": "attack", "category": "<attack>"}`` for attack rows. Language comes from the file name
(from the text's script when the name does not follow the release convention); the kind comes
from ``ext`` and must agree with the file name.

Attack parents: an attack file is 10 blocks, one per attack in ``attacks.registry.SEVAL_ATTACKS``
order, each as long as the base file of the same scale. Row i of every block of the English file
derives from row i of ``S-Eval_base_risk_en_<scale>``; row i of every block of the Chinese file
derives from the Chinese twin of that English row (its ``from_traceid``). So both need the English
base file of the same scale beside the attack file; without it (or for a row whose block does not
hold the expected attack) ``parent_id`` stays None. Pairing uses physical line numbers, so skipped
rows elsewhere do not shift it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from attacks.registry import SEVAL_ATTACKS
from core.taxonomy import Taxonomy
from core.types import Case, CaseKind, SkippedRow
from gateway.suites.rows import (
    RowError,
    SeenIds,
    SkipHandler,
    SkipReason,
    detect_lang,
    load_json_object,
    normalize_lang,
    preview,
)
from gateway.suites.sources import SuiteError, SuiteFile, iter_lines

_RELEASE_NAME = re.compile(r"^S-Eval_(base_risk|attack)_(en|zh)_(small|medium|large|full)\.jsonl$")
_EXT_MODELS = {"base_risk": CaseKind.BASE, "attack": CaseKind.ATTACK}


@dataclass(frozen=True, slots=True)
class ReleaseName:
    """What an S-Eval release file name says: kind, language and scale."""

    kind: CaseKind
    lang: str
    scale: str

    @classmethod
    def parse(cls, inner_name: str) -> ReleaseName | None:
        """Parse ``S-Eval_attack_zh_small.jsonl``; None for any other name."""
        match = _RELEASE_NAME.match(inner_name)
        if match is None:
            return None
        kind = CaseKind.BASE if match[1] == "base_risk" else CaseKind.ATTACK
        return cls(kind, match[2], match[3])


def is_release_file(file: SuiteFile) -> bool:
    """True when the file is named like an S-Eval release file."""
    return file.path is not None and ReleaseName.parse(file.inner_name) is not None


def iter_seval(file: SuiteFile, *, taxonomy: Taxonomy, on_skip: SkipHandler) -> Iterator[Case]:
    """Stream the cases of one S-Eval-format file; bad rows go to ``on_skip``."""
    release = ReleaseName.parse(file.inner_name)
    parents = None
    if release is not None and release.kind is CaseKind.ATTACK and file.path is not None:
        parents = _ParentTable.for_attack_file(file.path, release)
    seen = SeenIds()
    for line, raw in iter_lines(file):
        if not raw.strip():
            continue
        try:
            yield _parse_row(file, line, raw, release, parents, seen, taxonomy)
        except RowError as exc:
            on_skip(SkippedRow(file.name, line, str(exc)))


def _parse_row(
    file: SuiteFile,
    line: int,
    raw: bytes,
    release: ReleaseName | None,
    parents: _ParentTable | None,
    seen: SeenIds,
    taxonomy: Taxonomy,
) -> Case:
    row = load_json_object(raw)
    traceid = row.get("traceid")
    if not isinstance(traceid, str) or not traceid.strip():
        raise RowError(SkipReason.MISSING_ID, "no traceid")
    prompt = row.get("prompt")
    if prompt is None:
        raise RowError(SkipReason.MISSING_PROMPT)
    if not isinstance(prompt, str):
        raise RowError(SkipReason.MISSING_PROMPT, f"prompt is a {type(prompt).__name__}, not a string")
    if not prompt.strip():
        raise RowError(SkipReason.EMPTY_PROMPT)
    risk_type = row.get("risk_type")
    # A taxonomy id is accepted too: generated and selected suites name deeper nodes that way.
    node = None
    if isinstance(risk_type, str):
        node = taxonomy.node_for_risk_type(risk_type) or taxonomy.get(risk_type)
    if node is None:
        raise RowError(SkipReason.UNKNOWN_RISK, preview(risk_type))
    kind, attack, twin = _parse_ext(row.get("ext"))
    if release is not None and kind is not release.kind:
        raise RowError(SkipReason.BROKEN_EXT, f"model says {kind} but the file name says {release.kind}")
    seen.check(traceid, line)
    return Case(
        id=traceid,
        lang=release.lang if release else _row_lang(row.get("lang"), prompt),
        text=prompt,
        dimension=node.dimension,
        risk_id=node.id,
        kind=kind,
        attack=attack,
        parent_id=parents.parent_of(line, attack) if parents and attack else None,
        twin_id=twin,
        source=file.name,
        line=line,
    )


def _row_lang(value: object, prompt: str) -> str:
    """A row's own ``lang`` field when it has a usable one, else the language of its text."""
    lang = normalize_lang(value) if isinstance(value, str) else None
    return lang or detect_lang(prompt)


def _parse_ext(ext: object) -> tuple[CaseKind, str | None, str | None]:
    """``(kind, attack name, twin id)`` from the ``ext`` field (a JSON string, or an object)."""
    if isinstance(ext, str):
        try:
            ext = orjson.loads(ext)
        except orjson.JSONDecodeError:
            raise RowError(SkipReason.BROKEN_EXT, "not valid JSON") from None
    if not isinstance(ext, dict):
        raise RowError(SkipReason.BROKEN_EXT, "missing" if ext is None else "not a JSON object")
    model = ext.get("model")
    kind = _EXT_MODELS.get(model) if isinstance(model, str) else None
    if kind is None:
        raise RowError(SkipReason.BROKEN_EXT, f"model {preview(model)} is neither base_risk nor attack")
    twin = ext.get("from_traceid")
    if twin is not None and (not isinstance(twin, str) or not twin):
        raise RowError(SkipReason.BROKEN_EXT, "from_traceid is not a non-empty string")
    if kind is CaseKind.BASE:
        return kind, None, twin
    attack = ext.get("category")
    if not isinstance(attack, str) or not attack.strip():
        raise RowError(SkipReason.BROKEN_EXT, "attack row without a category")
    return kind, attack.strip(), None


class _ParentTable:
    """Base case id for each row index of one attack block, read from the English base file."""

    __slots__ = ("_ids",)

    def __init__(self, ids: list[str | None]) -> None:
        self._ids = ids

    @classmethod
    def for_attack_file(cls, path: Path, release: ReleaseName) -> _ParentTable | None:
        """The table from the English base file of the same scale beside ``path``; None without one."""
        stem = f"S-Eval_base_risk_en_{release.scale}.jsonl"
        for candidate in (path.with_name(stem), path.with_name(stem + ".zip")):
            if candidate.is_file():
                base = SuiteFile(str(candidate), candidate, "jsonl")
                ids: list[str | None] = []
                rows = 0  # trailing blank lines are not rows; counting them would shift every block
                try:
                    for _, raw in iter_lines(base):
                        blank = not raw.strip()
                        ids.append(None if blank else _base_parent_id(raw, want_twin=release.lang != "en"))
                        rows = rows if blank else len(ids)
                except SuiteError:
                    return None
                return cls(ids[:rows]) if rows else None
        return None

    def parent_of(self, line: int, attack: str) -> str | None:
        block, row = divmod(line - 1, len(self._ids))
        if block >= len(SEVAL_ATTACKS) or SEVAL_ATTACKS[block] != attack:
            return None
        return self._ids[row]


def _base_parent_id(raw: bytes, *, want_twin: bool) -> str | None:
    """An English base row's traceid (English attacks) or from_traceid (Chinese attacks)."""
    try:
        row = load_json_object(raw)
        _, _, twin = _parse_ext(row.get("ext"))
    except RowError:
        return None
    value = twin if want_twin else row.get("traceid")
    return value if isinstance(value, str) and value else None
