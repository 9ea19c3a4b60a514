"""Rate limits shared by every worker of a sweep, held in Redis (``--redis URL`` / ``SEVAL_REDIS``).

One atomic Lua script per send decides everything for a limit key at once: the Retry-After pause,
the in-flight cap, requests/min and tokens/min. The rates are paced like the in-process ``Limiter``
(GCRA, the virtual-scheduling form of a token bucket): each limit keeps a theoretical arrival time
``tat``; a request passes while the backlog ``tat - now`` is at most ``burst_s`` and pushes ``tat``
on by its cost. Nothing bursts at a minute boundary, and a 10 s window stays within a few percent
of the rate whatever the number of workers. After the call, the token charge is corrected with the
vendor's reported usage, as in-process.

In-flight requests are members of a sorted set scored by an expiry (the request's deadline plus a
margin), so a worker killed mid-call frees its slots when they expire instead of holding them forever.
The clock is Redis's own (``TIME``), so workers on several machines need not agree on the time.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from core.errors import ServiceError

if TYPE_CHECKING:
    from redis.asyncio import Redis

PACING_HEADROOM = 0.985
"""Share of a configured rate used for pacing, as in-process (the rest absorbs arrival jitter)."""

KEY_TTL_S = 86_400
"""Idle limit state expires after a day."""

_ACQUIRE = """
local key, slots = KEYS[1], KEYS[2]
local r_int, t_int, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens, cap, slot, slot_ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local ttl = tonumber(ARGV[8])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local paused = tonumber(redis.call('HGET', key, 'paused') or '0')
if paused > now then return {'wait', tostring(paused - now)} end
if cap > 0 then
  redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
  if redis.call('ZCARD', slots) >= cap then return {'full', '0'} end
end
local wait = 0
local rtat = math.max(tonumber(redis.call('HGET', key, 'rtat') or '0'), now)
local ttat = math.max(tonumber(redis.call('HGET', key, 'ttat') or '0'), now)
if r_int > 0 then wait = math.max(wait, rtat - now - burst) end
if t_int > 0 then wait = math.max(wait, ttat - now - burst) end
if wait > 0 then return {'wait', tostring(wait)} end
if r_int > 0 then redis.call('HSET', key, 'rtat', tostring(rtat + r_int)) end
if t_int > 0 then redis.call('HSET', key, 'ttat', tostring(ttat + t_int * tokens)) end
if cap > 0 then
  redis.call('ZADD', slots, now + slot_ttl, slot)
  redis.call('EXPIRE', slots, ttl)
end
redis.call('EXPIRE', key, ttl)
return {'ok', '0'}
"""

_RELEASE = """
local key, slots = KEYS[1], KEYS[2]
local t_int, credit, slot, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
redis.call('ZREM', slots, slot)
if t_int > 0 and credit ~= 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
  local ttat = tonumber(redis.call('HGET', key, 'ttat') or '0')
  -- A refund never leaves more slack than a fresh limiter has.
  ttat = math.max(ttat - t_int * credit, now - burst)
  redis.call('HSET', key, 'ttat', tostring(ttat))
end
return 1
"""

_PAUSE = """
local key = KEYS[1]
local seconds, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local untilt = now + seconds
local paused = tonumber(redis.call('HGET', key, 'paused') or '0')
if untilt <= paused then return 0 end
redis.call('HSET', key, 'paused', tostring(untilt))
-- Restart empty after the pause: no burst the moment it ends.
for _, f in ipairs({'rtat', 'ttat'}) do
  local v = tonumber(redis.call('HGET', key, f) or '0')
  if v < untilt then redis.call('HSET', key, f, tostring(untilt)) end
