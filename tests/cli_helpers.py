"""Running the ``seval`` CLI in a fresh interpreter, as a user would, for the subprocess tests."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The venv's own interpreter, so the child imports this checkout whatever is on PATH.
SEVAL = (sys.executable, "-c", "from gateway.cli import main; main()")


def _env() -> dict[str, str]:
    return {**os.environ, "SEVAL_LOG_LEVEL": "WARNING", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}


def seval(*args: str, cwd: Path = PROJECT_ROOT, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``seval ARGS`` to the end (logs at WARNING); stdout and stderr captured as text."""
    return subprocess.run(
        [*SEVAL, *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


async def start_seval(*args: str) -> asyncio.subprocess.Process:
    """Start ``seval ARGS`` (logs at WARNING) with stdout and stderr merged into one pipe; the caller
    waits for it or signals it."""
    return await asyncio.create_subprocess_exec(
        *SEVAL,
        *args,
        cwd=PROJECT_ROOT,
        env=_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
