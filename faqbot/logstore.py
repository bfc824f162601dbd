"""The conversation log's storage: one interface, two backends (a SQLite file, or PostgreSQL).

The recorder (faqbot/recorder.py) writes through ``open_writer``; the report, suggestions and ``faqbot accept``
read through ``open_readonly``. Both return a ``LogStore``. The SQLite backend is here; the PostgreSQL one is
faqbot/logstore_pg.py, chosen when the log's location is a ``postgresql://`` URL. No other module writes SQL
against the log, so a schema change happens in these two files and nowhere else.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from .exceptions import ConfigError

log = logging.getLogger("faqbot.recorder")

SCHEMA_VERSION = 1
BUSY_TIMEOUT = 5.0  # seconds to wait for another process (worker) holding the write lock
KINDS = ("answer", "clarify", "fallback", "smalltalk", "crisis", "referral")  # reply types counted per day
URL_SCHEMES = ("postgresql://", "postgres://")
FIX = "point --log-db (FAQBOT_LOG_DB) at a writable file or a postgresql:// URL, or turn logging off with --no-log"

# A turn row as the recorder queues it: (ts, session, turn, channel, text, type, entry, confidence, options);
# a vote row: (ts, session, turn, vote).
TurnRow = tuple[float, str, str, str, str, str, str | None, float, str | None]
VoteRow = tuple[float, str, str, str]
Clarified = tuple[str, tuple[str, ...], str | None, float]
Scored = tuple[str, float, str | None, float]


class LogStore(Protocol):
    """What the recorder and the readers need from a log, whatever holds it."""

    source: str  # where the log is, fit to print (a URL's password masked)

    def session_key(self) -> bytes: ...
    def insert(self, turns: Sequence[tuple[Any, ...]], votes: Sequence[tuple[Any, ...]]) -> None: ...
    def purge(self, before: float) -> int: ...
    def transient(self, exc: BaseException) -> bool: ...
    def close(self) -> None: ...
    def day_counts(self, since: float) -> dict[str, dict[str, int]]: ...
    def unanswered(self, since: float) -> list[tuple[str, float]]: ...
    def weak_answers(self, below: float, since: float, *, drop_voted_down: bool = False) -> list[Scored]: ...
    def voted_down(self, since: float) -> list[Scored]: ...
    def answers_per_entry(self, since: float) -> dict[str, int]: ...
    def votes_per_entry(self, since: float) -> list[tuple[str, int, int]]: ...
    def clarified(self, since: float) -> list[Clarified]: ...


def is_url(source: str | Path) -> bool:
    return isinstance(source, str) and source.startswith(URL_SCHEMES)


def describe(source: str | Path) -> str:
    """``source`` fit for logs and reports: a URL's password replaced by ``***``."""
    if not is_url(source):
        return str(source)
    parts = urlsplit(str(source))
    if parts.password is None:
        return str(source)
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def open_writer(source: str | Path) -> LogStore:
    """Open (creating the schema if needed) the log at ``source`` for the recorder's writer thread."""
    if is_url(source):
        from .logstore_pg import PostgresLog

        return PostgresLog.open(str(source), write=True)
    return SqliteLog.connect(Path(source))


def open_readonly(source: str | Path) -> LogStore:
    """Open an existing log read-only; errors say which flag points at the right log."""
    if is_url(source):
        from .logstore_pg import PostgresLog

        return PostgresLog.open(str(source), write=False)
    return SqliteLog.open_readonly(source)


def clarified_rows(rows: Sequence[tuple[str, str | None, str | None, str | None, float]]) -> list[Clarified]:
    """(text, options JSON, next turn's type, next turn's entry, ts) to (text, offered, picked, ts)."""
    out = []
    for text, options, next_type, next_entry, ts in rows:
        offered = tuple(json.loads(options)) if options else ()
        picked = next_entry if next_type == "answer" and next_entry in offered else None
        out.append((text, offered, picked, ts))
    return out


