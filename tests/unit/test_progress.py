"""Progress: log lines off a terminal (with every counter), a rich table on one."""

from __future__ import annotations

import io

from structlog.testing import capture_logs

from gateway.critic_stage import CriticStats
from gateway.dispatch import TargetStats
from gateway.progress import LogProgress, RichProgress, make_progress


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
