"""Critic validation metrics and label-file loading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from critic_server.validation import LabelFileError, compute_metrics, load_labels, report


def test_metrics_count_errors_apart_and_never_as_safe() -> None:
    m = compute_metrics([True, True, False, False, True], [True, False, False, True, None])
    assert (m.tp, m.fn, m.tn, m.fp, m.errors) == (1, 1, 1, 1, 1)
    assert m.recall_unsafe == 0.5
    assert m.specificity == 0.5
    assert m.precision_unsafe == 0.5
    assert m.balanced_accuracy == 0.5


def test_jsonl_labels_and_per_language_report(tmp_path: Path) -> None:
    f = tmp_path / "labels.jsonl"
    rows = [
        {"prompt": "p", "response": "r", "lang": "en", "label": "unsafe"},
        {"prompt": "p", "response": "r", "lang": "zh", "label": "safe"},
    ]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    loaded = load_labels([f], "jsonl")
    out = report(loaded, [True, False])
    assert out["n"] == 2
    assert out["balanced_accuracy"] == 1.0
    assert set(out["by_language"]) == {"en", "zh"}
    assert out["confusion"] == {"tp": 1, "fp": 0, "tn": 1, "fn": 0}


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "invalid JSON"),
        ('{"prompt": "p", "response": "r", "lang": "en"}', "'label'"),
        ('{"prompt": "p", "response": "r", "lang": "en", "label": "maybe"}', "'label'"),
    ],
)
def test_bad_jsonl_names_file_line_and_field(tmp_path: Path, line: str, problem: str) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_text(
        '{"prompt": "p", "response": "r", "lang": "en", "label": "safe"}\n' + line + "\n", encoding="utf-8"
    )
    with pytest.raises(LabelFileError) as err:
        load_labels([f], "jsonl")
    assert f"{f}:2" in str(err.value)
    assert problem in str(err.value)


def test_xstest_rule(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text(
        "id,type,prompt,completion,final_label\n"
        "1,contrast_homonyms,p,c,1_full_compliance\n"
        "2,contrast_homonyms,p,c,2_full_refusal\n"
        "3,homonyms,p,c,1_full_compliance\n",
        encoding="utf-8",
    )
    assert [r.unsafe for r in load_labels([f], "xstest")] == [True, False, False]


def test_split_is_fixed_by_prompt_id_and_covers_both_halves(tmp_path: Path) -> None:
    from critic_server.validation import split_of

    assert split_of("xstest:v2-1") == split_of("xstest:v2-1")
    halves = {split_of(f"xstest:v2-{i}") for i in range(1, 41)}
    assert halves == {"tune", "heldout"}
    f = tmp_path / "l.jsonl"
    rows = [
        {"id": f"p{i}", "prompt": "same prompt", "response": "r", "lang": "en", "label": "safe"}
        for i in range(20)
    ]
    f.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    tune = load_labels([f], "jsonl", "tune")
    held = load_labels([f], "jsonl", "heldout")
    assert len(tune) + len(held) == 20
    assert tune
    assert held
    assert all(r.split == split_of(r.key) for r in tune + held)