end
redis.call('EXPIRE', key, ttl)
return 1
"""


class SharedLimitError(ServiceError):
    """Redis could not be reached for a shared limit."""


class SharedLimiter:
    """The shared limits of one limit key, for one worker process.

    Same contract as ``gateway.limits.Limiter``, so the policy layer uses either: ``acquire(tokens)``
    waits until a request may go; ``release(estimate, actual)`` frees an in-flight slot and corrects
    the token charge; ``pause(seconds)`` stops every worker under the key (a vendor's Retry-After).
    ``release`` and ``pause`` are called from synchronous code, so they send their script in a task
    of their own; ``aclose`` waits for those. Slots are interchangeable (each is one member of the
    key's in-flight set), so ``release`` gives back any slot this process holds.
    """

    def __init__(
        self,
        redis: Redis,
        limit_key: str,
        *,
        rpm: float | None,
        tpm: float | None,
        max_in_flight: int,
        slot_ttl_s: float,
        burst_s: float = 0.5,
        namespace: str = "seval:limits",
        poll_s: float = 0.02,
    ) -> None:
        if burst_s <= 0 or slot_ttl_s <= 0:
            raise ValueError("burst_s and slot_ttl_s must be positive")
        self._redis = redis
        self._key = f"{namespace}:{limit_key}"
        self._slots_key = f"{self._key}:slots"
        self._r_int = 60.0 / (rpm * PACING_HEADROOM) if rpm else 0.0
        self._t_int = 60.0 / (tpm * PACING_HEADROOM) if tpm else 0.0
        self._burst = burst_s
        self.max_in_flight = max_in_flight
        self._slot_ttl = slot_ttl_s
        self._poll = poll_s
        self._ids = (f"{uuid.uuid4().hex[:12]}:{n}" for n in itertools.count())
        # One local waiter polls Redis at a time; the others queue behind it in FIFO order.
        self._lock = asyncio.Lock()
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)
        self._pause = redis.register_script(_PAUSE)
        self._held: list[str] = []
        self._tasks: set[asyncio.Task[object]] = set()
        self.pauses = 0

    @property
    def paced(self) -> bool:
        """True when a rate is enforced."""
        return bool(self._r_int or self._t_int)

    async def acquire(self, tokens: int = 0) -> None:
        """Wait until a request costing ``tokens`` may go under every worker's shared limits."""
        slot = next(self._ids)
        args: list[str | float | int] = [
            self._r_int,
            self._t_int,
            self._burst,
            tokens,
            self.max_in_flight,
            slot,
            self._slot_ttl,
        ]
        async with self._lock:
            full_wait = self._poll
            while True:
                try:
                    verdict, wait = await self._acquire(
                        keys=[self._key, self._slots_key], args=[*args, KEY_TTL_S]
                    )
                except Exception as exc:  # redis raises its own hierarchy; name the key, not the URL
                    raise SharedLimitError(f"shared limit {self._key}: {type(exc).__name__}: {exc}") from None
                verdict = verdict.decode() if isinstance(verdict, bytes) else str(verdict)
                if verdict == "ok":
                    self._held.append(slot)
                    return
                if verdict == "full":
                    # Slots free when other workers' calls end: poll, backing off to a tenth of a second.
                    await asyncio.sleep(full_wait)
                    full_wait = min(0.1, full_wait * 1.5)
                    continue
                full_wait = self._poll
                await asyncio.sleep(float(wait))

    def release(self, estimate: int = 0, actual: int | None = None) -> None:
        """Free a slot; refund (or charge) ``estimate - actual`` tokens when the usage is known."""
        slot = self._held.pop()
        credit = estimate - actual if actual is not None else 0
        self._spawn(
            self._release(keys=[self._key, self._slots_key], args=[self._t_int, credit, slot, self._burst])
        )

    def pause(self, seconds: float) -> None:
        """Send nothing under this key, from any worker, for ``seconds``."""
        if seconds > 0:
            self.pauses += 1
            self._spawn(self._pause(keys=[self._key], args=[seconds, KEY_TTL_S]))

    async def aclose(self) -> None:
        """Wait for the releases and pauses still being sent."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, call: Awaitable[object]) -> None:
        task: asyncio.Task[object] = asyncio.ensure_future(call)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
