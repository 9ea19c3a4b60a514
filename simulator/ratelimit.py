"""The simulated vendor's own rate limiter: requests per minute, sliding window or token bucket.

It answers the question a vendor's edge answers: may this request go through now, and if not, how
long until it could. The numbers feed the 429's ``retry-after``/``retry-after-ms`` and the
``x-ratelimit-*`` headers, as OpenAI sends them.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a request may pass, and the figures for the rate-limit headers."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: float  # until one more request would be allowed (0 when remaining > 0)


class RequestLimiter:
    """Requests-per-minute limiter for one key (the vendor keeps one per model).

    ``sliding_window``: at most ``limit`` requests in any window of ``window_s`` seconds (strict;
    what a vendor that counts requests in a rolling minute does). ``token_bucket``: a bucket of
    ``burst`` tokens refilled at ``rpm / 60`` per second (what OpenAI and Anthropic describe).
    """

    __slots__ = ("_burst", "_events", "_limit", "_mode", "_rate", "_stamp", "_tokens", "_window")

    def __init__(
        self,
        rpm: int,
        *,
        mode: Literal["sliding_window", "token_bucket"] = "sliding_window",
        window_s: float = 60.0,
        burst: int | None = None,
    ) -> None:
        if rpm <= 0:
            raise ValueError(f"rate_limit_rpm must be positive, got {rpm}")
        self._mode = mode
        self._window = window_s
        self._limit = max(1, math.floor(rpm * window_s / 60.0)) if mode == "sliding_window" else rpm
        self._events: deque[float] = deque()
        self._rate = rpm / 60.0
        self._burst = float(burst if burst is not None else max(1, rpm // 60))
        self._tokens = self._burst
        self._stamp: float | None = None

    def check(self, now: float) -> Decision:
        """Admit (and count) one request at monotonic time ``now``, or say how long to wait."""
        if self._mode == "sliding_window":
            events = self._events
            horizon = now - self._window
            while events and events[0] <= horizon:
                events.popleft()
            if len(events) < self._limit:
                events.append(now)
                remaining = self._limit - len(events)
                reset = 0.0 if remaining else events[0] + self._window - now
                return Decision(True, self._limit, remaining, reset)
            return Decision(False, self._limit, 0, max(events[0] + self._window - now, 0.001))
        if self._stamp is not None:
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return Decision(True, self._limit, int(self._tokens), 0.0)
        return Decision(False, self._limit, 0, (1.0 - self._tokens) / self._rate)


def format_reset(seconds: float) -> str:
    """A reset duration as OpenAI writes it: ``120ms``, ``1.5s``, ``6m0s``, ``1h2m3s``."""
    if seconds < 1.0:
        return f"{max(1, math.ceil(seconds * 1000))}ms"
    if seconds < 60.0:
        return f"{seconds:.3g}s"
    whole = math.ceil(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s" if hours else f"{minutes}m{secs}s"
