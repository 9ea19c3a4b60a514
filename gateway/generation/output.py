"""Suite rows as the loader reads them: S-Eval's JSONL shape, with provenance inside ``ext``.

``{"traceid", "risk_type", "prompt", "lang", "ext": {"model": "base_risk" | "attack", ...}}``.
``risk_type`` holds the taxonomy id (the S-Eval reader resolves ids as well as release names);
extra ``ext`` keys are provenance the loader leaves alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import orjson

from core.types import Case, CaseKind


def suite_row(
    *,
    case_id: str,
    risk_id: str,
    lang: str,
    text: str,
    kind: CaseKind = CaseKind.BASE,
    attack: str | None = None,
    twin_id: str | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One suite row."""
    ext: dict[str, Any] = {"model": "base_risk" if kind is CaseKind.BASE else "attack"}
    if attack is not None:
        ext["category"] = attack
    if twin_id is not None:
        ext["from_traceid"] = twin_id
    if provenance:
        ext.update(provenance)
    return {"traceid": case_id, "risk_type": risk_id, "prompt": text, "lang": lang, "ext": ext}


def case_row(case: Case) -> dict[str, Any]:
    """A loaded case written back as a suite row (its provenance kept)."""
    return suite_row(
        case_id=case.id,
        risk_id=case.risk_id,
        lang=case.lang,
        text=case.text,
        kind=case.kind,
        attack=case.attack,
        twin_id=case.twin_id,
        provenance=case.provenance_dict(),
    )


def write_rows(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write rows as JSONL (through a temporary file, so a failure leaves no half suite); returns rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with tmp.open("wb") as fh:
        n = _dump(fh, rows)
    tmp.replace(path)
    return n


def _dump(fh: IO[bytes], rows: Iterable[Mapping[str, Any]]) -> int:
    n = 0
    for row in rows:
        fh.write(orjson.dumps(row))
        fh.write(b"\n")
        n += 1
    return n
