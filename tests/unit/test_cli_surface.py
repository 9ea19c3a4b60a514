"""The CLI surface users hit first: --version, flags shown as flags, exit codes documented,
distinct option names for distinct things, and --labels taking several files at once."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import typer
from typer.testing import CliRunner

from gateway.cli import app


def _all_commands() -> list[list[str]]:
    root = typer.main.get_command(app)
    found: list[list[str]] = []

    def walk(cmd: object, path: list[str]) -> None:
        found.append(path)
        if hasattr(cmd, "commands"):  # a group (typer ships its own click)
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])

    walk(root, [])
    return found


def test_version_option() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == version("seval-gateway")


def test_no_help_page_shows_a_flag_as_taking_a_value() -> None:
    commands = _all_commands()
    assert ["run"] in commands
    for path in commands:
        result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
        assert result.exit_code == 0, path
        assert "<bool>" not in result.output, path


def test_flags_are_flags() -> None:
    result = CliRunner().invoke(app, ["run", "x.yaml", "--no-cache", "true"])
    assert result.exit_code == 2  # click's usage error: flags take no value
    assert "true" in result.output


def test_exit_codes_are_documented_in_help() -> None:
    for args in (["--help"], ["run", "--help"]):
        text = " ".join(CliRunner().invoke(app, args, env={"COLUMNS": "200"}).output.split())
        assert "Exit codes" in text
        for code in ("0", "1", "2", "3", "130"):
            assert f"{code}:" in text or f"{code} " in text


def test_critique_takes_the_server_url_as_critic_url(tmp_path: Path) -> None:
    missing = f"sqlite+aiosqlite:///{tmp_path / 'none.db'}"
    new = CliRunner().invoke(app, ["critique", "r", "--critic-url", "http://127.0.0.1:9", "--db", missing])
    assert new.exit_code == 2
    assert "no database" in new.output
    assert "deprecated" not in new.output
    old = CliRunner().invoke(app, ["critique", "r", "--critic", "http://127.0.0.1:9", "--db", missing])
    assert old.exit_code == 2
    assert "--critic is deprecated" in old.output
    assert "--critic-url" in old.output


def test_labels_accepts_several_files_after_one_option(tmp_path: Path) -> None:
    files = []
    for i in (1, 2):
        f = tmp_path / f"l{i}.jsonl"
        f.write_text('{"prompt": "hi", "response": "hello there", "lang": "en", "label": "safe"}\n' * i)
        files.append(str(f))
    once = CliRunner().invoke(app, ["critic", "validate", "--labels", *files, "--format", "jsonl", "--json"])
    repeated = CliRunner().invoke(
        app, ["critic", "validate", "--labels", files[0], "--labels", files[1], "--format", "jsonl", "--json"]
    )
    assert once.exit_code == 0, once.output
    assert repeated.exit_code == 0, repeated.output
    assert once.output == repeated.output
