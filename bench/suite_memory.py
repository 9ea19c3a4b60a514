"""Peak memory of ``seval suite inspect --json`` over base_risk_en_full + attack_en_small.

Target: peak RSS under 150 MB (the loader streams; it never holds a suite in memory). Each command
runs as a child process and its own peak RSS is read from the kernel's rusage for that child
(``os.wait4``; ``getrusage(RUSAGE_CHILDREN)`` would report the maximum over every child so far).
Baselines in the same run: a bare interpreter, and one that only imports the CLI.

    python bench/suite_memory.py [--data DIR]

Ends with one JSON line: peak_rss_mb, baseline_rss_mb, cli_import_rss_mb, rows, skipped, seconds,
target_mb, within_target.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "s-eval"
FILES = ("S-Eval_base_risk_en_full.jsonl.zip", "S-Eval_attack_en_small.jsonl.zip")
TARGET_MB = 150.0
RUN_CLI = "import sys; from gateway.cli import main; sys.argv = ['seval', *sys.argv[1:]]; main()"


def measure(args: list[str]) -> tuple[float, float, str]:
    """Run ``python ARGS`` as a child; its peak RSS in MB, wall seconds, and stdout."""
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4; keep Popen consistent
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(args[:3])}... exited with {proc.returncode}")
        out.seek(0)
        return usage.ru_maxrss / 1024, seconds, out.read()  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="folder with the S-Eval release files"
    )
    data = parser.parse_args().data
    paths = [data / name for name in FILES]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"skipped: S-Eval release files not found: {', '.join(missing)}", file=sys.stderr)
        print(json.dumps({"skipped": True, "reason": "reference data absent"}))
        return

    baseline_mb, _, _ = measure(["-c", "pass"])
    import_mb, _, _ = measure(["-c", "import gateway.cli"])
    peak_mb, seconds, stdout = measure(["-c", RUN_CLI, "suite", "inspect", "--json", *map(str, paths)])
    report = json.loads(stdout)
    print(
        json.dumps(
            {
                "peak_rss_mb": round(peak_mb, 1),
                "baseline_rss_mb": round(baseline_mb, 1),
                "cli_import_rss_mb": round(import_mb, 1),
                "rows": report["loaded"],
                "skipped": report["skipped"],
                "seconds": round(seconds, 3),
                "target_mb": TARGET_MB,
                "within_target": peak_mb < TARGET_MB,
            }
        )
    )


if __name__ == "__main__":
    main()
