"""`seval run` (errors, --estimate), `seval runs list/show` and `seval demo`, in subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def seval(*args: str, cwd: Path = PROJECT_ROOT, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SEVAL_LOG_LEVEL": "WARNING", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.run(
        [sys.executable, "-c", "from gateway.cli import main; main()", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_bad_config_names_file_field_and_line(tmp_path: Path) -> None:
    cfg = tmp_path / "run.yaml"
    cfg.write_text("name: x\nsuites: [sample]\ntargets:\n  - name: a\n    model: openai/gpt-4o\n    rpm: 5\n")
    res = seval("run", str(cfg))
    assert res.returncode == 2
    assert f"{cfg}" in res.stderr
    assert "targets.0.rpm (line 6): Extra inputs are not permitted" in res.stderr


def test_missing_key_variable_is_a_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "run.yaml"
    spec = {
        "name": "x",
        "suites": ["sample"],
        "db_url": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        "targets": [{"name": "a", "model": "openai/gpt-4o", "api_key_env": "SEVAL_TEST_UNSET_KEY_VAR"}],
    }
    cfg.write_text(yaml.safe_dump(spec))
    res = seval("run", str(cfg))
    assert res.returncode == 2
    assert "SEVAL_TEST_UNSET_KEY_VAR is not set" in res.stderr


def test_estimate_prints_calls_and_cost_without_a_database(tmp_path: Path) -> None:
    cfg = tmp_path / "run.yaml"
    db = tmp_path / "never.db"
    spec = {
        "name": "est",
        "suites": ["sample"],
        "languages": ["en"],
        "db_url": f"sqlite+aiosqlite:///{db}",
        "decoding": [{"max_tokens": 100}],
        "targets": [
            {
                "name": "a",
                "model": "m",
                "api_base": "http://127.0.0.1:9/v1",
                "prices": {"input_per_1m": 1.0, "output_per_1m": 10.0},
            }
        ],
    }
    cfg.write_text(yaml.safe_dump(spec))
    res = seval("run", str(cfg), "--estimate")
    assert res.returncode == 0, res.stderr
    assert "nothing was sent" in res.stdout
    assert "2,300" in res.stdout  # 23 English sample cases x 100 completion tokens
    assert not db.exists()


def test_demo_then_runs_list_and_show(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    res = seval("demo", "--out", str(out), timeout=240)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "completed" in res.stdout
    assert (out / "report.html").exists()
    assert (out / "seval.db").exists()
    for model in ("sim-cautious", "sim-compliant", "sim-mixed"):
        assert f"{model} [openai] done" in res.stdout
    db = f"sqlite+aiosqlite:///{out / 'seval.db'}"
    listed = seval("runs", "list", "--db", db)
    assert listed.returncode == 0, listed.stderr
    assert "completed" in listed.stdout
    assert "demo" in listed.stdout
    shown = seval("runs", "show", "demo", "--db", db)
    assert shown.returncode == 0, shown.stderr
    assert "sim-mixed [openai] done" in shown.stdout
    assert "verdicts: rules@" in shown.stdout
    missing = seval("runs", "show", "nope", "--db", db)
    assert missing.returncode == 2
    assert "no run matches 'nope'" in missing.stderr



async def test_config_cache_false_is_honoured_by_seval_run(tmp_path: Path) -> None:
    """`cache: false` in the YAML stops reuse of earlier answers even without `--no-cache`."""
    import asyncio

    from simulator import SimulatedVendor

    db_url = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    vendor = SimulatedVendor()
    async with vendor as url:

        def write(name: str, cache: bool) -> Path:
            cfg = tmp_path / f"{name}.yaml"
            spec = {
                "name": name,
                "suites": ["sample"],
                "languages": ["en"],
                "limit": 3,
                "db_url": db_url,
                "cache": cache,
                "critic": {"enabled": False},
                "targets": [{"name": "m", "model": "sim-mixed", "api_base": url}],
            }
            cfg.write_text(yaml.safe_dump(spec))
            return cfg

        async def run(name: str, cache: bool) -> int:
            before = vendor.stats.requests
            res = await asyncio.to_thread(seval, "run", str(write(name, cache)))
            assert res.returncode == 0, res.stderr
            return vendor.stats.requests - before

        assert await run("first", cache=True) == 3
        # Same target, parameters and prompts under another run name: all three answers reused.
        assert await run("second", cache=True) == 0
        assert await run("third", cache=False) == 3
