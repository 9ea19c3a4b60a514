"""Under CI a missing data folder or a missing optional package fails the test instead of skipping
it, so a CI job that lost its data cannot go green by skipping everything that uses it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
DATA_TEST = "tests/unit/test_suites_generic.py::test_xstest_prompts_as_a_generic_csv"


def _pytest(node: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", node],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(("ci", "expect_rc", "expect"), [("true", 1, "required in CI"), ("", 0, "1 skipped")])
def test_missing_shared_data_fails_in_ci_and_skips_elsewhere(
    tmp_path: Path, ci: str, expect_rc: int, expect: str
) -> None:
    done = _pytest(DATA_TEST, tmp_path, CI=ci, SEVAL_SHARED_DATA=str(tmp_path / "nowhere"))
    assert done.returncode == expect_rc, done.stdout + done.stderr
    assert expect in done.stdout


def test_missing_optional_package_fails_in_ci(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        "from tests.conftest import import_or_skip\n\n"
        "def test_probe() -> None:\n"
        "    import_or_skip('no_such_package_for_seval')\n"
    )
    done = _pytest(str(probe), tmp_path, CI="true")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "required in CI" in done.stdout
