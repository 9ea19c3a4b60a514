"""Live progress of a run: a rich table per target on a terminal, structured log lines elsewhere.

Both read the dispatch counters (``TargetStats``) on a timer; the hot path never calls in here.
Shown per target: done/total, rate, ETA, retries, 429s, blocked, failed, tokens and spend.
``ProgressSink`` is what a run accepts as its progress display (these two, or the caller's own).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import sys
import time
from collections.abc import Mapping
from typing import Protocol, TextIO

from gateway.critic_stage import CriticStats
from gateway.dispatch import TargetStats


class ProgressSink(Protocol):
    """Shows a run's live counters (rich on a TTY, log lines otherwise)."""

    def start(self, run_id: str, stats: Mapping[str, TargetStats], critic: CriticStats | None) -> None:
        """Begin showing; ``stats`` are read periodically, never copied."""
        ...

    async def stop(self) -> None:
        """Show the final state and stop."""
        ...


class _Base(abc.ABC):
    def __init__(self, interval_s: float) -> None:
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._run_id = ""
        self._stats: Mapping[str, TargetStats] = {}
        self._critic: CriticStats | None = None
        self._t0 = time.monotonic()
        self._start_done: dict[str, int] = {}

    def start(self, run_id: str, stats: Mapping[str, TargetStats], critic: CriticStats | None) -> None:
        """Begin reporting on a timer."""
        self._run_id, self._stats, self._critic = run_id, stats, critic
        self._t0 = time.monotonic()
        self._start_done = {name: s.done for name, s in stats.items()}
        self._open()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Report the final state once and stop the timer."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._tick(final=True)
        self._close()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            self._tick(final=False)

    def _rate(self, name: str, s: TargetStats) -> float:
        elapsed = max(1e-6, time.monotonic() - self._t0)
        return (s.done - self._start_done.get(name, 0)) / elapsed

    def _eta(self, name: str, s: TargetStats) -> float | None:
        rate = self._rate(name, s)
        left = max(0, s.planned - s.done)
        return left / rate if rate > 0 else None

    def _open(self) -> None:  # noqa: B027 - optional hook; log output needs no setup
        """Prepare the display."""

    def _close(self) -> None:  # noqa: B027 - optional hook; log output needs no teardown
        """Tear the display down."""

    @abc.abstractmethod
    def _tick(self, *, final: bool) -> None:
        """Show the current counters (``final``: the run has ended)."""


class LogProgress(_Base):
    """Off a terminal: one structured log line per target every ``interval_s`` seconds."""

    def __init__(self, interval_s: float = 10.0) -> None:
        super().__init__(interval_s)
        import structlog

        self._log = structlog.get_logger("seval.progress")

    def _tick(self, *, final: bool) -> None:
        for name, s in self._stats.items():
            eta = self._eta(name, s)
            self._log.info(
                "run finished" if final else "run progress",
                run_id=self._run_id,
                target=name,
                done=s.done,
                total=s.planned,
                rate_per_s=round(self._rate(name, s), 2),
                eta_s=round(eta) if eta is not None else None,
                retries=s.retry.retries,
                rate_limited=s.retry.rate_limited,
                blocked=s.blocked,
                failed=s.failed,
                incomplete=s.incomplete,
                cached=s.cached,
                tokens=s.prompt_tokens + s.completion_tokens,
                spend_usd=round(s.cost_usd, 6),
            )
        if self._critic is not None:
            self._log.info(
                "critic progress", run_id=self._run_id, scored=self._critic.scored, errors=self._critic.errors
            )


class RichProgress(_Base):
    """On a terminal: a live table, one row per target."""

    def __init__(
        self, interval_s: float = 0.5, stream: TextIO | None = None, width: int | None = None
    ) -> None:
        super().__init__(interval_s)
        from rich.console import Console
        from rich.live import Live

        self._console = Console(file=stream or sys.stderr, width=width)
        self._live = Live(console=self._console, auto_refresh=False, transient=False)

    def _open(self) -> None:
        self._live.start()
        self._tick(final=False)

    def _close(self) -> None:
        self._live.stop()

    def _tick(self, *, final: bool) -> None:
        from rich.table import Table

        table = Table(title=f"run {self._run_id[:12]}", title_justify="left", expand=False)
        for col in (
            "target",
            "done/total",
            "rate/s",
            "ETA",
            "retries",
            "429s",
            "blocked",
            "failed",
            "tokens",
            "spend",
        ):
            table.add_column(col, justify="left" if col == "target" else "right")
        for name, s in self._stats.items():
            eta = self._eta(name, s)
            table.add_row(
                name,
                f"{s.done}/{s.planned}",
                f"{self._rate(name, s):.1f}",
                "-" if eta is None else _clock(eta),
                str(s.retry.retries),
                str(s.retry.rate_limited),
                str(s.blocked),
                str(s.failed + s.incomplete),
                f"{s.prompt_tokens + s.completion_tokens:,}",
                f"${s.cost_usd:.4f}",
            )
        if self._critic is not None:
            table.caption = f"critic: {self._critic.scored} scored, {self._critic.errors} errors"
        self._live.update(table, refresh=True)


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def make_progress(
    stream: TextIO | None = None, *, log_interval_s: float = 10.0
) -> RichProgress | LogProgress:
    """Rich progress when ``stream`` (default stderr) is a terminal, log lines otherwise."""
    out = stream or sys.stderr
    try:
        tty = out.isatty()
    except (AttributeError, ValueError):
        tty = False
    return RichProgress(stream=out) if tty else LogProgress(log_interval_s)
