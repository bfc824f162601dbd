"""Callback requests at rest: their own SQLite file, apart from the conversation log, with retention, deletion by
id, export for the clinic's staff, and each request's notification status.

The conversation log is redacted and kept for authors; these are contact details kept for the team, so they
live in a different file with its own retention and its own readers.
"""

from __future__ import annotations

import csv
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .callback import CallbackRequest

DEFAULT_DB = "faqbot-callbacks.sqlite3"
DAY = 86_400.0
PURGE_EVERY = 3600.0  # seconds between retention sweeps in a long-running server (one at open, then on adds)
EXPORT_FIELDS = ("id", "created", "name", "phone", "email", "best_time", "note", "channel", "notified", "attempts",
                 "last_error")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS callbacks (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    name TEXT NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    best_time TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    channel TEXT NOT NULL DEFAULT '',
    notified REAL,              -- when every configured notification went out; NULL: not notified (yet)
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS callbacks_created ON callbacks(created);
"""


@dataclass(frozen=True)
class StoredCallback:
    """A request as stored, with its delivery status."""

    request: CallbackRequest
    notified: float | None
    attempts: int
    last_error: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.request.to_dict(), "notified": self.notified, "attempts": self.attempts,
                "last_error": self.last_error}


class CallbackStore:
    """One SQLite file of callback requests; safe to share between threads (one connection, one lock)."""

    def __init__(self, path: str | Path, *, retention_days: int = 30) -> None:
        self.path = Path(path)
        self.retention_days = retention_days
        self._lock = threading.Lock()
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=5.0)
        self._db.row_factory = sqlite3.Row
        with self._lock, self._db:
            self._db.executescript(_SCHEMA)
        try:
            self.path.chmod(0o600)  # contact details: readable by the service's user only
        except OSError:
            pass
        self._purged = 0.0
        self.purge()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, request: CallbackRequest) -> None:
        if time.time() - self._purged > PURGE_EVERY:
            self.purge()
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO callbacks (id, created, name, phone, email, best_time, note, channel) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (request.id, request.created, request.name, request.phone, request.email, request.best_time,
                 request.note, request.channel))

    def get(self, request_id: str) -> StoredCallback | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM callbacks WHERE id = ?", (request_id,)).fetchone()
        return _row(row) if row is not None else None

    def list(self, *, pending_only: bool = False) -> list[StoredCallback]:
        """Newest first; ``pending_only``: those not notified yet."""
        where = " WHERE notified IS NULL" if pending_only else ""
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM callbacks{where} ORDER BY created DESC").fetchall()
        return [_row(r) for r in rows]

    def delete(self, request_id: str) -> bool:
        with self._lock, self._db:
            return self._db.execute("DELETE FROM callbacks WHERE id = ?", (request_id,)).rowcount > 0

    def purge(self, *, now: float | None = None) -> int:
        """Delete requests older than the retention period; returns how many."""
        if self.retention_days <= 0:
            return 0
        self._purged = time.time()
        cutoff = (time.time() if now is None else now) - self.retention_days * DAY
        with self._lock, self._db:
            return self._db.execute("DELETE FROM callbacks WHERE created < ?", (cutoff,)).rowcount

    def mark_notified(self, request_id: str, *, attempts: int) -> None:
        with self._lock, self._db:
            self._db.execute("UPDATE callbacks SET notified = ?, attempts = ?, last_error = '' WHERE id = ?",
                             (time.time(), attempts, request_id))

    def mark_failed(self, request_id: str, *, attempts: int, error: str) -> None:
        with self._lock, self._db:
            self._db.execute("UPDATE callbacks SET attempts = ?, last_error = ? WHERE id = ?",
                             (attempts, error[:500], request_id))

    def export_csv(self, out: IO[str]) -> int:
        """Every stored request as CSV (header first); returns the number of rows written."""
        writer = csv.writer(out)
        writer.writerow(EXPORT_FIELDS)
        rows = self.list()
        for item in rows:
            d = item.to_dict()
            d["created"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(d["created"]))
            d["notified"] = "" if d["notified"] is None else time.strftime("%Y-%m-%d %H:%M:%S",
                                                                          time.gmtime(d["notified"]))
            writer.writerow([_safe_cell(str(d[k])) for k in EXPORT_FIELDS])
        return len(rows)


def _safe_cell(value: str) -> str:
    """A visitor's text opened in a spreadsheet must not run as a formula (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") and not value[1:2].isdigit() else value


def _row(row: sqlite3.Row) -> StoredCallback:
    request = CallbackRequest(id=row["id"], created=row["created"], name=row["name"], phone=row["phone"],
                              email=row["email"], best_time=row["best_time"], note=row["note"],
                              channel=row["channel"])
    return StoredCallback(request, row["notified"], row["attempts"], row["last_error"])
