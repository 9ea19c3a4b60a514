"""``seval suite inspect``: JSON and table output, --taxonomy, --map, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gateway.cli import app

EXT = json.dumps({"model": "base_risk"})


def _invoke(*args: str) -> tuple[int, str, str]:
    # A wide virtual terminal, so table cells are not wrapped.
    result = CliRunner(env={"COLUMNS": "250"}).invoke(app, ["suite", "inspect", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_report_of_the_sample() -> None:
    code, out, _ = _invoke("sample", "--json")
    assert code == 0
    report = json.loads(out)
    assert {
        "loaded",
        "skipped",
        "by_language",
        "by_dimension",
        "by_kind",
        "by_attack",
        "skipped_rows",
        "files",
    } <= set(report)
    assert report["files"] == {"sample": {"loaded": report["loaded"], "skipped": 0}}
    assert report["by_kind"] == {"base": report["loaded"]}
    assert report["by_attack"] == {}
    assert sum(report["by_dimension"].values()) == report["loaded"]


def test_user_taxonomy_adds_a_risk_type_the_suite_uses(tmp_path: Path) -> None:
    taxonomy = tmp_path / "risks.yaml"
    taxonomy.write_text(
        "risks:\n"
        "  - {id: AI, name: AI Misuse, risk_types: [AI_Misuse]}\n"
        "  - {id: AI.model_theft, name: Model Theft, risk_types: [Model_Theft]}\n",
        encoding="utf-8",
    )
    suite = tmp_path / "mine.jsonl"
    rows = [
        {"traceid": "a1", "risk_type": "AI_Misuse", "prompt": "What is model misuse?", "ext": EXT},
        {"traceid": "a2", "risk_type": "Model_Theft", "prompt": "Can weights be stolen?", "ext": EXT},
    ]
    suite.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")

    code, out, _ = _invoke(str(suite), "--json")
    assert code == 0
    assert json.loads(out)["skipped"] == 2  # unknown to the built-in taxonomy

    code, out, _ = _invoke(str(suite), "--json", "--taxonomy", str(taxonomy))
    assert code == 0
    report = json.loads(out)
    assert (report["loaded"], report["skipped"]) == (2, 0)
    assert report["by_dimension"] == {"AI": 2}
    assert report["by_risk"] == {"AI": 1, "AI.model_theft": 1}


def test_bad_taxonomy_file_is_named_and_exits_2(tmp_path: Path) -> None:
    taxonomy = tmp_path / "risks.yaml"
    taxonomy.write_text("risks:\n  - {id: AI.orphan, name: Orphan}\n", encoding="utf-8")
    code, out, err = _invoke("sample", "--taxonomy", str(taxonomy))
    assert code == 2
    assert out == ""
    assert f"{taxonomy}: entry 1 ('AI.orphan'): unknown parent 'AI'" in err


def test_csv_with_map_and_table_output(tmp_path: Path) -> None:
    suite = tmp_path / "mine.csv"
    suite.write_text(
        "question,category\nHow do loans work?,IS.finance\nUnknown,[bold]Nope[/bold]\n,IS\n", encoding="utf-8"
    )
    code, out, _ = _invoke(str(suite), "--map", "text=question,risk=category,lang:=en")
    assert code == 0
    assert "Skipped rows" in out
    assert "unknown risk_type: 'category' is '[bold]Nope[/bold]'" in out  # printed as text, not markup
    assert "empty prompt" in out
    assert "loaded 1, skipped 2" in out
    assert "Inappropriate Suggestions" in out

    code, _, err = _invoke(str(suite))
    assert code == 2
    assert "a CSV suite needs a column mapping" in err

    code, _, err = _invoke(str(suite), "--map", "text=question")
    assert code == 2
    assert "error: --map: risk: map a column" in err

    code, _, err = _invoke(str(suite), "--map", "text=body,risk=category")
    assert code == 2
    assert "mapped column(s) 'body' not in the CSV header" in err


def test_missing_path_exits_2() -> None:
    code, _, err = _invoke("/no/such/suite.jsonl")
    assert code == 2
    assert "/no/such/suite.jsonl: no such file or directory" in err
