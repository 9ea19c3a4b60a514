"""A copy of a release file with 1% of its lines broken in each of many ways: exactly those lines are
skipped, each with its reason, and every other row still loads (with its attack parent)."""

from __future__ import annotations

import json
import random
import shutil
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.taxonomy import load_taxonomy
from core.types import SkippedRow
from gateway.cli import app
from gateway.suites import SkipReason, iter_cases

ROWS = 10_000
PER_WAY = ROWS // 100  # 1% of the file broken in each way
ATTACK_NAME = "S-Eval_attack_en_small.jsonl"
BASE_NAME = "S-Eval_base_risk_en_small.jsonl.zip"

Row = dict[str, str]


def _dump(row: Mapping[str, object]) -> bytes:
    return json.dumps(row, ensure_ascii=False).encode("utf-8")


def _without(row: Row, key: str) -> bytes:
    return _dump({k: v for k, v in row.items() if k != key})


def _with(row: Row, key: str, value: object) -> bytes:
    return _dump({**row, key: value})


def _undecodable(row: Row) -> bytes:
    raw = _dump(row)
    cut = raw.index(b'"prompt": "') + len(b'"prompt": "')
    return raw[:cut] + b"\xff\xfe\xc3" + raw[cut:]


BREAKERS: dict[str, tuple[SkipReason, Callable[[Row], bytes]]] = {
    "truncated JSON": (SkipReason.INVALID_JSON, lambda row: _dump(row)[:-9]),
    "JSON array": (SkipReason.NOT_OBJECT, lambda row: b'["traceid", "prompt"]'),
    "no traceid": (SkipReason.MISSING_ID, lambda row: _without(row, "traceid")),
    "no prompt": (SkipReason.MISSING_PROMPT, lambda row: _without(row, "prompt")),
    "prompt not text": (SkipReason.MISSING_PROMPT, lambda row: _with(row, "prompt", ["a", "b"])),
    "empty prompt": (SkipReason.EMPTY_PROMPT, lambda row: _with(row, "prompt", "  \t ")),
    "unknown risk_type": (SkipReason.UNKNOWN_RISK, lambda row: _with(row, "risk_type", "Not_A_Risk")),
    "no risk_type": (SkipReason.UNKNOWN_RISK, lambda row: _without(row, "risk_type")),
    "bad UTF-8": (SkipReason.UNDECODABLE, _undecodable),
    "ext not JSON": (SkipReason.BROKEN_EXT, lambda row: _with(row, "ext", '{"model": "attack", "categ')),
    "ext a list": (SkipReason.BROKEN_EXT, lambda row: _with(row, "ext", "[1, 2]")),
    "ext no category": (SkipReason.BROKEN_EXT, lambda row: _with(row, "ext", '{"model": "attack"}')),
    "ext wrong model": (SkipReason.BROKEN_EXT, lambda row: _with(row, "ext", '{"model": "base_risk"}')),
    "ext missing": (SkipReason.BROKEN_EXT, lambda row: _without(row, "ext")),
}


def _corrupt_copy(seval_data: Path, folder: Path, *, zipped: bool) -> tuple[Path, dict[int, str], list[str]]:
    """Write the corrupted attack file (and its English base file beside it) into ``folder``.

    Returns the file, {line: expected reason} and the base traceids in order.
    """
    with zipfile.ZipFile(seval_data / f"{ATTACK_NAME}.zip") as archive:
        lines = archive.read(ATTACK_NAME).splitlines()
    assert len(lines) == ROWS
    with zipfile.ZipFile(seval_data / BASE_NAME) as archive:
        base_ids = [
            json.loads(x)["traceid"] for x in archive.read(BASE_NAME.removesuffix(".zip")).splitlines()
        ]
    shutil.copyfile(seval_data / BASE_NAME, folder / BASE_NAME)

    rng = random.Random(20250412)
    chosen = rng.sample(range(1, ROWS + 1), PER_WAY * (len(BREAKERS) + 1))
    expected: dict[int, str] = {}
    for i, (reason, breaker) in enumerate(BREAKERS.values()):
        for line in chosen[i * PER_WAY : (i + 1) * PER_WAY]:
            lines[line - 1] = breaker(json.loads(lines[line - 1]))
            expected[line] = reason
    # Duplicates repeat the traceid of the nearest earlier row that still loads.
    broken = set(chosen)
    for line in chosen[len(BREAKERS) * PER_WAY :]:
        source = max((n for n in range(1, line) if n not in broken), default=None)
        if source is None:
            continue
        row = json.loads(lines[line - 1])
        lines[line - 1] = _with(row, "traceid", json.loads(lines[source - 1])["traceid"])
        expected[line] = SkipReason.DUPLICATE_ID

    data = b"\n".join(lines) + b"\n"
    if zipped:
        path = folder / f"{ATTACK_NAME}.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(ATTACK_NAME, data)
            archive.writestr(f"__MACOSX/._{ATTACK_NAME}", b"\x00\x05\x16\x07")
    else:
        path = folder / ATTACK_NAME
        path.write_bytes(data)
    return path, expected, base_ids


@pytest.mark.parametrize("zipped", [False, True], ids=["jsonl", "jsonl.zip"])
def test_exactly_the_broken_lines_are_skipped_with_their_reasons(
    seval_data: Path, tmp_path: Path, zipped: bool
) -> None:
    path, expected, _ = _corrupt_copy(seval_data, tmp_path, zipped=zipped)
    assert len(expected) >= PER_WAY * (len(BREAKERS) + 1) - 5

    result = CliRunner().invoke(app, ["suite", "inspect", "--json", str(path)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)

    assert report["loaded"] == ROWS - len(expected)
    assert report["skipped"] == len(expected)
    assert report["files"] == {str(path): {"loaded": ROWS - len(expected), "skipped": len(expected)}}
    got = {row["line"]: row["reason"] for row in report["skipped_rows"]}
    assert all(row["file"] == str(path) for row in report["skipped_rows"])
    assert sorted(got) == sorted(expected)
    wrong = {
        line: (got[line], str(reason))
        for line, reason in expected.items()
        if got[line].split(":")[0] != reason
    }
    assert wrong == {}
    # Every surviving attack row still pairs with its base row: line positions are not shifted.
    assert report["attack_parents"] == report["loaded"]


def test_surviving_rows_keep_their_parents_and_reasons_stay_short(seval_data: Path, tmp_path: Path) -> None:
    path, expected, base_ids = _corrupt_copy(seval_data, tmp_path, zipped=True)
    skipped: list[SkippedRow] = []
    cases = list(iter_cases([path], taxonomy=load_taxonomy(), on_skip=skipped.append))
    assert len(cases) == ROWS - len(expected)
    assert [c.line for c in cases] == [n for n in range(1, ROWS + 1) if n not in expected]
    assert [c.parent_id for c in cases] == [base_ids[(c.line - 1) % 1_000] for c in cases]
    # A reason names the problem, never quotes a prompt.
    assert max(len(r.reason) for r in skipped) < 120
