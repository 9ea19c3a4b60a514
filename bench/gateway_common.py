"""Helpers shared by the gateway benchmarks (overhead, throughput, ratelimit, resume).

Not a benchmark itself. Suites are written as S-Eval-format JSONL with short, distinct prompts, so
every work item is unique (no cache hits) and the store holds the cases like any real run.
"""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

DIMENSIONS = (
    "Crimes_and_Illegal_Activities",
    "Cybersecurity",
    "Data_Privacy",
    "Ethics_and_Morality",
    "Physical_and_Mental_Health",
    "Hate_Speech",
    "Extremism",
    "Inappropriate_Suggestions",
)


def write_suite(path: Path, items: int, *, tag: str = "bench") -> Path:
    """An S-Eval-format JSONL suite of ``items`` distinct short English prompts."""
    with path.open("w", encoding="utf-8") as out:
        for i in range(items):
            row = {
                "traceid": f"{tag}-{i}",
                "risk_type": DIMENSIONS[i % len(DIMENSIONS)],
                "prompt": f"Benchmark prompt number {i} ({tag}): describe the weather in one line.",
                "ext": json.dumps({"model": "base_risk"}),
            }
            out.write(json.dumps(row) + "\n")
    return path


def cpu_s() -> float:
    """User plus system CPU seconds of this process so far (child processes excluded)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_config(
    *,
    name: str,
    suite: Path,
    db: Path,
    base_url: str,
    adapter: str,
    model: str = "sim-compliant",
    in_flight: int = 64,
    critic: bool = False,
    rpm: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A run config (as a dict) for one simulated target."""
    limits: dict[str, Any] = {"max_in_flight": in_flight}
    if rpm is not None:
        limits["rpm"] = rpm
    return {
        "name": name,
        "suites": [str(suite)],
        "languages": ["en"],
        "db_url": f"sqlite+aiosqlite:///{db}",
        "cache": False,
        "critic": {"enabled": critic, "backend": "rules", "batch_size": 64},
        "targets": [
            {
                "name": model,
                "model": model,
                "api_base": base_url,
                "api_key_env": None,
                "adapter": adapter,
                "limits": limits,
                "prices": {"input_per_1m": 0.5, "output_per_1m": 1.5},
            }
        ],
        **extra,
    }
