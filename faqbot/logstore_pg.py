"""The conversation log in PostgreSQL: one database shared by every server of a deployment.

Chosen by faqbot/logstore.py when the log's location is a ``postgresql://`` URL. The writer goes through a
``psycopg_pool`` pool, so a connection lost to a restart or a network cut is replaced on the next batch; readers
open one plain connection. Tables are prefixed ``faqbot_`` so the log can share a database with other software;
``faqbot_meta`` holds the schema version and the session-hashing key, written once under an advisory lock so
several servers starting together agree.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from .exceptions import ConfigError
from .logstore import BUSY_TIMEOUT, FIX, KINDS, SCHEMA_VERSION, Clarified, Scored, clarified_rows, describe

try:
    import psycopg
    import psycopg_pool
except ImportError:  # pragma: no cover - depends on the install
    psycopg = None  # type: ignore[assignment]
    psycopg_pool = None  # type: ignore[assignment]

CONNECT_TIMEOUT = 10  # seconds
LOCK = 0x46414A42  # pg_advisory_xact_lock key while creating or migrating the schema ("FAQB")

SCHEMA = """
CREATE TABLE IF NOT EXISTS faqbot_turns (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts double precision NOT NULL,          -- unix time, UTC
    session text NOT NULL,                 -- keyed hash of the session id, never the id itself
    turn text NOT NULL,                    -- the client's frame id (websocket) or the /api/ask turn id
    channel text NOT NULL,                 -- ws, http, python, ...
    text text NOT NULL,                    -- the question, redacted
    type text NOT NULL,                    -- ReplyType value
    entry text,
    confidence double precision NOT NULL,
    options text                           -- clarify: JSON list of the entry ids offered
);
CREATE INDEX IF NOT EXISTS faqbot_turns_ts ON faqbot_turns (ts);
CREATE INDEX IF NOT EXISTS faqbot_turns_session ON faqbot_turns (session, ts);
CREATE TABLE IF NOT EXISTS faqbot_feedback (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts double precision NOT NULL,
    session text NOT NULL,
    turn text NOT NULL,
    vote text NOT NULL CHECK (vote IN ('up', 'down'))
);
CREATE INDEX IF NOT EXISTS faqbot_feedback_turn ON faqbot_feedback (session, turn);
CREATE INDEX IF NOT EXISTS faqbot_feedback_ts ON faqbot_feedback (ts);
"""
_META = "CREATE TABLE IF NOT EXISTS faqbot_meta (key text PRIMARY KEY, value text NOT NULL)"
_INSERT_TURN = ("INSERT INTO faqbot_turns (ts, session, turn, channel, text, type, entry, confidence, options) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)")
_INSERT_VOTE = "INSERT INTO faqbot_feedback (ts, session, turn, vote) VALUES (%s, %s, %s, %s)"
# The latest vote per turn: a visitor may change their mind.
_VOTES = ("votes AS (SELECT DISTINCT ON (session, turn) session, turn, vote, ts FROM faqbot_feedback "
          "ORDER BY session, turn, id DESC)")
_DAY = "to_char(to_timestamp(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


def _need_driver() -> None:
    if psycopg is None or psycopg_pool is None:
        raise ConfigError("a postgresql:// conversation log needs the PostgreSQL driver: "
                          "pip install 'faqbot[postgres]' (psycopg and psycopg-pool)")


class PostgresLog:
    """The log in PostgreSQL; a writer holds a one-connection pool, a reader one read-only connection."""

    def __init__(self, url: str, *, pool: Any = None, conn: Any = None, key: bytes = b"") -> None:
        self.url = url
        self.source = describe(url)
        self.pool = pool
        self.conn = conn
        self._key = key

    @classmethod
    def open(cls, url: str, *, write: bool) -> PostgresLog:
        """Connect; a writer creates or checks the schema first, a reader only checks it."""
        _need_driver()
        where = describe(url)
        try:
            conn = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, autocommit=not write)
        except psycopg.Error as exc:
            raise ConfigError(f"cannot connect to the conversation log at {where} ({_first_line(exc)}); check the "
                              f"URL and that PostgreSQL is running, or {FIX}") from None
        try:
            if not write:
                conn.execute("SET default_transaction_read_only = on")  # reading never writes to the log
                _version(conn, where)
                return cls(url, conn=conn)
            with conn, conn.transaction():  # closes the set-up connection; the writer uses the pool
                key = _set_up(conn, where)
        except ConfigError:
            conn.close()
            raise
        except psycopg.Error as exc:
            conn.close()
            raise ConfigError(f"cannot use {where} as the conversation log ({_first_line(exc)}); {FIX}") from None
        # A short reconnect_timeout: the pool gives up its own backoff (1, 2, 4... s) quickly, and the writer's next
        # attempt starts a fresh connection, so the log catches up within seconds of PostgreSQL coming back.
        pool = psycopg_pool.ConnectionPool(url, min_size=1, max_size=1, open=False, timeout=BUSY_TIMEOUT,
                                           reconnect_timeout=BUSY_TIMEOUT,
                                           kwargs={"connect_timeout": CONNECT_TIMEOUT},
                                           check=psycopg_pool.ConnectionPool.check_connection,
                                           name="faqbot-log")
        pool.open(wait=False)
        return cls(url, pool=pool, key=key)

    # --- writing -------------------------------------------------------------------------------------

    def session_key(self) -> bytes:
        return self._key

    def insert(self, turns: Sequence[tuple[Any, ...]], votes: Sequence[tuple[Any, ...]]) -> None:
        """Write turns and votes in one transaction (all or none)."""
        with self.pool.connection() as conn, conn.cursor() as cur:  # commits on a clean exit
            if turns:
                cur.executemany(_INSERT_TURN, turns)
            if votes:
                cur.executemany(_INSERT_VOTE, votes)

    def purge(self, before: float) -> int:
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute("DELETE FROM faqbot_turns WHERE ts < %s", (before,))
            gone = cur.rowcount
            cur.execute("DELETE FROM faqbot_feedback WHERE ts < %s", (before,))
            return int(gone + cur.rowcount)

    def transient(self, exc: BaseException) -> bool:
        """A lost or refused connection (worth retrying), rather than a row PostgreSQL refuses."""
        return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError, psycopg_pool.PoolTimeout))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close(timeout=BUSY_TIMEOUT)
        if self.conn is not None:
            self.conn.close()

    # --- reading -------------------------------------------------------------------------------------

    def _all(self, sql: str, *params: Any) -> list[Any]:
        try:
            return self.conn.execute(sql, params).fetchall()
        except psycopg.OperationalError as exc:
            raise ConfigError(f"lost the connection to the conversation log at {self.source} while reading "
                              f"({_first_line(exc)}); check that PostgreSQL is up and run the command again") from None

    def day_counts(self, since: float) -> dict[str, dict[str, int]]:
        kinds = ", ".join(f"SUM((type = '{k}')::int)" for k in KINDS)
        rows: dict[str, dict[str, int]] = {}
        for day, turns, *counts in self._all(f"SELECT {_DAY} AS day, COUNT(*), {kinds} FROM faqbot_turns "
                                             "WHERE ts >= %s GROUP BY day", since):
            rows[day] = {"turns": turns, **dict(zip(KINDS, counts))}
        for day, up, down in self._all(f"WITH {_VOTES} SELECT {_DAY} AS day, SUM((vote = 'up')::int), "
                                       "SUM((vote = 'down')::int) FROM votes WHERE ts >= %s GROUP BY day", since):
            rows.setdefault(day, {}).update(up=up, down=down)
        return rows

    def unanswered(self, since: float) -> list[tuple[str, float]]:
        return [(t, ts) for t, ts in self._all("SELECT text, ts FROM faqbot_turns WHERE type = 'fallback' "
                                               "AND ts >= %s ORDER BY id", since)]

    def weak_answers(self, below: float, since: float, *, drop_voted_down: bool = False) -> list[Scored]:
        if not drop_voted_down:
            return self._all("SELECT text, ts, entry, confidence FROM faqbot_turns WHERE type = 'answer' "
                             "AND confidence < %s AND ts >= %s ORDER BY id", below, since)
        return self._all(f"WITH {_VOTES} SELECT t.text, t.ts, t.entry, t.confidence FROM faqbot_turns t "
                         "LEFT JOIN votes v ON v.session = t.session AND v.turn = t.turn WHERE t.type = 'answer' "
                         "AND t.confidence < %s AND t.ts >= %s AND (v.vote IS NULL OR v.vote = 'up') ORDER BY t.id",
                         below, since)

    def voted_down(self, since: float) -> list[Scored]:
        return self._all(f"WITH {_VOTES} SELECT t.text, t.ts, t.entry, t.confidence FROM faqbot_turns t "
                         "JOIN votes v ON v.session = t.session AND v.turn = t.turn WHERE t.type = 'answer' "
                         "AND v.vote = 'down' AND t.ts >= %s ORDER BY t.id", since)

    def answers_per_entry(self, since: float) -> dict[str, int]:
        return dict(self._all("SELECT entry, COUNT(*) FROM faqbot_turns WHERE type = 'answer' AND ts >= %s "
                              "GROUP BY entry", since))

    def votes_per_entry(self, since: float) -> list[tuple[str, int, int]]:
        return self._all(f"WITH {_VOTES} SELECT t.entry, SUM((v.vote = 'down')::int), SUM((v.vote = 'up')::int) "
                         "FROM faqbot_turns t JOIN votes v ON v.session = t.session AND v.turn = t.turn "
                         "WHERE t.type = 'answer' AND t.ts >= %s GROUP BY t.entry", since)

    def clarified(self, since: float) -> list[Clarified]:
        return clarified_rows(self._all(
            "SELECT text, options, next_type, next_entry, ts FROM ("
            " SELECT id, text, options, type, ts, LEAD(type) OVER w AS next_type, LEAD(entry) OVER w AS next_entry"
            " FROM faqbot_turns WHERE ts >= %s WINDOW w AS (PARTITION BY session ORDER BY ts, id)"
            ") AS seq WHERE type = 'clarify' ORDER BY id", since))


def _version(conn: Any, where: str) -> int:
    """The log's schema version; a ConfigError when there is no log there or a newer faqbot wrote it."""
    if conn.execute("SELECT to_regclass('faqbot_meta')").fetchone()[0] is None:
        raise ConfigError(f"no conversation log in {where} yet; run the server with --log-db {where} and logging "
                          "on to start one, or pass --db with the server's --log-db")
    row = conn.execute("SELECT value FROM faqbot_meta WHERE key = 'schema_version'").fetchone()
    version = int(row[0]) if row else 0
    if version == 0 or version > SCHEMA_VERSION:
        why = "has no faqbot log schema" if version == 0 else "was written by a newer faqbot; upgrade faqbot"
        raise ConfigError(f"{where} {why} (log schema {version})")
    return version


def _set_up(conn: Any, where: str) -> bytes:
    """Create or migrate the schema, one server at a time; return the session-hashing key."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK,))
    conn.execute(_META)
    row = conn.execute("SELECT value FROM faqbot_meta WHERE key = 'schema_version'").fetchone()
    version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        raise ConfigError(f"{where} was written by a newer faqbot (log schema {version}); upgrade faqbot, or {FIX}")
    if version < SCHEMA_VERSION:
        conn.execute(SCHEMA)
        conn.execute("INSERT INTO faqbot_meta (key, value) VALUES ('schema_version', %s) "
                     "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (str(SCHEMA_VERSION),))
    conn.execute("INSERT INTO faqbot_meta (key, value) VALUES ('session_key', %s) ON CONFLICT (key) DO NOTHING",
                 (secrets.token_hex(32),))
    return bytes.fromhex(conn.execute("SELECT value FROM faqbot_meta WHERE key = 'session_key'").fetchone()[0])


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
