"""Session stores: conversation state dicts keyed by session id, bounded in time (TTL) and, in memory, in count.

``MemoryStore`` serves one process with nothing to install. ``RedisStore`` lets several workers or instances
share sessions, so a visitor whose reconnect lands elsewhere keeps the conversation. Both expire a session
``ttl`` seconds after it was last read or written.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from .exceptions import ConfigError

# Ids we hand out are 22 url-safe characters; accept a little more, never anything that could be a key path.
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
REDIS_PREFIX = "faqbot:session:"

State = dict[str, Any]


def new_id() -> str:
    """A random session id tied to no person (128 bits)."""
    return secrets.token_urlsafe(16)


def valid_id(session: str) -> bool:
    return bool(_SESSION_ID.match(session))


class SessionStore(Protocol):
    """Where conversation state lives between turns and across reconnects."""

    async def get(self, session: str) -> State | None:
        """The state of a live session (and its TTL restarts), or None if unknown or expired."""

    async def set(self, session: str, state: State) -> None:
        """Save the state; the TTL restarts."""

    async def delete(self, session: str) -> None: ...

    async def close(self) -> None: ...


class MemoryStore:
    """In-process store: least recently used sessions are dropped beyond ``max_sessions``; TTL on every access."""

    def __init__(self, *, ttl: float = 1800, max_sessions: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_sessions = max_sessions
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, State]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    async def get(self, session: str) -> State | None:
        item = self._items.get(session)
        if item is None:
            return None
        now = self._clock()
        if item[0] <= now:
            del self._items[session]
            return None
        self._items[session] = (now + self.ttl, item[1])
        self._items.move_to_end(session)
        # A copy, so a caller mutating its state does not change what is stored until it calls set().
        return json.loads(json.dumps(item[1]))

    async def set(self, session: str, state: State) -> None:
        now = self._clock()
        self._items[session] = (now + self.ttl, json.loads(json.dumps(state)))
        self._items.move_to_end(session)
        self._evict(now)

    async def delete(self, session: str) -> None:
        self._items.pop(session, None)

    async def close(self) -> None:
        self._items.clear()

    def _evict(self, now: float) -> None:
        while len(self._items) > self.max_sessions:
            self._items.popitem(last=False)
        # Expired sessions sit at the old end once they stop being touched; drop a few per write.
        for _ in range(8):
            if not self._items:
                break
            oldest = next(iter(self._items))
            if self._items[oldest][0] > now:
                break
            del self._items[oldest]


class RedisStore:
    """Sessions in Redis (redis-py's asyncio client), shared by every worker pointing at the same database."""

    def __init__(self, client: Any, *, ttl: int = 1800, prefix: str = REDIS_PREFIX) -> None:
        self.client = client
        self.ttl = int(ttl)
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, *, ttl: int = 1800) -> RedisStore:
        try:
            import redis.asyncio as aioredis
        except ImportError:
            raise ConfigError("session store " + url + " needs the redis package: pip install 'faqbot[server]'") \
                from None
        return cls(aioredis.from_url(url), ttl=ttl)

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

    async def close(self) -> None:
        await self.client.aclose()


def open_store(url: str, *, ttl: int = 1800, max_sessions: int = 10_000) -> SessionStore:
    """``memory`` or ``redis://HOST:PORT/DB`` (also ``rediss://`` and ``unix://``) to a store."""
    if url in ("", "memory"):
        return MemoryStore(ttl=ttl, max_sessions=max_sessions)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore.from_url(url, ttl=ttl)
    raise ConfigError(f"unknown session store {url!r}; use 'memory' or redis://HOST:PORT/DB")
