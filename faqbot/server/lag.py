"""How far behind the event loop runs: a Redis call that times out while the loop is behind says more about
this process than about Redis.

A flood of visitors can keep the loop so busy that a Redis answer which arrived in a millisecond is read only
after the 0.3 s timeout. Counting that as a Redis outage would mark sessions degraded, send them to memory and
turn readiness red exactly when the process is serving traffic fine, so the session store and the rate limits
ask ``LoopLag.behind`` before blaming Redis.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

TICK = 0.05  # seconds between checks; the cost is one timer callback each
KEEP = 2.0  # seconds of history kept


class LoopLag:
    """Ticks every ``TICK`` seconds on the loop and remembers how late each tick ran."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._late: deque[tuple[float, float]] = deque()  # (when it ran, seconds late), late ticks only
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0

    def start(self) -> None:
        self._due = self._clock() + TICK
        self._handle = asyncio.get_running_loop().call_later(TICK, self._tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def behind(self, within: float) -> float:
        """Seconds the loop ran late in the last ``within`` seconds (0 when it kept time)."""
        since = self._clock() - within
        return sum(late for at, late in self._late if at >= since)

    def explains(self, timeout: float) -> bool:
        """Whether the loop ran late enough, within the last two ``timeout``s, to explain a call timing out after
        ``timeout`` (late by a third of it in all): then the call's answer may well have waited for the loop."""
        return self.behind(2 * timeout) > timeout / 3

    def _tick(self) -> None:
        # A plain timer callback, not a task: it runs in the same loop iteration as any other timer that fell
        # due during a stall (a Redis call's timeout included), so the stall is on record before that timeout
        # reaches the code that judges it.
        now = self._clock()
        late = now - self._due
        if late > 0.005:
            self._late.append((now, late))
        while self._late and self._late[0][0] < now - KEEP:
            self._late.popleft()
        self._due = now + TICK
        self._handle = asyncio.get_running_loop().call_later(TICK, self._tick)