# --- SQLite ------------------------------------------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,            -- unix time, UTC
    session TEXT NOT NULL,       -- keyed hash of the session id, never the id itself
    turn TEXT NOT NULL,          -- the client's frame id (websocket) or the /api/ask turn id
    channel TEXT NOT NULL,       -- ws, http, python, ...
    text TEXT NOT NULL,          -- the question, redacted
    type TEXT NOT NULL,          -- ReplyType value
    entry TEXT,
    confidence REAL NOT NULL,
    options TEXT                 -- clarify: JSON list of the entry ids offered
);
CREATE INDEX IF NOT EXISTS turns_ts ON turns (ts);
CREATE INDEX IF NOT EXISTS turns_session ON turns (session, ts);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    session TEXT NOT NULL,
    turn TEXT NOT NULL,
    vote TEXT NOT NULL CHECK (vote IN ('up', 'down'))
);
CREATE INDEX IF NOT EXISTS feedback_turn ON feedback (session, turn);
CREATE INDEX IF NOT EXISTS feedback_ts ON feedback (ts);
"""
_INSERT_TURN = ("INSERT INTO turns (ts, session, turn, channel, text, type, entry, confidence, options) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
_INSERT_VOTE = "INSERT INTO feedback (ts, session, turn, vote) VALUES (?, ?, ?, ?)"

# The latest vote per turn: a visitor may change their mind.
# (SQLite takes the bare columns of a MAX() aggregate from the row holding the maximum.)
_VOTES = "votes AS (SELECT session, turn, vote, ts, MAX(id) FROM feedback GROUP BY session, turn)"


class SqliteLog:
    """The embedded default: one file in WAL mode, shared by the worker processes of one machine."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path
        self.source = str(path)

    @classmethod
    def connect(cls, path: Path) -> SqliteLog:
        """Open (creating if needed) a log for writing, in WAL mode, with the current schema."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, check_same_thread=False)
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("%s: SQLite refused WAL mode (%s); a crash may lose or damage recent turns", path, mode)
            db.execute("PRAGMA synchronous=NORMAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                db.close()
                raise ConfigError(f"{path} was written by a newer faqbot (log schema {version}); upgrade faqbot, "
                                  f"or {FIX}")
            if version < SCHEMA_VERSION:
                db.executescript(SCHEMA)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            return cls(db, path)
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(f"cannot use {path} as the conversation log ({exc}); {FIX}") from None

    @classmethod
    def open_readonly(cls, path: str | Path) -> SqliteLog:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"no conversation log at {p}; pass --db with the server's --log-db file or URL (or "
                              "set FAQBOT_LOG_DB), or run the server with logging on to start one")
        try:
            db = sqlite3.connect(p.resolve().as_uri() + "?mode=ro", uri=True, timeout=BUSY_TIMEOUT)
            version = db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot read {p} ({exc}); is it a faqbot conversation log?") from None
        if version == 0 or version > SCHEMA_VERSION:
            db.close()
            why = "is not a faqbot conversation log" if version == 0 else "was written by a newer faqbot; upgrade"
            raise ConfigError(f"{p} {why} (log schema {version})")
        return cls(db, p)

    # --- writing -------------------------------------------------------------------------------------

    def session_key(self) -> bytes:
        """The per-log secret session ids are hashed with; stored in the log so every worker process agrees."""
        with self.db:
            self.db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('session_key', ?)",
                            (secrets.token_hex(32),))
        return bytes.fromhex(self.db.execute("SELECT value FROM meta WHERE key = 'session_key'").fetchone()[0])

    def insert(self, turns: Sequence[tuple[Any, ...]], votes: Sequence[tuple[Any, ...]]) -> None:
        """Write turns and votes in one transaction (all or none)."""
        with self.db:
            self.db.executemany(_INSERT_TURN, turns)
            self.db.executemany(_INSERT_VOTE, votes)

    def purge(self, before: float) -> int:
        """Delete turns and votes older than the unix time ``before``; how many rows went."""
        with self.db:
            gone = self.db.execute("DELETE FROM turns WHERE ts < ?", (before,)).rowcount
            gone += self.db.execute("DELETE FROM feedback WHERE ts < ?", (before,)).rowcount
        return int(gone)

    def transient(self, exc: BaseException) -> bool:
        """Worth retrying (another process holds the lock, the disk is full) rather than a row SQLite refuses."""
        return isinstance(exc, sqlite3.OperationalError)

    def close(self) -> None:
        self.db.close()

    # --- reading -------------------------------------------------------------------------------------

    def day_counts(self, since: float) -> dict[str, dict[str, int]]:
        """Per UTC day: ``turns``, one count per reply type in ``KINDS``, and the latest ``up``/``down`` votes."""
        kinds = ", ".join(f"SUM(type = '{k}')" for k in KINDS)
        rows: dict[str, dict[str, int]] = {}
        for day, turns, *counts in self.db.execute(f"SELECT date(ts, 'unixepoch') AS day, COUNT(*), {kinds} "
                                                   "FROM turns WHERE ts >= ? GROUP BY day", (since,)):
            rows[day] = {"turns": turns, **dict(zip(KINDS, counts))}
        for day, up, down in self.db.execute(f"WITH {_VOTES} SELECT date(ts, 'unixepoch') AS day, "
                                             "SUM(vote = 'up'), SUM(vote = 'down') FROM votes WHERE ts >= ? "
                                             "GROUP BY day", (since,)):
            rows.setdefault(day, {}).update(up=up, down=down)
        return rows

    def unanswered(self, since: float) -> list[tuple[str, float]]:
        """(text, ts) of every fallback turn."""
        return [(t, ts) for t, ts in self.db.execute("SELECT text, ts FROM turns WHERE type = 'fallback' "
                                                     "AND ts >= ?", (since,))]

    def weak_answers(self, below: float, since: float, *, drop_voted_down: bool = False) -> list[Scored]:
        """(text, ts, entry, confidence) of answers given at confidence below ``below``; optionally without the
        answers whose latest vote is a thumbs down."""
        if not drop_voted_down:
            return self.db.execute("SELECT text, ts, entry, confidence FROM turns WHERE type = 'answer' "
                                   "AND confidence < ? AND ts >= ?", (below, since)).fetchall()
        return self.db.execute(f"WITH {_VOTES} SELECT t.text, t.ts, t.entry, t.confidence FROM turns t "
                               "LEFT JOIN votes v ON v.session = t.session AND v.turn = t.turn "
                               "WHERE t.type = 'answer' AND t.confidence < ? AND t.ts >= ? "
                               "AND (v.vote IS NULL OR v.vote = 'up')", (below, since)).fetchall()

    def voted_down(self, since: float) -> list[Scored]:
        """(text, ts, entry, confidence) of answers whose latest vote is a thumbs down."""
        return self.db.execute(f"WITH {_VOTES} SELECT t.text, t.ts, t.entry, t.confidence FROM turns t JOIN votes v "
                               "ON v.session = t.session AND v.turn = t.turn WHERE t.type = 'answer' "
                               "AND v.vote = 'down' AND t.ts >= ?", (since,)).fetchall()

    def answers_per_entry(self, since: float) -> dict[str, int]:
        return dict(self.db.execute("SELECT entry, COUNT(*) FROM turns WHERE type = 'answer' AND ts >= ? "
                                    "GROUP BY entry", (since,)).fetchall())

    def votes_per_entry(self, since: float) -> list[tuple[str, int, int]]:
        """(entry, downs, ups) over the latest vote on each answered turn."""
        return self.db.execute(f"WITH {_VOTES} SELECT t.entry, SUM(v.vote = 'down'), SUM(v.vote = 'up') "
                               "FROM turns t JOIN votes v ON v.session = t.session AND v.turn = t.turn "
                               "WHERE t.type = 'answer' AND t.ts >= ? GROUP BY t.entry", (since,)).fetchall()

    def clarified(self, since: float) -> list[Clarified]:
        """Each clarification: its question, the options, the entry picked (None: neither) and when."""
        return clarified_rows(self.db.execute(
            "SELECT text, options, next_type, next_entry, ts FROM ("
            " SELECT id, text, options, type, ts, LEAD(type) OVER w AS next_type, LEAD(entry) OVER w AS next_entry"
            " FROM turns WHERE ts >= ? WINDOW w AS (PARTITION BY session ORDER BY ts, id)"
            ") WHERE type = 'clarify' ORDER BY id", (since,)).fetchall())
