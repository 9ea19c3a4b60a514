"""`seval run` never reports a run where nothing was answered as a success: a misspelt model is
paused after identical failures and exits 4 with its reasons, a model litellm cannot route and a
filter that leaves no case are config errors (exit 2) before anything is sent."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml
from cli_helpers import seval

from simulator import SimulatedVendor


def write(tmp_path: Path, **spec: Any) -> Path:
    cfg = tmp_path / "run.yaml"
    base = {
        "name": "integrity",
        "suites": ["sample"],
        "languages": ["en"],
        "limit": 12,
        "db_url": f"sqlite+aiosqlite:///{tmp_path / 'r.db'}",
        "critic": {"enabled": False},
        "retry": {"max_attempts": 2, "initial_wait_s": 0.01, "max_wait_s": 0.05},
    }
    cfg.write_text(yaml.safe_dump({**base, **spec}))
    return cfg


async def test_a_missing_model_pauses_exits_4_and_shows_the_reason(tmp_path: Path) -> None:
    vendor = SimulatedVendor()
    async with vendor as url:
        target = {
            "name": "typo",
            "model": "sim-fault/not_found",
            "api_base": url,
            "limits": {"max_in_flight": 1},
        }
        cfg = write(tmp_path, targets=[target])
        res = await asyncio.to_thread(seval, "run", str(cfg))
        assert vendor.stats.requests == 5  # paused at the fifth identical 404, not 12
    assert res.returncode == 4, res.stdout + res.stderr
    assert "no answers from typo" in res.stderr
    assert "5 x FAILED_PERMANENT 404 model_not_found" in res.stdout
    shown = await asyncio.to_thread(
        seval, "runs", "show", "integrity", "--db", f"sqlite+aiosqlite:///{tmp_path / 'r.db'}"
    )
    assert shown.returncode == 0, shown.stderr
    assert "5 x FAILED_PERMANENT 404 model_not_found" in shown.stdout


def test_a_model_litellm_cannot_route_is_a_config_error(tmp_path: Path) -> None:
    cfg = write(tmp_path, targets=[{"name": "t", "model": "opnai/gpt-4o-mini", "api_key_env": "PATH"}])
    res = seval("run", str(cfg))
    assert res.returncode == 2, res.stdout + res.stderr
    assert "litellm cannot route model 'opnai/gpt-4o-mini'" in res.stderr
    assert (
        not (tmp_path / "r.db").exists()
        or "integrity" not in seval("runs", "list", "--db", f"sqlite+aiosqlite:///{tmp_path / 'r.db'}").stdout
    )


def test_a_language_filter_that_leaves_nothing_is_an_error(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        languages=["fr"],
        targets=[{"name": "m", "model": "scripted/m", "adapter": "scripted"}],
    )
    res = seval("run", str(cfg))
    assert res.returncode == 2, res.stdout + res.stderr
    assert "`languages: ['fr']` matches none of them" in res.stderr
