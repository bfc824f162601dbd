"""Turns between a KB's alternative wordings, shared by every conversation of one bot.

A wording picked by hashing each message piles some runs onto one wording by chance; a shared turn spreads a run
evenly over all of them, and a conversation never gets the wording it was shown last.
"""

from __future__ import annotations

import threading

__all__ = ["Rotation"]


class Rotation:
    """Hands out indexes 0, 1, ..., n-1, 0, ... across all callers (thread-safe)."""

    def __init__(self) -> None:
        self._turn = 0
        self._lock = threading.Lock()

    def pick(self, size: int, *, last: int = -1) -> int:
        """The next index below ``size``, skipping ``last`` (the one this caller saw before) when there is another."""
        if size <= 1:
            return 0
        with self._lock:
            index = self._turn % size
            if index == last:
                index = (index + 1) % size
            self._turn = index + 1
            return index
