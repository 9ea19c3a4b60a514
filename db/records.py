"""Conversion between ``core.types`` records and plain row dicts for the store's tables.

Hot paths (responses, verdicts) build dicts from a precomputed field list: no ORM objects, no
``dataclasses.asdict`` deep copies. Text that reaches the database is made storable here: NUL bytes
are stripped (Postgres rejects them in text) and long text is capped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from operator import attrgetter
from typing import Any

from core.types import (
    Case,
    CaseKind,
    Outcome,
    PendingCritique,
    ResponseRecord,
    SkippedRow,
    Verdict,
)

_RESPONSE_FIELDS = tuple(f.name for f in dataclasses.fields(ResponseRecord))
_response_values = attrgetter(*_RESPONSE_FIELDS)
# Vendor-supplied short strings go into bounded VARCHAR columns; Postgres enforces the bound.
_FINISH_REASON_MAX = 100
_VENDOR_CODE_MAX = 200
_SOURCE_MAX = 500


def clean_text(text: str, max_chars: int | None = None) -> tuple[str, bool]:
    """``text`` made storable: NUL bytes removed, cut to ``max_chars`` (when given), surrogate code
    points paired up or replaced; and whether it was cut.

    Surrogates reach us when a vendor escapes an emoji as a UTF-16 pair split across two stream
    chunks; no database accepts them as text.
    """
    if "\x00" in text:
        text = text.replace("\x00", "")
    cut = max_chars is not None and len(text) > max_chars
    if cut:
        text = text[:max_chars]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text, cut


def _clean_opt(text: str | None, max_chars: int) -> str | None:
    if text is None:
        return None
    return clean_text(text, max_chars)[0]


def response_to_row(rec: ResponseRecord, max_chars: int, now: datetime) -> dict[str, Any]:
    """A ``responses`` row for ``rec``: NUL-free, capped text (``truncated`` set when cut)."""
    row = dict(zip(_RESPONSE_FIELDS, _response_values(rec), strict=True))
    text, cut = clean_text(rec.text, max_chars)
    row["text"] = text
    row["truncated"] = rec.truncated or cut
    row["outcome"] = rec.outcome.value
    row["error"] = _clean_opt(rec.error, max_chars)
    row["finish_reason"] = _clean_opt(rec.finish_reason, _FINISH_REASON_MAX)
    row["vendor_code"] = _clean_opt(rec.vendor_code, _VENDOR_CODE_MAX)
    row["block_category"] = _clean_opt(rec.block_category, _VENDOR_CODE_MAX)
    row["created_at"] = now
    return row


def row_to_response(row: Mapping[Any, Any]) -> ResponseRecord:
    """The ``ResponseRecord`` stored in a ``responses`` row."""
    values = {name: row[name] for name in _RESPONSE_FIELDS}
    values["outcome"] = Outcome(values["outcome"])
    values["truncated"] = bool(values["truncated"])
    return ResponseRecord(**values)


def case_to_row(case: Case) -> dict[str, Any]:
    """A ``cases`` row for ``case``; provenance pairs become a JSON object (order kept)."""
    text = clean_text(case.text)[0]
    return {
        "id": case.id,
        "lang": case.lang,
        "text": text,
        "text_sha": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "dimension": case.dimension,
        "risk_id": case.risk_id,
        "kind": case.kind.value,
        "attack": case.attack,
        "parent_id": case.parent_id,
        "twin_id": case.twin_id,
        "source": clean_text(case.source, _SOURCE_MAX)[0],
        "line": case.line,
        "provenance_json": json.dumps(dict(case.provenance), ensure_ascii=False),
    }


def row_to_case(row: Mapping[Any, Any]) -> Case:
    """The ``Case`` stored in a ``cases`` row."""
    provenance = json.loads(row["provenance_json"])
    return Case(
        id=row["id"],
        lang=row["lang"],
        text=row["text"],
        dimension=row["dimension"],
        risk_id=row["risk_id"],
        kind=CaseKind(row["kind"]),
        attack=row["attack"],
        parent_id=row["parent_id"],
        twin_id=row["twin_id"],
        source=row["source"],
        line=row["line"],
        provenance=tuple((str(k), str(v)) for k, v in provenance.items()),
    )


def verdict_to_row(run_id: str, verdict: Verdict, max_chars: int, now: datetime) -> dict[str, Any]:
    """A ``verdicts`` row; ``Verdict.id`` is the work key, risk tags become a JSON list."""
    return {
        "run_id": run_id,
        "work_key": verdict.id,
        "critic": verdict.critic,
        "critic_version": verdict.critic_version,
        "status": verdict.status.value,
        "label": verdict.label.value if verdict.label is not None else None,
        "risk_score": verdict.risk_score,
        "risk_tags_json": json.dumps(list(verdict.risk_tags), ensure_ascii=False),
        "explanation": clean_text(verdict.explanation, max_chars)[0],
        "error": _clean_opt(verdict.error, max_chars),
        "created_at": now,
    }


def skipped_to_row(run_id: str, skipped: SkippedRow) -> dict[str, Any]:
    """A ``skipped_rows`` row."""
    return {
        "run_id": run_id,
        "file": clean_text(skipped.file, _SOURCE_MAX)[0],
        "line": skipped.line,
        "reason": clean_text(skipped.reason)[0],
    }


def row_to_pending(run_id: str, row: Mapping[Any, Any]) -> PendingCritique:
    """A ``PendingCritique`` from a responses-joined-cases row."""
    return PendingCritique(
        run_id=run_id,
        work_key=row["work_key"],
        prompt=row["prompt"],
        response=row["text"],
        lang=row["lang"],
        dimension=row["dimension"],
    )
