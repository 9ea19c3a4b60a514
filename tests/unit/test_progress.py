"""Progress: log lines off a terminal (with every counter), a rich table on one."""

from __future__ import annotations

import io
import re

from structlog.testing import capture_logs

from core.records import RunCounts
from db.store import RETRYABLE_OUTCOMES
from gateway.critic_stage import CriticStats
from gateway.dispatch import TargetStats
from gateway.progress import LogProgress, RichProgress, make_progress
from gateway.run_results import EarlierWork


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def stats() -> dict[str, TargetStats]:
    s = TargetStats(planned=100, already_done=10, stored=30, blocked=2, failed=1, cost_usd=0.25)
    s.prompt_tokens, s.completion_tokens = 1000, 500
    s.retry.retries, s.retry.rate_limited = 4, 3
    return {"gpt": s}


def test_choice_by_terminal() -> None:
    assert isinstance(make_progress(io.StringIO()), LogProgress)
    assert isinstance(make_progress(FakeTTY()), RichProgress)


async def test_log_lines_carry_every_counter() -> None:
    progress = LogProgress(interval_s=3600)
    with capture_logs() as logs:
        progress.start("run123", stats(), CriticStats(scored=7, errors=1))
        await progress.stop()
    (line,) = [e for e in logs if e.get("target") == "gpt"]
    assert line["event"] == "run finished"
    assert line["done"] == 40
    assert line["total"] == 100
    assert line["retries"] == 4
    assert line["rate_limited"] == 3
    assert line["blocked"] == 2
    assert line["failed"] == 1
    assert line["tokens"] == 1500
    assert line["spend_usd"] == 0.25
    (critic,) = [e for e in logs if e["event"] == "critic progress"]
    assert critic["scored"] == 7


async def test_rich_table_on_a_terminal() -> None:
    out = FakeTTY()
    progress = RichProgress(interval_s=3600, stream=out, width=160)
    progress.start("run123", stats(), None)
    await progress.stop()
    text = out.getvalue()
    for piece in ("gpt", "40/100", "1,500", "$0.2500"):
        assert piece in text


def _render(stats: dict[str, TargetStats], width: int = 80) -> list[str]:
    import asyncio

    out = FakeTTY()

    async def show() -> None:
        progress = RichProgress(interval_s=3600, stream=out, width=width)
        progress.start("0123456789abcdef", stats, None)
        await progress.stop()

    asyncio.run(show())
    # The final frame, without the terminal's control codes.
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue()).splitlines()


def test_rich_table_fits_80_columns_without_cutting_a_number() -> None:
    big = TargetStats(planned=20000, already_done=0, stored=12345, blocked=789, failed=12, cost_usd=12.3456)
    big.prompt_tokens, big.completion_tokens = 1_000_000, 234_567
    big.retry.retries, big.retry.rate_limited = 1234, 56
    small = TargetStats(planned=100, stored=40, blocked=2, failed=1, cost_usd=0.25)
    small.prompt_tokens, small.completion_tokens = 1000, 500
    lines = _render({"vendor-a": big, "vendor-b": small})
    assert all(len(line) <= 80 for line in lines)
    assert not any("…" in line or "..." in line for line in lines)
    row_a = next(line for line in lines if line.startswith("vendor-a"))
    for piece in ("12345/20000", "1234", "56", "789", "12", "1.23M", "$12.3456"):
        assert piece in row_a.split(), piece
    row_b = next(line for line in lines if line.startswith("vendor-b"))
    for piece in ("40/100", "2", "1", "1,500", "$0.2500"):
        assert piece in row_b.split(), piece


def test_resumed_run_shows_the_whole_runs_counts_and_labels_the_sessions() -> None:
    # Earlier sessions stored 60 answers (5 blocked, 2 failed, 9,000 tokens, $1.00); this session
    # added 10 (1 blocked, 1 failed, 500 tokens, $0.05) with 3 retries.
    s = TargetStats(
        planned=100,
        already_done=60,
        stored=10,
        blocked=1,
        failed=1,
        cost_usd=0.05,
        earlier=EarlierWork(blocked=5, failed=2, tokens=9000, cost_usd=1.0),
    )
    s.prompt_tokens, s.completion_tokens = 400, 100
    s.retry.retries = 3
    lines = _render({"gpt": s})
    text = "\n".join(lines)
    assert "(resumed: 60 stored earlier)" in text
    assert "rate, ETA, retries, 429s: this session; the rest: the whole run" in text
    row = next(line for line in lines if line.startswith("gpt")).split()
    assert row[1] == "70/100"
    assert row[4:] == ["3", "0", "6", "3", "9,500", "$1.0500"]


async def test_log_lines_count_the_whole_run_too() -> None:
    s = TargetStats(planned=10, already_done=4, stored=1, blocked=1, cost_usd=0.5)
    s.earlier = EarlierWork(blocked=2, failed=1, tokens=100, cost_usd=1.0)
    progress = LogProgress(interval_s=3600)
    with capture_logs() as logs:
        progress.start("run123", {"gpt": s}, None)
        await progress.stop()
    (line,) = [e for e in logs if e.get("target") == "gpt"]
    assert (line["done"], line["blocked"], line["failed"], line["tokens"]) == (5, 3, 1, 100)
    assert line["spend_usd"] == 1.5


def test_earlier_work_leaves_out_what_this_session_sends_again() -> None:
    counts = RunCounts(
        outcomes={"gpt": {"COMPLETED": 5, "BLOCKED_BY_VENDOR": 2, "FAILED_PERMANENT": 1, "INCOMPLETE": 3}},
        cost_usd={"gpt": 0.75},
        verdicts={},
        tokens={"gpt": 1200},
    )
    assert EarlierWork.of(counts, "gpt") == EarlierWork(blocked=2, failed=4, tokens=1200, cost_usd=0.75)
    resent = EarlierWork.of(counts, "gpt", resent=RETRYABLE_OUTCOMES)
    assert resent == EarlierWork(blocked=2, failed=1, tokens=1200, cost_usd=0.75)
    assert EarlierWork.of(counts, "other") == EarlierWork()
