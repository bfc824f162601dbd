"""Callback requests in PostgreSQL: chosen by faqbot/callback_store.py when the location is a ``postgresql://`` URL.

Several servers of one deployment then share the requests, and staff read them with ``faqbot callbacks`` from any
machine. The table is ``faqbot_callbacks``, with its schema version in ``faqbot_callbacks_meta`` (apart from the
conversation log's ``faqbot_meta``, so the two can share a database or not). Errors carry only PostgreSQL's first
line and the URL without its password: never a visitor's contact details.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .exceptions import ConfigError
from .logstore import describe

try:
    import psycopg
    import psycopg_pool
    from psycopg.rows import dict_row
except ImportError:  # pragma: no cover - depends on the install
    psycopg = None  # type: ignore[assignment]
    psycopg_pool = None  # type: ignore[assignment]

SCHEMA_VERSION = 1
CONNECT_TIMEOUT = 10  # seconds
POOL_TIMEOUT = 10.0  # seconds to wait for a connection before the operation fails
LOCK = 0x46414A43  # pg_advisory_xact_lock key while creating the schema ("FAQC"; the log uses "FAQB")

SCHEMA = """
CREATE TABLE IF NOT EXISTS faqbot_callbacks (
    id text PRIMARY KEY,
    created double precision NOT NULL,     -- unix time, UTC
    name text NOT NULL,
    phone text NOT NULL DEFAULT '',
    email text NOT NULL DEFAULT '',
    best_time text NOT NULL,
    note text NOT NULL DEFAULT '',
    channel text NOT NULL DEFAULT '',
    notified double precision,             -- when every configured notification went out; NULL: not (yet)
    attempts integer NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS faqbot_callbacks_created ON faqbot_callbacks (created);
"""
_META = "CREATE TABLE IF NOT EXISTS faqbot_callbacks_meta (key text PRIMARY KEY, value text NOT NULL)"


class PostgresCallbacks:
    """The callbacks table through a small pool: a connection lost to a restart is replaced on the next use."""

    table = "faqbot_callbacks"

    def __init__(self, url: str) -> None:
        if psycopg is None or psycopg_pool is None:
            raise ConfigError("postgresql:// callback storage needs the PostgreSQL driver: "
                              "pip install 'faqbot[postgres]' (psycopg and psycopg-pool)")
        self.where = describe(url)
        try:
            with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT) as conn, conn.transaction():
                _set_up(conn, self.where)
        except psycopg.Error as exc:
            raise ConfigError(f"cannot store callback requests in {self.where} ({_first_line(exc)}); check the URL "
                              "and that PostgreSQL is running, or set FAQBOT_CALLBACKS_DB to a file") from None
        self.pool = psycopg_pool.ConnectionPool(url, min_size=1, max_size=2, open=False, timeout=POOL_TIMEOUT,
                                                reconnect_timeout=POOL_TIMEOUT,
                                                kwargs={"connect_timeout": CONNECT_TIMEOUT, "row_factory": dict_row},
                                                check=psycopg_pool.ConnectionPool.check_connection,
                                                name="faqbot-callbacks")
        self.pool.open(wait=False)

    def run(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[Any], int]:
        """One statement in its own transaction; rows (as dicts) and the row count."""
        try:
            with self.pool.connection() as conn, conn.cursor() as cur:  # commits on a clean exit
                cur.execute(sql.replace("?", "%s"), params)
                rows = cur.fetchall() if cur.description is not None else []
                return rows, cur.rowcount
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            # OSError, as for the SQLite file; the first line only: a DETAIL line may quote the row's contact details.
            raise OSError(f"callback storage at {self.where} failed ({_first_line(exc)})") from None

    def close(self) -> None:
        self.pool.close(timeout=POOL_TIMEOUT)


def _set_up(conn: Any, where: str) -> None:
    """Create the table once, one server at a time; refuse a schema written by a newer faqbot."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK,))
    conn.execute(_META)
    row = conn.execute("SELECT value FROM faqbot_callbacks_meta WHERE key = 'schema_version'").fetchone()
    version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        raise ConfigError(f"the callback requests in {where} were written by a newer faqbot (callbacks schema "
                          f"{version}); upgrade faqbot")
    if version < SCHEMA_VERSION:
        conn.execute(SCHEMA)
        conn.execute("INSERT INTO faqbot_callbacks_meta (key, value) VALUES ('schema_version', %s) "
                     "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (str(SCHEMA_VERSION),))


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
