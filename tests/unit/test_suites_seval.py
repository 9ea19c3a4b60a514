"""Loading the real S-Eval release files: exact counts, attack-to-base pairing, twins.

Assertions compare ids and counts only; no prompt text is ever printed.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from attacks.registry import SEVAL_ATTACKS
from core.taxonomy import Taxonomy, load_taxonomy
from core.types import Case, CaseKind, SkippedRow
from gateway.cli import app
from gateway.suites import iter_cases

EXPECTED_ROWS = {
    **{f"S-Eval_base_risk_{lang}_small.jsonl.zip": 1_000 for lang in ("en", "zh")},
    **{f"S-Eval_base_risk_{lang}_medium.jsonl.zip": 3_000 for lang in ("en", "zh")},
    **{f"S-Eval_base_risk_{lang}_large.jsonl.zip": 5_000 for lang in ("en", "zh")},
    **{f"S-Eval_base_risk_{lang}_full.jsonl.zip": 10_000 for lang in ("en", "zh")},
    **{f"S-Eval_attack_{lang}_small.jsonl.zip": 10_000 for lang in ("en", "zh")},
}


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


def raw_rows(path: Path) -> Iterator[dict[str, str]]:
    """The release file's rows, read independently of the loader under test."""
    with zipfile.ZipFile(path) as archive, archive.open(path.name.removesuffix(".zip")) as member:
        for line in member:
            yield orjson.loads(line)


def load(paths: list[Path], taxonomy: Taxonomy) -> tuple[list[Case], list[SkippedRow]]:
    skipped: list[SkippedRow] = []
    cases = list(iter_cases(paths, taxonomy=taxonomy, on_skip=skipped.append))
    return cases, skipped


