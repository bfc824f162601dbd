"""The conversation log's SQLite file: its schema, and every statement that writes or reads it.

The recorder (faqbot/recorder.py) writes through ``connect``, ``insert`` and ``purge``; the report
(faqbot/report.py) reads through ``open_readonly`` and the query functions below. No other module writes SQL
against the log, so a schema change happens here and nowhere else.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .exceptions import ConfigError

log = logging.getLogger("faqbot.recorder")

SCHEMA_VERSION = 1
BUSY_TIMEOUT = 5.0  # seconds to wait for another process (worker) holding the write lock
KINDS = ("answer", "clarify", "fallback", "smalltalk", "crisis", "referral")  # reply types counted per day

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

# A turn row as the recorder queues it, in _INSERT_TURN's column order; a vote row likewise.
TurnRow = tuple[float, str, str, str, str, str, str | None, float, str | None]
VoteRow = tuple[float, str, str, str]

# --- writing -----------------------------------------------------------------------------------------


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) a conversation log for writing, in WAL mode, with the current schema."""
    fix = "point --log-db (FAQBOT_LOG_DB) at a writable file, or turn logging off with --no-log"
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
                              f"or {fix}")
        if version < SCHEMA_VERSION:
            db.executescript(SCHEMA)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return db
    except (sqlite3.Error, OSError) as exc:
        raise ConfigError(f"cannot use {path} as the conversation log ({exc}); {fix}") from None


def session_key(db: sqlite3.Connection) -> bytes:
    """The per-log secret session ids are hashed with; stored in the log so every worker process agrees."""
    with db:
        db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('session_key', ?)", (secrets.token_hex(32),))
    return bytes.fromhex(db.execute("SELECT value FROM meta WHERE key = 'session_key'").fetchone()[0])


def insert(db: sqlite3.Connection, turns: Sequence[tuple[Any, ...]], votes: Sequence[tuple[Any, ...]]) -> None:
    """Write turns and votes in one transaction (all or none)."""
    with db:
        db.executemany(_INSERT_TURN, turns)
        db.executemany(_INSERT_VOTE, votes)


def purge(db: sqlite3.Connection, before: float) -> int:
    """Delete turns and votes older than the unix time ``before``; how many rows went."""
    with db:
        gone = db.execute("DELETE FROM turns WHERE ts < ?", (before,)).rowcount
        gone += db.execute("DELETE FROM feedback WHERE ts < ?", (before,)).rowcount
    return int(gone)


# --- reading -----------------------------------------------------------------------------------------


def open_readonly(path: str | Path) -> sqlite3.Connection:
    """Open an existing log read-only; errors say which flag points at the right file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"no conversation log at {p}; pass --db with the server's --log-db file (or set "
                          "FAQBOT_LOG_DB), or run the server with logging on to start one")
    try:
        db = sqlite3.connect(p.resolve().as_uri() + "?mode=ro", uri=True, timeout=BUSY_TIMEOUT)
        version = db.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot read {p} ({exc}); is it a faqbot conversation log?") from None
    if version == 0 or version > SCHEMA_VERSION:
        db.close()
        why = "is not a faqbot conversation log" if version == 0 else "was written by a newer faqbot; upgrade"
        raise ConfigError(f"{p} {why} (log schema {version})")
    return db


def day_counts(db: sqlite3.Connection, since: float) -> dict[str, dict[str, int]]:
    """Per UTC day: ``turns``, one count per reply type in ``KINDS``, and the latest ``up``/``down`` votes."""
    kinds = ", ".join(f"SUM(type = '{k}')" for k in KINDS)
    rows: dict[str, dict[str, int]] = {}
    for day, turns, *counts in db.execute(f"SELECT date(ts, 'unixepoch') AS day, COUNT(*), {kinds} FROM turns "
                                          "WHERE ts >= ? GROUP BY day", (since,)):
        rows[day] = {"turns": turns, **dict(zip(KINDS, counts))}
    for day, up, down in db.execute(f"WITH {_VOTES} SELECT date(ts, 'unixepoch') AS day, SUM(vote = 'up'), "
                                    "SUM(vote = 'down') FROM votes WHERE ts >= ? GROUP BY day", (since,)):
        rows.setdefault(day, {}).update(up=up, down=down)
    return rows


def unanswered(db: sqlite3.Connection, since: float) -> list[tuple[str, float]]:
    """(text, ts) of every fallback turn."""
    return [(t, ts) for t, ts in db.execute("SELECT text, ts FROM turns WHERE type = 'fallback' AND ts >= ?",
                                            (since,))]


def weak_answers(db: sqlite3.Connection, below: float, since: float, *,
                 drop_voted_down: bool = False) -> list[tuple[str, float, str | None, float]]:
    """(text, ts, entry, confidence) of answers given at confidence below ``below``; optionally without the
    answers whose latest vote is a thumbs down."""
    if not drop_voted_down:
        return db.execute("SELECT text, ts, entry, confidence FROM turns WHERE type = 'answer' AND confidence < ? "
                          "AND ts >= ?", (below, since)).fetchall()
    return db.execute(f"WITH {_VOTES} SELECT t.text, t.ts, t.entry, t.confidence FROM turns t LEFT JOIN votes v "
                      "ON v.session = t.session AND v.turn = t.turn WHERE t.type = 'answer' AND t.confidence < ? "
                      "AND t.ts >= ? AND (v.vote IS NULL OR v.vote = 'up')", (below, since)).fetchall()


def voted_down(db: sqlite3.Connection, since: float) -> list[tuple[str, float, str | None, float]]:
    """(text, ts, entry, confidence) of answers whose latest vote is a thumbs down."""
    return db.execute(f"WITH {_VOTES} SELECT t.text, t.ts, t.entry, t.confidence FROM turns t JOIN votes v "
                      "ON v.session = t.session AND v.turn = t.turn WHERE t.type = 'answer' AND v.vote = 'down' "
                      "AND t.ts >= ?", (since,)).fetchall()


def answers_per_entry(db: sqlite3.Connection, since: float) -> dict[str, int]:
    return dict(db.execute("SELECT entry, COUNT(*) FROM turns WHERE type = 'answer' AND ts >= ? GROUP BY entry",
                           (since,)).fetchall())


def votes_per_entry(db: sqlite3.Connection, since: float) -> list[tuple[str, int, int]]:
    """(entry, downs, ups) over the latest vote on each answered turn."""
    return db.execute(f"WITH {_VOTES} SELECT t.entry, SUM(v.vote = 'down'), SUM(v.vote = 'up') FROM turns t "
                      "JOIN votes v ON v.session = t.session AND v.turn = t.turn "
                      "WHERE t.type = 'answer' AND t.ts >= ? GROUP BY t.entry", (since,)).fetchall()


def clarified(db: sqlite3.Connection, since: float) -> list[tuple[str, tuple[str, ...], str | None, float]]:
    """Each clarification: its question, the options, the entry picked (None: neither) and when."""
    rows = db.execute("SELECT text, options, next_type, next_entry, ts FROM ("
                      " SELECT text, options, type, ts, LEAD(type) OVER w AS next_type, LEAD(entry) OVER w AS next_entry"
                      " FROM turns WHERE ts >= ? WINDOW w AS (PARTITION BY session ORDER BY ts, id)"
                      ") WHERE type = 'clarify'", (since,)).fetchall()
    out = []
    for text, options, next_type, next_entry, ts in rows:
        offered = tuple(json.loads(options)) if options else ()
        picked = next_entry if next_type == "answer" and next_entry in offered else None
        out.append((text, offered, picked, ts))
    return out
