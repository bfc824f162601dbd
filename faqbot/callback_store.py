"""Callback requests at rest: their own SQLite file (or PostgreSQL database, for a location that is a
``postgresql://`` URL), apart from the conversation log, with retention, deletion by id, export for the clinic's
staff, and each request's notification status.

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
from .logstore import describe, is_url

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


class _SqliteFile:
    """One SQLite file; one connection shared between threads under a lock."""

    table = "callbacks"

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=5.0)
        self._db.row_factory = sqlite3.Row
        with self._lock, self._db:
            self._db.executescript(_SCHEMA)
        try:
            path.chmod(0o600)  # contact details: readable by the service's user only
        except OSError:
            pass

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[list[Any], int]:
        with self._lock, self._db:
            cur = self._db.execute(sql, params)
            return cur.fetchall(), cur.rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CallbackStore:
    """Callback requests in a SQLite file or, for a ``postgresql://`` URL, a PostgreSQL table; thread-safe."""

    def __init__(self, path: str | Path, *, retention_days: int = 30) -> None:
        self.path: str | Path = path if is_url(path) else Path(path)
        self.source = describe(path)  # for messages: a URL's password hidden
        self.retention_days = retention_days
        if isinstance(self.path, Path):
            self._backend: Any = _SqliteFile(self.path)
        else:
            from .callback_store_pg import PostgresCallbacks

            self._backend = PostgresCallbacks(self.path)
        self._t = self._backend.table
        self._purged = 0.0
        self.purge()

    def _run(self, sql: str, *params: Any) -> tuple[list[Any], int]:
        return self._backend.run(sql.format(t=self._t), params)

    def close(self) -> None:
        self._backend.close()

    def add(self, request: CallbackRequest) -> None:
        if time.time() - self._purged > PURGE_EVERY:
            self.purge()
        self._run("INSERT INTO {t} (id, created, name, phone, email, best_time, note, channel) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  request.id, request.created, request.name, request.phone, request.email, request.best_time,
                  request.note, request.channel)

    def get(self, request_id: str) -> StoredCallback | None:
        rows, _ = self._run("SELECT * FROM {t} WHERE id = ?", request_id)
        return _row(rows[0]) if rows else None

    def list(self, *, pending_only: bool = False) -> list[StoredCallback]:
        """Newest first; ``pending_only``: those not notified yet."""
        where = " WHERE notified IS NULL" if pending_only else ""
        rows, _ = self._run("SELECT * FROM {t}" + where + " ORDER BY created DESC")
        return [_row(r) for r in rows]

    def delete(self, request_id: str) -> bool:
        return self._run("DELETE FROM {t} WHERE id = ?", request_id)[1] > 0

    def purge(self, *, now: float | None = None) -> int:
        """Delete requests older than the retention period; returns how many."""
        if self.retention_days <= 0:
            return 0
        self._purged = time.time()
        cutoff = (time.time() if now is None else now) - self.retention_days * DAY
        return self._run("DELETE FROM {t} WHERE created < ?", cutoff)[1]

    def mark_notified(self, request_id: str, *, attempts: int) -> None:
        self._run("UPDATE {t} SET notified = ?, attempts = ?, last_error = '' WHERE id = ?",
                  time.time(), attempts, request_id)

    def mark_failed(self, request_id: str, *, attempts: int, error: str) -> None:
        self._run("UPDATE {t} SET attempts = ?, last_error = ? WHERE id = ?", attempts, error[:500], request_id)

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


def _row(row: Any) -> StoredCallback:
    """A row of either backend: ``sqlite3.Row`` or a psycopg dict, both read by column name."""
    request = CallbackRequest(id=row["id"], created=row["created"], name=row["name"], phone=row["phone"],
                              email=row["email"], best_time=row["best_time"], note=row["note"],
                              channel=row["channel"])
    return StoredCallback(request, row["notified"], row["attempts"], row["last_error"])
