"""Session stores: conversation state dicts keyed by session id, bounded in time (TTL) and, in memory, in count.

``MemoryStore`` serves one process with nothing to install. ``RedisStore`` lets several workers or instances
share sessions, so a visitor whose reconnect lands elsewhere keeps the conversation. Both expire a session
``ttl`` seconds after it was last read or written.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from ..exceptions import ConfigError
from .lag import LoopLag

# Ids we hand out are 22 url-safe characters; accept a little more, never anything that could be a key path.
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
REDIS_PREFIX = "faqbot:session:"
REDIS_TIMEOUT = 0.3  # seconds per Redis call; a frozen Redis must cost a visitor little more than this
REDIS_POOL = 64  # connections per process, shared with the per-client rate limits
RETRY_AFTER = (0.5, 1.0, 2.0, 5.0)  # seconds before trying Redis again after failures in a row
TIMEOUTS_TO_FAIL = 2  # timeouts in a row that count as an outage (a refused connection counts at once)

log = logging.getLogger("faqbot.server")

State = dict[str, Any]


def new_id() -> str:
    """A random session id tied to no person (128 bits)."""
    return secrets.token_urlsafe(16)


# The field of a stored session that holds the hash of its secret: the id names a session, the secret opens it.
KEY = "key"


def new_secret() -> str:
    """The secret a new session is opened with (128 bits); only its hash is ever stored."""
    return secrets.token_urlsafe(16)


def seal(secret: str) -> str:
    """What a session stores of its secret: a plain SHA-256 is enough for 128 random bits."""
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def opens(state: State, secret: str | None) -> bool:
    """Whether ``secret`` is the one ``state`` was opened with (constant time; a state without one opens never)."""
    given = seal(secret or "")  # hashed even when there is nothing to compare, so both paths cost the same
    stored = state.get(KEY)
    return isinstance(stored, str) and hmac.compare_digest(stored.encode(), given.encode()) and bool(secret)


def valid_id(session: str) -> bool:
    return bool(_SESSION_ID.match(session))


def tag(session: str) -> str:
    """A short hash of a session id for log lines: enough to follow one visitor, useless to resume them."""
    return hashlib.sha256(session.encode("utf-8", "replace")).hexdigest()[:10]


class SessionStore(Protocol):
    """Where conversation state lives between turns and across reconnects."""

    async def get(self, session: str) -> State | None:
        """The state of a live session (and its TTL restarts), or None if unknown or expired."""

    async def set(self, session: str, state: State) -> None:
        """Save the state; the TTL restarts."""

    async def delete(self, session: str) -> None: ...

    async def close(self) -> None: ...


class MemoryStore:
    """In-process store: beyond ``max_sessions`` the least recently used go first; TTL on every access.

    Sessions that never had a turn (a socket opened and closed) are evicted before any with a conversation,
    so a flood of empty connections cannot push real visitors' context out.
    """

    def __init__(self, *, ttl: float = 1800, max_sessions: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_sessions = max_sessions
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, State]] = OrderedDict()  # with a conversation
        self._empty: OrderedDict[str, float] = OrderedDict()  # opened, never asked anything

    def __len__(self) -> int:
        return len(self._items) + len(self._empty)

    async def get(self, session: str) -> State | None:
        now = self._clock()
        if session in self._empty:
            if self._empty[session] <= now:
                del self._empty[session]
                return None
            self._empty[session] = now + self.ttl
            self._empty.move_to_end(session)
            return {}
        item = self._items.get(session)
        if item is None:
            return None
        if item[0] <= now:
            del self._items[session]
            return None
        self._items[session] = (now + self.ttl, item[1])
        self._items.move_to_end(session)
        # A copy, so a caller mutating its state does not change what is stored until it calls set().
        return json.loads(json.dumps(item[1]))

    async def set(self, session: str, state: State) -> None:
        now = self._clock()
        if not state and session not in self._items:
            self._empty[session] = now + self.ttl
            self._empty.move_to_end(session)
        else:
            self._empty.pop(session, None)
            self._items[session] = (now + self.ttl, json.loads(json.dumps(state)))
            self._items.move_to_end(session)
        self._evict(now)

    async def delete(self, session: str) -> None:
        self._items.pop(session, None)
        self._empty.pop(session, None)

    async def close(self) -> None:
        self._items.clear()
        self._empty.clear()

    def _evict(self, now: float) -> None:
        while len(self) > self.max_sessions:
            if self._empty:
                self._empty.popitem(last=False)
            else:
                self._items.popitem(last=False)
        # Expired sessions sit at the old end once they stop being touched; drop a few per write.
        for _ in range(8):
            if not self._items:
                break
            oldest = next(iter(self._items))
            if self._items[oldest][0] > now:
                break
            del self._items[oldest]
        for _ in range(8):
            if not self._empty:
                break
            oldest = next(iter(self._empty))
            if self._empty[oldest] > now:
                break
            del self._empty[oldest]


class RedisStore:
    """Sessions in Redis (redis-py's asyncio client), shared by every worker pointing at the same database."""

    def __init__(self, client: Any, *, ttl: int = 1800, prefix: str = REDIS_PREFIX, url: str | None = None) -> None:
        self.client = client
        self.ttl = int(ttl)
        self.prefix = prefix
        self.url = url  # for a blocking probe from another thread (see FallbackStore.watch)

    @classmethod
    def from_url(cls, url: str, *, ttl: int = 1800) -> RedisStore:
        try:
            import redis.asyncio as aioredis
        except ImportError:
            raise ConfigError("session store " + url + " needs the redis package: pip install 'faqbot[server]'") \
                from None
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # A blocking pool: under a thousand visitors, callers wait (up to the timeout) for one of REDIS_POOL
        # connections instead of failing at once when all are busy. No client-side retries: FallbackStore
        # decides when to try again, and a retry loop would multiply the wait of every visitor.
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=REDIS_POOL, timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT, retry=Retry(NoBackoff(), 0))
        return cls(aioredis.Redis(connection_pool=pool), ttl=ttl, url=url)

    async def get(self, session: str) -> State | None:
        raw = await self.client.getex(self.prefix + session, ex=self.ttl)
        if raw is None:
            return None
        try:
            state = json.loads(raw)
        except ValueError:
            return None
        return state if isinstance(state, dict) else None

    async def set(self, session: str, state: State) -> None:
        await self.client.set(self.prefix + session, json.dumps(state, separators=(",", ":")), ex=self.ttl)

    async def delete(self, session: str) -> None:
        await self.client.delete(self.prefix + session)

    async def ping(self) -> None:
        await self.client.ping()

    def blocking_pinger(self) -> Callable[[], None] | None:
        """A PING on a connection of its own, for a thread: it keeps time however busy the event loop is."""
        if self.url is None:
            return None
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # No retries: one PING, one timeout, so a frozen Redis is seen within the timeout.
        client = redis.Redis.from_url(self.url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT,
                                      single_connection_client=True, retry=Retry(NoBackoff(), 0))
        return lambda: client.ping() and None

    async def close(self) -> None:
        await self.client.aclose()
        await self.client.connection_pool.disconnect()


