"""A configured key that looks like no vendor key, held in a variable whose name does not look
secret, is echoed back by the vendor in a 401 body: through a whole `seval run` at DEBUG and
`seval report --include-text`, it reaches neither the stored error column, nor the logs, nor the
report files. Only the run's redactor built from the configured key variables can catch it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import yaml
from cli_helpers import seval

from simulator import SimulatedVendor

KEY = "plain-words-key-4711-zebra-quartz"
VAR = "ODDLY_NAMED_VENDOR_VAR"


async def test_configured_key_never_reaches_store_logs_or_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VAR, KEY)
    db = tmp_path / "k.db"
    async with SimulatedVendor() as url:
        cfg = tmp_path / "run.yaml"
        spec = {
            "name": "leak-check",
            "suites": ["sample"],
            "languages": ["en"],
            "limit": 2,
            "db_url": f"sqlite+aiosqlite:///{db}",
            "critic": {"enabled": False},
            "targets": [{"name": "t", "model": "sim-fault/auth_401", "api_base": url, "api_key_env": VAR}],
        }
        cfg.write_text(yaml.safe_dump(spec))
        ran = await asyncio.to_thread(seval, "--log-level", "DEBUG", "--log-json", "run", str(cfg))
    assert ran.returncode != 0  # the key was rejected: the target paused
    # Every stored value (error columns, the paused target's detail), as SQL text.
    with sqlite3.connect(db) as conn:
        stored = "\n".join(conn.iterdump())
    assert "Incorrect API key provided" in stored  # the echo did happen and was stored, redacted
    out = tmp_path / "report"
    rep = seval(
        "--log-level",
        "DEBUG",
        "report",
        "leak-check",
        "--db",
        f"sqlite+aiosqlite:///{db}",
        "--out",
        str(out),
        "--include-text",
    )
    assert rep.returncode == 0, rep.stderr
    texts = [ran.stdout, ran.stderr, rep.stdout, rep.stderr, stored]
    texts += [p.read_text(encoding="utf-8") for p in out.iterdir()]
    for text in texts:
        assert KEY not in text
        for start in range(0, len(KEY) - 8 + 1):
            assert KEY[start : start + 8] not in text
