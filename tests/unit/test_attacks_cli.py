"""``seval attacks list`` and ``seval attacks apply`` through typer's CliRunner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from attack_helpers import BASE_TEXT
from typer.testing import CliRunner

from attacks.registry import SEVAL_ATTACKS
from gateway.cli import app

runner = CliRunner()


def test_list_json_describes_every_attack() -> None:
    result = runner.invoke(app, ["attacks", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    names = [r["name"] for r in rows]
    assert set(SEVAL_ATTACKS) <= set(names)
    assert names == sorted(names)
    for row in rows:
        assert set(row) >= {"name", "version", "languages", "needs_generator", "description"}
        assert isinstance(row["needs_generator"], bool)
    by_name = {r["name"]: r for r in rows}
    assert by_name["positive_induction"]["needs_generator"] is True
    assert by_name["code_injection"]["needs_generator"] is False
    assert by_name["code_injection"]["languages"] == ["en", "zh"]


def test_list_table() -> None:
    result = runner.invoke(app, ["attacks", "list"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) >= 10
    assert any(line.startswith("reverse_induction") and "generator" in line for line in lines)


def test_apply_reads_jsonl_and_reports_bad_lines() -> None:
    lines = [
        json.dumps({"id": "p1", "prompt": BASE_TEXT["en"], "risk": "IS.law"}),
        "",
        "{not json",
        json.dumps({"text": "A second, mild question about bread?"}),
        json.dumps({"id": "p3"}),
        json.dumps({"id": 4, "prompt": "x", "lang": "zh"}),
        json.dumps(["a list"]),
        json.dumps({"id": True, "prompt": "bool id"}),
    ]
    result = runner.invoke(
        app,
        ["attacks", "apply", "--attack", "code_injection", "--lang", "en", "--seed", "3"],
        input="\n".join(lines),
    )
    assert result.exit_code == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 2
    first = out[0]
    assert first["parent_id"] == "p1"
    assert first["attack"] == "code_injection"
    assert first["lang"] == "en"
    assert (first["dimension"], first["risk"]) == ("IS", "IS.law")
    assert first["provenance"]["seed"] == "3"
    assert first["provenance"]["generator"] == "none"
    assert first["id"].startswith("code_injection-")
    assert out[1]["parent_id"].startswith("prompt-")
    err = result.stderr
    assert "<stdin>:3: bad input: not valid JSON" in err
    assert '<stdin>:5: bad input: needs a non-empty string "prompt"' in err
    assert "<stdin>:6: bad input: \"lang\" is 'zh' but --lang is 'en'" in err
    assert "<stdin>:7: bad input: expected a JSON object" in err
    assert '<stdin>:8: bad input: "id" must be' in err
    assert "2 attacked prompt(s) written, 5 line(s) skipped" in err
    # Same input and seed, same output.
    again = runner.invoke(
        app,
        ["attacks", "apply", "--attack", "code_injection", "--lang", "en", "--seed", "3"],
        input="\n".join(lines),
    )
    assert again.stdout == result.stdout


def test_apply_from_a_file_in_chinese(tmp_path: Path) -> None:
    source = tmp_path / "prompts.jsonl"
    source.write_text(
        json.dumps({"id": "z1", "prompt": BASE_TEXT["zh"]}, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    result = runner.invoke(
        app, ["attacks", "apply", "--attack", "instruction_encryption", "--lang", "zh", str(source)]
    )
    assert result.exit_code == 0, result.stderr
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert row["provenance"]["scheme"] in {"base64", "caesar", "url"}
    assert row["lang"] == "zh"


def test_generator_attack_needs_a_generator_or_no_generator() -> None:
    line = json.dumps({"id": "p1", "prompt": BASE_TEXT["en"]})
    refused = runner.invoke(
        app, ["attacks", "apply", "--attack", "positive_induction", "--lang", "en"], input=line
    )
    assert refused.exit_code == 2
    assert "need a generator model" in refused.stderr
    assert refused.stdout == ""
    fallback = runner.invoke(
        app,
        ["attacks", "apply", "--attack", "positive_induction", "--lang", "en", "--no-generator"],
        input=line,
    )
    assert fallback.exit_code == 0, fallback.stderr
    assert json.loads(fallback.stdout)["provenance"]["generator"] == "none (template fallback)"


def test_usage_errors_exit_2_with_a_message(tmp_path: Path) -> None:
    cases = [
        (["--attack", "nope", "--lang", "en"], "unknown attack 'nope'"),
        (["--attack", "code_injection", "--lang", "fr"], "does not support language(s) fr"),
        (["--attack", "code_injection", "--lang", "en", str(tmp_path / "absent.jsonl")], "cannot read"),
        (
            ["--attack", "positive_induction", "--lang", "en", "--no-generator", "--generator-model", "m"],
            "exclude",
        ),
        (
            ["--attack", "code_injection", "--lang", "en", "--generator-key-env", "K"],
            "need --generator-model",
        ),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["attacks", "apply", *args], input="")
        assert result.exit_code == 2, args
        assert message in result.stderr, (args, result.stderr)


def test_attacks_cli_module_is_import_light() -> None:
    code = (
        "import sys, gateway.cli.attacks_cmd\n"
        "heavy = [m for m in ('litellm', 'torch', 'attacks.registry') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == ""
