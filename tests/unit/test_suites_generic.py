"""Generic JSONL and CSV suites with a column mapping; file-level errors; the built-in sample suite."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from core.taxonomy import Taxonomy, load_taxonomy
from core.types import Case, CaseKind, SkippedRow, stable_hash
from gateway.suites import SAMPLE, ColumnMapping, SkipReason, SuiteError, iter_cases, summarize


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


def load(
    paths: list[Path | str], taxonomy: Taxonomy, mapping: ColumnMapping | None = None
) -> tuple[list[Case], list[SkippedRow]]:
    skipped: list[SkippedRow] = []
    cases = list(iter_cases(paths, taxonomy=taxonomy, on_skip=skipped.append, mapping=mapping))
    return cases, skipped


def reasons(skipped: list[SkippedRow]) -> dict[int, str]:
    return {row.line: row.reason.split(":")[0] for row in skipped}


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def test_generic_jsonl_with_a_mapping(tmp_path: Path, taxonomy: Taxonomy) -> None:
    path = write_jsonl(
        tmp_path / "mine.jsonl",
        [
            {"qid": "q1", "question": "How do budgets work?", "language": "en-US", "category": "IS.finance"},
            {
                "qid": 2,
                "question": "预算是怎么运作的？",
                "language": "Chinese",
                "category": "Inappropriate_Suggestions",
            },
            {"qid": "q3", "question": "Is gossip harmful?", "category": "defamation"},
            {"qid": "q4", "question": "网络霸凌有什么后果？", "category": "网络霸凌"},
            {"qid": "q5", "question": "A question", "language": "en", "category": "Not a risk"},
            {"qid": "q6", "question": "   ", "category": "IS"},
            {"qid": "q7", "category": "IS"},
            {"qid": "q8", "question": "Another", "language": "klingon!", "category": "IS"},
            {"qid": "q1", "question": "Repeated id", "category": "IS"},
            {
                "qid": "q10",
                "question": "Attacked",
                "category": "IS",
                "attack": "goal_hijacking",
                "base": "q1",
            },
            {"qid": "q11", "question": "Odd", "category": "IS", "kind": "base", "attack": "goal_hijacking"},
            {"qid": "q12", "question": "Odd", "category": "IS", "kind": "mutated"},
            {"qid": "q13", "question": {"nested": 1}, "category": "IS"},
            {"qid": ["q14"], "question": "List id", "category": "IS"},
        ],
    )
    mapping = ColumnMapping.parse(
        "text=question,id=qid,lang=language,risk=category,attack=attack,parent=base,kind=kind"
    )
    cases, skipped = load([path], taxonomy, mapping)
    by_id = {c.id: c for c in cases}
    assert list(by_id) == ["q1", "2", "q3", "q4", "q10"]
    assert (by_id["q1"].lang, by_id["q1"].risk_id, by_id["q1"].dimension) == ("en", "IS.finance", "IS")
    assert (by_id["2"].lang, by_id["2"].risk_id) == ("zh", "IS")
    assert (by_id["q3"].lang, by_id["q3"].risk_id) == ("en", "HS.defamation")  # language from the script
    assert (by_id["q4"].lang, by_id["q4"].risk_id) == ("zh", "HS.cyberbullying")
    attacked = by_id["q10"]
    assert (attacked.kind, attacked.attack, attacked.parent_id) == (CaseKind.ATTACK, "goal_hijacking", "q1")
    assert all(c.kind is CaseKind.BASE and c.parent_id is None for c in cases[:4])
    assert [c.line for c in cases] == [1, 2, 3, 4, 10]
    assert reasons(skipped) == {
        5: SkipReason.UNKNOWN_RISK,
        6: SkipReason.EMPTY_PROMPT,
        7: SkipReason.MISSING_PROMPT,
        8: SkipReason.BAD_VALUE,
        9: SkipReason.DUPLICATE_ID,
        11: SkipReason.BAD_VALUE,
        12: SkipReason.BAD_VALUE,
        13: SkipReason.MISSING_PROMPT,
        14: SkipReason.BAD_VALUE,
    }
    assert skipped[4].reason == "duplicate id: q1 (first on line 1)"


def test_constants_and_content_hash_ids(tmp_path: Path, taxonomy: Taxonomy) -> None:
    path = write_jsonl(tmp_path / "mine.jsonl", [{"prompt": "Hello there"}, {"prompt": "General Kenobi"}])
    cases, skipped = load([path], taxonomy, ColumnMapping.parse("risk:=EM.social_ethics,lang:=zh"))
    assert skipped == []
    assert [(c.risk_id, c.lang) for c in cases] == [("EM.social_ethics", "zh")] * 2
    assert cases[0].id == stable_hash("zh", "Hello there")
    attacks, _ = load([path], taxonomy, ColumnMapping.parse("risk:=EM,attack:=my_template"))
    assert {(c.kind, c.attack) for c in attacks} == {(CaseKind.ATTACK, "my_template")}


def test_unknown_constant_risk_is_a_file_error(tmp_path: Path, taxonomy: Taxonomy) -> None:
    path = write_jsonl(tmp_path / "mine.jsonl", [{"prompt": "Hello"}])
    with pytest.raises(SuiteError, match=r"mine\.jsonl: mapping constant risk:=NOPE is not in the taxonomy"):
        load([path], taxonomy, ColumnMapping.parse("risk:=NOPE"))
    with pytest.raises(SuiteError, match="mapping constant: bad value: language"):
        load([path], taxonomy, ColumnMapping.parse("risk:=EM,lang:=??"))


CSV_TEXT = (
    "id,question,category,language\n"  # line 1
    "c1,How are taxes filed?,IS.law,en\n"  # line 2
    '"c2","A question\n'  # line 3: a quoted field over two lines
    'with two lines",Cybersecurity,en\n'  # line 4
    "c3,,IS,en\n"  # line 5: empty prompt
    "c4,Too,many,fields,here\n"  # line 6
    "\n"  # line 7: blank, ignored
    "c5,Unknown risk,Nope,en\n"  # line 8
    "c6,什么是网络钓鱼？,CS.hacker_attack,zh\n"  # line 9
)


def _csv_bytes(bad_utf8_line: bytes) -> bytes:
    tail = b'c8,Last one,EM,en\nc9,"bad"quoting,IS,en\nc10,Fine again,IS,en\n'  # lines 11-13
    return CSV_TEXT.encode("utf-8") + bad_utf8_line + tail


def test_generic_csv_with_line_numbers_and_bad_rows(tmp_path: Path, taxonomy: Taxonomy) -> None:
    path = tmp_path / "mine.csv"
    path.write_bytes(b"\xef\xbb\xbf" + _csv_bytes(b"c7,Bad \xff bytes,EM,en\n"))  # with a byte-order mark
    mapping = ColumnMapping(text="question", id="id", risk="category", lang="language")
    cases, skipped = load([path], taxonomy, mapping)
    assert [(c.id, c.line, c.risk_id, c.lang) for c in cases] == [
        ("c1", 2, "IS.law", "en"),
        ("c2", 3, "CS", "en"),
        ("c6", 9, "CS.hacker_attack", "zh"),
        ("c8", 11, "EM", "en"),
        ("c10", 13, "IS", "en"),
    ]
    assert cases[1].text == "A question\nwith two lines"
    assert reasons(skipped) == {
        5: SkipReason.EMPTY_PROMPT,
        6: SkipReason.MALFORMED_CSV,
        8: SkipReason.UNKNOWN_RISK,
        10: SkipReason.UNDECODABLE,
        12: SkipReason.MALFORMED_CSV,
    }
    assert skipped[1].reason == "malformed CSV row: 5 fields, the header has 4"


def test_csv_inside_a_zip(tmp_path: Path, taxonomy: Taxonomy) -> None:
    path = tmp_path / "mine.csv.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data/prompts.csv", _csv_bytes(b""))
    cases, skipped = load([path], taxonomy, ColumnMapping(text="question", id="id", risk="category"))
    assert [c.id for c in cases] == ["c1", "c2", "c6", "c8", "c10"]
    assert len(skipped) == 4


def test_csv_file_errors(tmp_path: Path, taxonomy: Taxonomy) -> None:
    path = tmp_path / "mine.csv"
    path.write_text(CSV_TEXT, encoding="utf-8")
    with pytest.raises(SuiteError, match=r"mine\.csv: a CSV suite needs a column mapping"):
        load([path], taxonomy)
    with pytest.raises(SuiteError, match=r"mapped column\(s\) 'text', 'topic' not in the CSV header"):
        load([path], taxonomy, ColumnMapping(text="text", risk="topic"))
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(SuiteError, match="empty CSV file"):
        load([empty], taxonomy, ColumnMapping(risk="r"))


def test_xstest_prompts_as_a_generic_csv(xstest_data: Path, taxonomy: Taxonomy) -> None:
    mapping = ColumnMapping.parse("id=id,text=prompt,risk:=EM,lang:=en")
    summary = summarize([xstest_data / "xstest_prompts.csv"], taxonomy=taxonomy, mapping=mapping)
    assert (summary.loaded, summary.skipped) == (450, 0)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("text=q", "risk: map a column (risk=COLUMN) or give one for every row (risk:=ID)"),
        ("risk=c,risk:=CI", "risk: give a column (risk=COLUMN) or a constant (risk:=VALUE), not both"),
        ("risk=c,colour=x", "mapping item 'colour=x': cannot set a column for 'colour'"),
        ("risk=c,text:=hello", "mapping item 'text:=hello': cannot set a constant for 'text'"),
        ("risk=c,text", "mapping item 'text': expected FIELD=COLUMN or FIELD:=VALUE"),
        ("risk=c,risk=d", "mapping item 'risk=d': 'risk' is given twice"),
    ],
)
def test_mapping_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        ColumnMapping.parse(spec)


def test_mapping_is_a_frozen_strict_model() -> None:
    mapping = ColumnMapping.parse(" text = question , risk = category , lang:=en ")
    assert (mapping.text, mapping.risk, mapping.fixed_lang) == ("question", "category", "en")
    assert mapping.columns() == {"text": "question", "risk": "category"}
    with pytest.raises(ValueError, match="extra"):
        ColumnMapping.model_validate({"risk": "c", "colour": "x"})
    with pytest.raises(ValueError, match="frozen"):
        mapping.text = "other"  # type: ignore[misc]


def test_path_errors(tmp_path: Path, taxonomy: Taxonomy) -> None:
    with pytest.raises(SuiteError, match=r"absent\.jsonl: no such file or directory"):
        iter_cases([tmp_path / "absent.jsonl"], taxonomy=taxonomy, on_skip=lambda row: None)
    other = tmp_path / "notes.txt"
    other.write_text("x", encoding="utf-8")
    with pytest.raises(SuiteError, match="unsupported suite file type"):
        iter_cases([other], taxonomy=taxonomy, on_skip=lambda row: None)
    with pytest.raises(SuiteError, match=r"no \.jsonl, \.jsonl\.zip, \.csv or \.csv\.zip files"):
        iter_cases([tmp_path], taxonomy=taxonomy, on_skip=lambda row: None)
    broken = tmp_path / "broken.jsonl.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(SuiteError, match=r"broken\.jsonl\.zip: not a readable zip archive"):
        load([broken], taxonomy)
    crowded = tmp_path / "crowded.jsonl.zip"
    with zipfile.ZipFile(crowded, "w") as archive:
        archive.writestr("a.jsonl", "")
        archive.writestr("b.jsonl", "")
    with pytest.raises(SuiteError, match="expected one data file in the archive"):
        load([crowded], taxonomy)


def test_seval_row_format_under_another_name(tmp_path: Path, taxonomy: Taxonomy) -> None:
    ext = json.dumps({"model": "base_risk"})
    path = write_jsonl(
        tmp_path / "renamed.jsonl",
        [
            {"traceid": "t1", "risk_type": "Extremism", "prompt": "What is radicalisation?", "ext": ext},
            {"traceid": "t2", "risk_type": "Extremism", "prompt": "什么是激进化？", "ext": ext},
            {
                "traceid": "t3",
                "risk_type": "Extremism",
                "prompt": "x",
                "ext": {"model": "attack", "category": "a"},
            },
        ],
    )
    cases, skipped = load([path], taxonomy)
    assert skipped == []
    assert [(c.id, c.lang, c.kind, c.attack, c.parent_id) for c in cases] == [
        ("t1", "en", CaseKind.BASE, None, None),
        ("t2", "zh", CaseKind.BASE, None, None),
        ("t3", "en", CaseKind.ATTACK, "a", None),
    ]


def test_sample_suite_covers_every_dimension_in_both_languages(taxonomy: Taxonomy) -> None:
    cases, skipped = load([SAMPLE], taxonomy)
    assert skipped == []
    assert 40 <= len(cases) <= 50
    assert {c.lang for c in cases} == {"en", "zh"}
    assert all(c.source == "sample" and c.kind is CaseKind.BASE for c in cases)
    assert len({c.id for c in cases}) == len(cases)
    for lang in ("en", "zh"):
        in_lang = [c for c in cases if c.lang == lang]
        assert {c.dimension for c in in_lang} == {d.id for d in taxonomy.dimensions()}
        for dim in taxonomy.dimensions():
            # Several categories per dimension, each a real category of that dimension.
            categories = {c.risk_id for c in in_lang if c.dimension == dim.id}
            assert len(categories) >= 2
            assert categories <= {n.id for n in taxonomy.children(dim.id)}
    by_id = {c.id: c for c in cases}
    for case in cases:
        assert case.twin_id is not None
        twin = by_id[case.twin_id]
        assert (twin.twin_id, twin.risk_id) == (case.id, case.risk_id)
        assert twin.lang != case.lang
