"""Connection guards below the app: a cap on open sockets (global and per address) and a deadline for requests.

uvicorn accepts every socket and waits forever for a request's headers and body. A client that opens
thousands of sockets, or sends headers a byte a minute, would use up the process's file descriptors before the
app ever sees a request. ``GuardedH11Protocol`` closes such sockets at the transport: over the caps at once,
and any request whose headers and body have not fully arrived within ``request_timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from ..config import Config
from ..exceptions import ConfigError
from .limits import trusted

log = logging.getLogger("faqbot.server")

# Descriptors a process needs besides client sockets: the listening socket, log files, SQLite, Redis, models.
RESERVED_FDS = 64


@dataclass
class Guard:
    """The limits every new socket is checked against, and the sockets open now."""

    max_sockets: int = 2000
    per_client: int = 50
    request_timeout: float = 15.0
    proxies: Sequence[str] = ()

    def __post_init__(self) -> None:
        self.open: set[asyncio.BaseTransport] = set()
        self.by_client: dict[str, set[asyncio.BaseTransport]] = {}
        self.refused = 0
        self._admitted = 0

    def admit(self, transport: asyncio.BaseTransport, client: str | None) -> bool:
        """Count the socket in, or False if it would go over a cap (the caller closes it)."""
        self._admitted += 1
        if self._admitted % 1000 == 0:
            self._sweep()
        if len(self.open) >= self.max_sockets:
            _prune(self.open)
            if len(self.open) >= self.max_sockets:
                return self._refuse("%d sockets open (max_connections)", len(self.open))
        if client and not trusted(client, self.proxies):
            mine = self.by_client.setdefault(client, set())
            if len(mine) >= self.per_client:
                _prune(mine)
                if len(mine) >= self.per_client:
                    return self._refuse("one client has %d sockets open (max_client_sockets)", len(mine))
            mine.add(transport)
        self.open.add(transport)
        return True

    def release(self, transport: asyncio.BaseTransport, client: str | None) -> None:
        self.open.discard(transport)
        if client in self.by_client:
            mine = self.by_client[client]
            mine.discard(transport)
            if not mine:
                del self.by_client[client]

    def _sweep(self) -> None:
        # Websockets close in their own protocol, not ours: forget their transports now and then.
        _prune(self.open)
        for client in list(self.by_client):
            _prune(self.by_client[client])
            if not self.by_client[client]:
                del self.by_client[client]

    def _refuse(self, why: str, n: int) -> bool:
        self.refused += 1
        if self.refused == 1 or self.refused % 1000 == 0:
            log.warning("socket refused: " + why + "; %d refused so far", n, self.refused)
        return False


def _prune(transports: set[asyncio.BaseTransport]) -> None:
    # Sockets handed to the websocket protocol are released by it closing, which we see here.
    for t in [t for t in transports if t.is_closing()]:
        transports.discard(t)


GUARD = Guard()


def configure(config: Config) -> Guard:
    """Set the process's guard from ``config``; called once per server process, before it listens."""
    # Headroom above the app's own caps, so a websocket over them still gets an error frame it can read
    # (too_many_connections) instead of a socket cut off at the transport.
    GUARD.max_sockets = socket_cap(config.max_connections + max(16, config.max_connections // 10),
                                   configured=config.max_connections)
    GUARD.per_client = 2 * config.max_client_sockets + 4
    GUARD.request_timeout = config.request_timeout
    GUARD.proxies = config.trusted_proxies
    return GUARD


def socket_cap(wanted: int, *, configured: int) -> int:
    """``wanted`` sockets if the open-file limit allows them (raising the soft limit up to the hard one).

    A server that runs out of descriptors hangs every client and floods its log, so a cap the limit cannot
    carry is an error that says what to do, not a surprise under load.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows has no RLIMIT_NOFILE to check
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + RESERVED_FDS
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
        if soft < need:
            fits = max(1, int((soft - RESERVED_FDS) / 1.1) - 16)
            raise ConfigError(
                f"max_connections={configured} needs {need} open files but this process may open {soft} "
                f"(hard limit {hard}); raise the limit (ulimit -n {need}, or LimitNOFILE={need} in a systemd "
                f"unit) or lower --max-connections (FAQBOT_MAX_CONNECTIONS) to {fits}")
        log.info("open-file limit raised to %d for max_connections=%d", soft, configured)
    return wanted


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the socket caps and request deadline of ``GUARD``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._peer: str | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        peer = transport.get_extra_info("peername")
        self._peer = str(peer[0]) if isinstance(peer, tuple) and peer else None
        if not GUARD.admit(transport, self._peer):
            # Before uvicorn sets the connection up: a refused socket should cost as little as possible.
            self._refused = True
            transport.abort()
            return
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self._disarm()
        GUARD.release(self.transport, self._peer)
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        # Disarm once the whole request is in, or the socket was handed to the websocket protocol.
        cycle = self.cycle
        if self.transport.get_protocol() is not self or (
                cycle is not None and not cycle.more_body and not cycle.response_complete):
            self._disarm()

    def on_response_complete(self) -> None:
        self._arm()  # a kept-alive socket owes its next request within the deadline too
        super().on_response_complete()
        if self.transport.is_closing():
            self._disarm()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(GUARD.request_timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            log.info("closed a socket that did not send its request within %.0f s", GUARD.request_timeout)
            self.transport.close()
