"""Reader for generic JSONL and CSV suites, with a ``ColumnMapping`` saying which column is which.

JSONL: one JSON object per line; columns are top-level keys. CSV: UTF-8, a header row, RFC 4180
quoting (a quoted field may span lines; a row is cited by the line it starts on).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from core.taxonomy import Taxonomy, TaxonomyNode
from core.types import Case, CaseKind, SkippedRow, stable_hash
from gateway.suites.mapping import ColumnMapping
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

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Constants:
    """A mapping's constants, checked once per file instead of once per row."""

    lang: str | None
    risk: TaxonomyNode | None
    kind: CaseKind | None
    attack: str | None

    @classmethod
    def check(cls, mapping: ColumnMapping, taxonomy: Taxonomy, file: SuiteFile) -> _Constants:
        try:
            lang = _lang(mapping.fixed_lang) if mapping.fixed_lang else None
            kind = _kind(mapping.fixed_kind) if mapping.fixed_kind else None
        except RowError as exc:
            raise SuiteError(f"{file.name}: mapping constant: {exc}") from None
        risk = None
        if mapping.fixed_risk is not None:
            risk = taxonomy.resolve(mapping.fixed_risk)
            if risk is None:
                raise SuiteError(
                    f"{file.name}: mapping constant risk:={mapping.fixed_risk} is not in the taxonomy"
                )
        return cls(lang, risk, kind, mapping.fixed_attack)


def iter_generic(
    file: SuiteFile, *, mapping: ColumnMapping, taxonomy: Taxonomy, on_skip: SkipHandler
) -> Iterator[Case]:
    """Stream the cases of one generic JSONL or CSV file; bad rows go to ``on_skip``."""
    constants = _Constants.check(mapping, taxonomy, file)
    records = _jsonl_records(file) if file.format == "jsonl" else _csv_records(file, mapping)
    seen = SeenIds()
    for line, record in records:
        try:
            if isinstance(record, RowError):
                raise record
            yield _case(file, line, record, mapping, constants, taxonomy, seen)
        except RowError as exc:
            on_skip(SkippedRow(file.name, line, str(exc)))


def _jsonl_records(file: SuiteFile) -> Iterator[tuple[int, Record | RowError]]:
    for line, raw in iter_lines(file):
        if not raw.strip():
            continue
        try:
            yield line, load_json_object(raw)
        except RowError as exc:
            yield line, exc


def _csv_records(file: SuiteFile, mapping: ColumnMapping) -> Iterator[tuple[int, Record | RowError]]:
    # Undecodable bytes survive decoding as lone surrogates so that only their row is lost.
    text_lines = (raw.decode("utf-8", "surrogateescape") + "\n" for _, raw in iter_lines(file))
    reader = csv.reader(text_lines, strict=True)
    header: list[str] | None = None
    end = 0
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            end = reader.line_num
            yield start, RowError(SkipReason.MALFORMED_CSV, str(exc))
            continue
        end = reader.line_num
        if not row:
            continue
        if header is None:
            header = _header(file, row, mapping)
            continue
        if _has_surrogates(row):
            yield start, RowError(SkipReason.UNDECODABLE, "not UTF-8")
        elif len(row) != len(header):
            yield (
                start,
                RowError(SkipReason.MALFORMED_CSV, f"{len(row)} fields, the header has {len(header)}"),
            )
        else:
            yield start, dict(zip(header, row, strict=True))
    if header is None:
        raise SuiteError(f"{file.name}: empty CSV file (no header row)")


def _header(file: SuiteFile, row: list[str], mapping: ColumnMapping) -> list[str]:
    if _has_surrogates(row):
        raise SuiteError(f"{file.name}: the CSV header is not UTF-8")
    header = [cell.strip() for cell in row]
    missing = sorted(set(mapping.columns().values()) - set(header))
    if missing:
        raise SuiteError(
            f"{file.name}: mapped column(s) {', '.join(map(repr, missing))} not in the CSV header "
            f"(columns: {', '.join(header)})"
        )
    return header


def _has_surrogates(row: list[str]) -> bool:
    try:
        "".join(row).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _case(
    file: SuiteFile,
    line: int,
    record: Record,
    mapping: ColumnMapping,
    constants: _Constants,
    taxonomy: Taxonomy,
    seen: SeenIds,
) -> Case:
    text = record.get(mapping.text)
    if text is None:
        raise RowError(SkipReason.MISSING_PROMPT, f"no {mapping.text!r}")
    if not isinstance(text, str):
        raise RowError(
            SkipReason.MISSING_PROMPT, f"{mapping.text!r} is a {type(text).__name__}, not a string"
        )
    if not text.strip():
        raise RowError(SkipReason.EMPTY_PROMPT)
    lang_cell = _cell(record, mapping.lang)
    lang = _lang(lang_cell) if lang_cell else constants.lang or detect_lang(text)
    risk = constants.risk
    if mapping.risk is not None:
        label = _cell(record, mapping.risk)
        risk = taxonomy.resolve(label) if label else None
        if risk is None:
            raise RowError(SkipReason.UNKNOWN_RISK, f"{mapping.risk!r} is {preview(label)}")
    assert risk is not None  # ColumnMapping requires a risk column or constant
    attack = _cell(record, mapping.attack) or constants.attack
    kind_cell = _cell(record, mapping.kind)
    kind = _kind(kind_cell) if kind_cell else constants.kind
    kind = kind or (CaseKind.ATTACK if attack else CaseKind.BASE)
    if kind is CaseKind.ATTACK and not attack:
        raise RowError(SkipReason.BAD_VALUE, "an attack row without an attack name")
    if kind is CaseKind.BASE and attack:
        raise RowError(SkipReason.BAD_VALUE, "a base row with an attack name")
    case_id = (_cell(record, mapping.id) if mapping.id else stable_hash(lang, text)) or ""
    seen.check(case_id, line)  # rejects a blank id cell
    return Case(
        id=case_id,
        lang=lang,
        text=text,
        dimension=risk.dimension,
        risk_id=risk.id,
        kind=kind,
        attack=attack,
        parent_id=_cell(record, mapping.parent),
        twin_id=_cell(record, mapping.twin),
        source=file.name,
        line=line,
    )


def _cell(record: Record, column: str | None) -> str | None:
    """A column's value as stripped text; None when unmapped, absent or blank."""
    if column is None:
        return None
    value = record.get(column)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RowError(SkipReason.BAD_VALUE, f"{column!r} is a {type(value).__name__}")
    return str(value).strip() or None


def _lang(value: str) -> str:
    lang = normalize_lang(value)
    if lang is None:
        raise RowError(SkipReason.BAD_VALUE, f"language {preview(value)}")
    return lang


def _kind(value: str) -> CaseKind:
    try:
        return CaseKind(value.strip().lower())
    except ValueError:
        raise RowError(SkipReason.BAD_VALUE, f"kind {preview(value)} is neither base nor attack") from None