def test_inspect_every_release_file_reports_exact_counts(seval_data: Path) -> None:
    result = CliRunner().invoke(app, ["suite", "inspect", "--json", str(seval_data)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    files = {Path(name).name: counts for name, counts in report["files"].items()}
    assert files == {name: {"loaded": rows, "skipped": 0} for name, rows in EXPECTED_ROWS.items()}
    assert report["loaded"] == sum(EXPECTED_ROWS.values())
    assert report["skipped"] == 0
    assert report["skipped_rows"] == []
    assert report["by_attack"] == {attack: 2_000 for attack in SEVAL_ATTACKS}
    assert report["by_kind"] == {"attack": 20_000, "base": 38_000}
    assert report["by_language"] == {"en": 29_000, "zh": 29_000}
    assert set(report["by_dimension"]) == {"CI", "CS", "DP", "EM", "PM", "HS", "EX", "IS"}
    assert report["attack_parents"] == 20_000


def test_base_rows(seval_data: Path, taxonomy: Taxonomy) -> None:
    path = seval_data / "S-Eval_base_risk_zh_small.jsonl.zip"
    cases, skipped = load([path], taxonomy)
    assert skipped == []
    raw = list(raw_rows(path))
    assert [c.id for c in cases] == [r["traceid"] for r in raw]
    assert [c.line for c in cases] == list(range(1, 1_001))
    # Compared as a list of mismatching lines so a failure never prints prompt text.
    assert [c.line for c, r in zip(cases, raw, strict=True) if c.text != r["prompt"]] == []
    for case, row in zip(cases, raw, strict=True):
        assert case.dimension == taxonomy.dimension_for_risk_type(row["risk_type"])
        assert case.risk_id == case.dimension
        assert (case.lang, case.kind, case.attack, case.parent_id, case.twin_id) == (
            "zh",
            CaseKind.BASE,
            None,
            None,
            None,
        )
        assert case.source == str(path)


def test_english_base_rows_point_at_their_chinese_twin(seval_data: Path, taxonomy: Taxonomy) -> None:
    zh_full = {
        r["traceid"]: r["risk_type"] for r in raw_rows(seval_data / "S-Eval_base_risk_zh_full.jsonl.zip")
    }
    cases, skipped = load([seval_data / "S-Eval_base_risk_en_full.jsonl.zip"], taxonomy)
    assert skipped == []
    assert len(cases) == 10_000
    for case in cases:
        assert case.lang == "en"
        assert case.twin_id in zh_full
        assert taxonomy.dimension_for_risk_type(zh_full[case.twin_id]) == case.dimension


def test_english_attack_rows_pair_with_the_same_row_of_base_en_small(
    seval_data: Path, taxonomy: Taxonomy
) -> None:
    base = [r["traceid"] for r in raw_rows(seval_data / "S-Eval_base_risk_en_small.jsonl.zip")]
    base_dims = {
        c.id: c.dimension for c in load([seval_data / "S-Eval_base_risk_en_small.jsonl.zip"], taxonomy)[0]
    }
    cases, skipped = load([seval_data / "S-Eval_attack_en_small.jsonl.zip"], taxonomy)
    assert skipped == []
    assert len(cases) == 10_000
    for index, case in enumerate(cases):
        block, row = divmod(index, 1_000)
        assert (case.kind, case.lang, case.attack) == (CaseKind.ATTACK, "en", SEVAL_ATTACKS[block])
        assert case.parent_id == base[row]
        assert base_dims[base[row]] == case.dimension


def test_chinese_attack_rows_pair_with_the_twin_of_the_english_row(
    seval_data: Path, taxonomy: Taxonomy
) -> None:
    twins = [
        orjson.loads(r["ext"])["from_traceid"]
        for r in raw_rows(seval_data / "S-Eval_base_risk_en_small.jsonl.zip")
    ]
    zh_small = [r["traceid"] for r in raw_rows(seval_data / "S-Eval_base_risk_zh_small.jsonl.zip")]
    zh_dims = {
        c.id: c.dimension for c in load([seval_data / "S-Eval_base_risk_zh_small.jsonl.zip"], taxonomy)[0]
    }
    cases, skipped = load([seval_data / "S-Eval_attack_zh_small.jsonl.zip"], taxonomy)
    assert skipped == []
    assert len(cases) == 10_000
    for index, case in enumerate(cases):
        block, row = divmod(index, 1_000)
        assert (case.kind, case.lang, case.attack) == (CaseKind.ATTACK, "zh", SEVAL_ATTACKS[block])
        assert case.parent_id == twins[row]
        assert zh_dims[twins[row]] == case.dimension
    # The Chinese file follows the English order, not base_risk_zh_small's: row i is mostly not zh row i.
    assert sum(c.parent_id == zh_small[i % 1_000] for i, c in enumerate(cases)) < 1_000


def test_without_the_english_base_file_parents_stay_unknown(
    seval_data: Path, taxonomy: Taxonomy, tmp_path: Path
) -> None:
    copy = tmp_path / "S-Eval_attack_zh_small.jsonl.zip"
    shutil.copyfile(seval_data / copy.name, copy)
    cases, skipped = load([copy], taxonomy)
    assert skipped == []
    assert len(cases) == 10_000
    assert all(c.parent_id is None for c in cases)


def test_a_bad_base_row_loses_only_its_own_attack_parents(
    seval_data: Path, taxonomy: Taxonomy, tmp_path: Path
) -> None:
    base_lines = [json.dumps(r) for r in raw_rows(seval_data / "S-Eval_base_risk_en_small.jsonl.zip")]
    base_lines[4] = "{broken"
    # Unzipped sibling, and a trailing blank line that must not count as a row.
    (tmp_path / "S-Eval_base_risk_en_small.jsonl").write_text(
        "\n".join(base_lines) + "\n\n", encoding="utf-8"
    )
    attack = tmp_path / "S-Eval_attack_en_small.jsonl.zip"
    shutil.copyfile(seval_data / attack.name, attack)
    cases, skipped = load([attack], taxonomy)
    assert skipped == []
    orphans = [i for i, c in enumerate(cases) if c.parent_id is None]
    assert orphans == [block * 1_000 + 4 for block in range(10)]
