"""``seval --help`` and ``seval suite ...`` must not import litellm or torch (seconds and hundreds
of MB): checked in a fresh interpreter with ``-X importtime``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("litellm", "torch", "transformers")
RUN_CLI = "import sys; from gateway.cli import main; sys.argv = ['seval', *sys.argv[1:]]; main()"


def _run(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", RUN_CLI, *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # importtime lines look like "import time:   123 |   456 |     package.module".
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return proc, imported


def _heavy(imported: set[str]) -> list[str]:
    return sorted(m for m in imported if m.split(".")[0] in HEAVY)


@pytest.mark.parametrize("args", [("--help",), ("suite", "--help")])
def test_help_imports_no_heavy_module(args: tuple[str, ...]) -> None:
    proc, imported = _run(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Usage" in proc.stdout
    assert "gateway.cli" in imported  # the measurement saw the CLI's own imports
    assert _heavy(imported) == []


def test_suite_inspect_imports_no_heavy_module() -> None:
    proc, imported = _run("suite", "inspect", "sample", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["loaded"] > 0
    assert report["skipped"] == 0
    assert "gateway.suites" in imported
    assert _heavy(imported) == []
