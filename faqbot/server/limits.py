"""Rate and concurrency limits: per connection (a token bucket), per client address (the ``limits`` library).

A connection's bucket keeps one socket from spamming; the per-client limits keep one machine from spreading
its traffic over many sockets and HTTP requests. Per-client counters live in Redis when sessions do, so every
worker sees the same count; if Redis fails they fall back to this process's memory rather than let everyone
through or shut everyone out.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, Storage
from limits.storage import storage_from_string
from limits.aio.strategies import MovingWindowRateLimiter

from .lag import LoopLag

log = logging.getLogger("faqbot.server")

REDIS_TIMEOUT = 0.3  # seconds; a frozen Redis must not hold a visitor's message longer than this
# Seconds a client over its rate waits for the refusal. Refusing at once would let a flood run as fast as the
# attacker can send, each refusal still costing us a parse; waiting caps it at (open sockets / PENALTY) a second,
# and the sockets are capped per client.
PENALTY = 1.0


class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second; each frame takes one."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def take(self) -> bool:
        """Spend a token if one is left; False means the caller is over its rate."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class Slots:
    """At most ``limit`` holders at once (open websocket connections)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def acquire(self) -> bool:
        if self.used >= self.limit:
            return False
        self.used += 1
        return True

    def release(self) -> None:
        self.used = max(0, self.used - 1)


class ClientLimits:
    """Limits per client address: messages and API calls over time, websockets open at once."""

    def __init__(self, *, rate: str, max_sockets: int, max_busy: int = 1, redis_pool: Any = None,
                 shared_ok: Callable[[], bool] = lambda: True, lag: LoopLag | None = None) -> None:
        self.items: list[RateLimitItem] = parse_many(rate)
        self.max_sockets = max_sockets
        self.max_busy = max_busy
        self._busy: dict[str, asyncio.Semaphore] = {}
        self._waiting: Counter[str] = Counter()
        self._sockets: Counter[str] = Counter()
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._shared: MovingWindowRateLimiter | None = None
        self._retry_at = 0.0
        self._warned_at = -1e9
        self._shared_ok = shared_ok  # e.g. the session store's health: no point waiting on a Redis known down
        self._lag = lag
        if redis_pool is not None:
            # The session store's pool: one set of connections, one timeout, for both.
            storage: Storage = storage_from_string("async+redis://", implementation="redispy",
                                                   connection_pool=redis_pool)
            self._shared = MovingWindowRateLimiter(storage)

    async def hit(self, client: str) -> bool:
        """Count one message or API call from ``client``; False means it is over its rate."""
        limiter = self._limiter()
        if limiter is self._local:
            return await self._hit(limiter, client)
        try:
            return await asyncio.wait_for(self._hit(limiter, client), REDIS_TIMEOUT)
        except Exception as exc:
            if type(exc).__name__ == "TimeoutError" and self._lag is not None and self._lag.explains(REDIS_TIMEOUT):
                # The loop was behind, not Redis: count this one here and keep using Redis.
                return await self._hit(self._local, client)
            # Redis is down or frozen: count in this process for a while, then try Redis again.
            now = time.monotonic()
            self._retry_at = now + 2.0
            if now - self._warned_at > 60:
                self._warned_at = now
                log.warning("rate limit store unreachable; counting per process until it is back")
            return await self._hit(self._local, client)

    async def _hit(self, limiter: MovingWindowRateLimiter, client: str) -> bool:
        ok = True
        for item in self.items:
            ok = await limiter.hit(item, "client", client) and ok
        return ok

    def _limiter(self) -> MovingWindowRateLimiter:
        if self._shared is not None and time.monotonic() >= self._retry_at and self._shared_ok():
            return self._shared
        return self._local

    @contextlib.asynccontextmanager
    async def busy(self, client: str) -> AsyncIterator[None]:
        """Hold one of ``client``'s ``max_busy`` turn slots (one, in the server) while its reply is computed.

        The turn threads are few and first come, first served: a burst of long messages from one address would
        otherwise queue every other visitor's turn behind it, and share the CPU with it. Extra turns of that
        address wait here instead, so another visitor's turn finds a free thread and competes with at most one
        turn of any one address. One at a time costs a shared address (a clinic's wifi) nothing it could use:
        ``client_rate`` lets it ask a few times a second, and a turn takes milliseconds.
        """
        sem = self._busy.get(client)
        if sem is None:
            sem = self._busy[client] = asyncio.Semaphore(self.max_busy)
        self._waiting[client] += 1
        try:
            async with sem:
                yield
        finally:
            self._waiting[client] -= 1
            if self._waiting[client] <= 0:
                del self._waiting[client]
                del self._busy[client]

    def open_socket(self, client: str) -> bool:
        """Hold one of ``client``'s websocket slots; False when it already has ``max_sockets`` open."""
        if self._sockets[client] >= self.max_sockets:
            return False
        self._sockets[client] += 1
        return True

    def close_socket(self, client: str) -> None:
        self._sockets[client] -= 1
        if self._sockets[client] <= 0:
            del self._sockets[client]


def trusted(address: str | None, proxies: Sequence[str]) -> bool:
    """Whether ``address`` is one of the configured proxies (addresses or networks such as 10.0.0.0/8)."""
    if not address or not proxies:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for proxy in proxies:
        try:
            if ip in ipaddress.ip_network(proxy, strict=False):
                return True
        except ValueError:
            continue
    return False