class FallbackStore:
    """Redis with an in-process fallback: when Redis fails, turns go on from memory instead of failing.

    A visitor may lose context while Redis is away (their state lives in one worker's memory), never the reply.
    Redis counts as down after a refused connection, or after ``TIMEOUTS_TO_FAIL`` timeouts in a row (one slow
    answer from a busy machine is not an outage). A timeout while this process's event loop was running behind
    (``lag``) does not count: the answer may well have arrived and waited for the loop. While down Redis is left
    alone for a while (``RETRY_AFTER``), so a frozen server costs a few timeouts, not one per message.
    ``healthy`` is what readiness reports; ``watch`` probes Redis from a thread of its own, so it turns red (and
    green again) without waiting for traffic, and keeps time even when the loop does not.
    """

    def __init__(self, primary: RedisStore, fallback: MemoryStore, *, lag: LoopLag | None = None) -> None:
        self.primary = primary
        self.fallback = fallback  # only sessions written while Redis was down, until Redis has them again
        self.lag = lag
        self.overloaded = 0  # timeouts not blamed on Redis because the loop was behind
        self.healthy = True
        self._failures = 0  # while down: failed retries, for the back-off
        self._timeouts = 0  # while up: timeouts in a row
        self._retry_at = 0.0

    @property
    def status(self) -> str:
        return "ok" if self.healthy else "degraded"

    async def get(self, session: str) -> State | None:
        # A state written here during an outage is newer than whatever Redis still holds for the session.
        kept = await self.fallback.get(session)
        if kept is not None or not self._usable():
            return kept
        try:
            state = await asyncio.wait_for(self.primary.get(session), REDIS_TIMEOUT)
        except Exception as exc:
            self._failed(exc)
            return None
        self._ok()
        return state

    async def set(self, session: str, state: State) -> None:
        if self._usable():
            try:
                await asyncio.wait_for(self.primary.set(session, state), REDIS_TIMEOUT)
            except Exception as exc:
                self._failed(exc)
            else:
                self._ok()
                await self.fallback.delete(session)
                return
        await self.fallback.set(session, state)

    async def delete(self, session: str) -> None:
        await self.fallback.delete(session)
        if self._usable():
            try:
                await asyncio.wait_for(self.primary.delete(session), REDIS_TIMEOUT)
            except Exception as exc:
                self._failed(exc)

    async def probe(self) -> bool:
        """Ping Redis now; True if it answered."""
        try:
            await asyncio.wait_for(self.primary.ping(), REDIS_TIMEOUT)
        except Exception as exc:
            self._failed(exc)
            return False
        self._ok()
        return True

    async def watch(self, every: float = 0.5) -> None:
        """Probe Redis forever, every ``every`` seconds (run as a task; cancelled at shutdown).

        The PING runs in a thread with a blocking client: a flood that keeps the event loop busy neither fakes an
        outage (the answer is read on time) nor hides a real one (a frozen Redis still fails the PING).
        """
        ping = self.primary.blocking_pinger()
        if ping is None:
            while True:
                await self.probe()
                await asyncio.sleep(every)
        loop = asyncio.get_running_loop()
        stop = threading.Event()

        def probe_forever() -> None:
            while not stop.is_set():
                try:
                    ping()
                    failure: BaseException | None = None
                except Exception as exc:
                    failure = exc
                try:
                    loop.call_soon_threadsafe(self._probed, failure)
                except RuntimeError:  # the loop closed under us: the server is stopping
                    return
                stop.wait(every)

        threading.Thread(target=probe_forever, name="faqbot-redis-probe", daemon=True).start()
        try:
            await asyncio.Event().wait()
        finally:
            stop.set()

    def _probed(self, failure: BaseException | None) -> None:
        if failure is None:
            self._ok()
        else:
            self._failed(failure, on_time=True)

    async def close(self) -> None:
        await self.fallback.close()
        try:
            await asyncio.wait_for(self.primary.close(), REDIS_TIMEOUT)
        except Exception:
            pass

    def _usable(self) -> bool:
        return self.healthy or time.monotonic() >= self._retry_at

    def _ok(self) -> None:
        if not self.healthy:
            log.warning("session store is back: sessions are shared again")
        self.healthy, self._failures, self._timeouts = True, 0, 0

    def _failed(self, exc: BaseException, *, on_time: bool = False) -> None:
        """Count a failed call; ``on_time`` when it was timed off the event loop (the probe thread)."""
        if not on_time and _slow(exc) and self.lag is not None and self.lag.explains(REDIS_TIMEOUT):
            self.overloaded += 1
            if self.overloaded == 1 or self.overloaded % 1000 == 0:
                log.warning("a Redis call timed out while this process was running %.0f ms behind; not counted as "
                            "a Redis failure (%d so far)", 1000 * self.lag.behind(2 * REDIS_TIMEOUT), self.overloaded)
            return
        if self.healthy and _slow(exc):
            self._timeouts += 1
            if self._timeouts < TIMEOUTS_TO_FAIL:
                return
        if self.healthy:
            log.error("session store failed (%s); serving sessions from this process's memory until it is "
                      "back", type(exc).__name__)
        self.healthy = False
        self._retry_at = time.monotonic() + RETRY_AFTER[min(self._failures, len(RETRY_AFTER) - 1)]
        self._failures += 1


def _slow(exc: BaseException) -> bool:
    """A timeout (ours, or redis-py's, or waiting for a free pooled connection) rather than a refusal."""
    return type(exc).__name__ == "TimeoutError" or "No connection available" in str(exc)


def open_store(url: str, *, ttl: int = 1800, max_sessions: int = 10_000, lag: LoopLag | None = None) -> SessionStore:
    """``memory`` or ``redis://HOST:PORT/DB`` (also ``rediss://`` and ``unix://``) to a store."""
    if url in ("", "memory"):
        return MemoryStore(ttl=ttl, max_sessions=max_sessions)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return FallbackStore(RedisStore.from_url(url, ttl=ttl), MemoryStore(ttl=ttl, max_sessions=max_sessions),
                             lag=lag)
    raise ConfigError(f"unknown session store {url!r}; use 'memory' or redis://HOST:PORT/DB")
