"""The conversation log on both backends: a SQLite file, and a real PostgreSQL (a throwaway cluster, see
tests/pgcluster.py). The same cases run on each; the PostgreSQL-only cases cover what a shared server adds:
a restart mid-stream, a refused row, several recorders and two servers writing to one database."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import websockets

from faqbot import Bot, Recorder, report
from faqbot.accept import Session
from faqbot.cli import main
from faqbot.exceptions import ConfigError
from faqbot.logstore import SCHEMA_VERSION, describe
from faqbot.models import Option, Reply, ReplyType
from faqbot.recorder import CRISIS_TEXT

from conftest import SMALL_KB, ServerFactory
from pgcluster import PgCluster
from test_sessions import redis_url  # noqa: F401 - a fixture: a throwaway redis-server

pytestmark = pytest.mark.postgres
FALLBACK = Reply(ReplyType.FALLBACK, "Sorry, I don't know that one.")
TOKEN = "s3cret-admin-token"


def answer(entry: str, confidence: float = 0.9) -> Reply:
    return Reply(ReplyType.ANSWER, "...", entry=entry, confidence=confidence)


def clarify(*entries: str) -> Reply:
    return Reply(ReplyType.CLARIFY, "Did you mean one of these?", confidence=0.5,
                 options=tuple(Option(e, e) for e in entries))


@pytest.fixture(scope="module")
def pg() -> Iterator[PgCluster]:
    cluster = PgCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(params=["sqlite", "postgres"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty log's location: a file path, or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "log.sqlite3")
    return request.getfixturevalue("pg").create_database()


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kb")
    (root / "faq.yaml").write_text(SMALL_KB, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def bot(kb: Path) -> Bot:
    return Bot.load(kb, encoder="off")


def rows(source: str, table: str, columns: str = "*", where: str = "") -> list[tuple[Any, ...]]:
    """Raw rows of ``turns``, ``feedback`` or ``meta``, whatever the backend."""
    if source.startswith("postgresql://"):
        with psycopg.connect(source) as conn:
            return conn.execute(f"SELECT {columns} FROM faqbot_{table} {where} ORDER BY 1").fetchall()
    with closing(sqlite3.connect(source)) as db:
        return db.execute(f"SELECT {columns} FROM {table} {where} ORDER BY 1").fetchall()


def execute(source: str, sql: str) -> None:
    if source.startswith("postgresql://"):
        with psycopg.connect(source) as conn:
            conn.execute(sql.replace("{t}", "faqbot_"))
    else:
        with closing(sqlite3.connect(source)) as db, db:
            db.execute(sql.replace("{t}", ""))


def record(source: str, *sessions: Iterable[tuple[str, Reply]], votes: Iterable[tuple[int, int, str]] = (),
           prefix: str = "session") -> str:
    with Recorder(source) as rec:
        for s, turns in enumerate(sessions):
            for t, (text, reply) in enumerate(turns):
                rec.record_turn(f"{prefix}-{s:04d}-xxxxxxxx", f"t{t}", text, reply, "test")
        for s, t, vote in votes:
            rec.record_feedback(f"{prefix}-{s:04d}-xxxxxxxx", f"t{t}", vote)
        assert rec.flush(timeout=20)
        assert (rec.dropped, rec.failed) == (0, 0)
    return source


def fill(source: str) -> str:
    """Unanswered, low confidence, votes (one changed), a clarification with a pick, a crisis."""
    return record(source,
                  [("how much does it cost", FALLBACK), ("how much does it cost?", FALLBACK)],
                  [("How much does it cost??", FALLBACK), ("can I bring my dog", FALLBACK)],
                  [("how long r the sessions", clarify("session-length", "effects-length")),
                   ("the first one", answer("session-length", 1.0))],
                  [("how long", clarify("session-length", "effects-length")),
                   ("How long do the effects last?", answer("effects-length", 1.0))],
                  [("help with addiction", answer("alcohol", 0.38)), ("booking", answer("booking", 1.0))],
                  [("I want to end my life", Reply(ReplyType.CRISIS, "Call 988.", confidence=1.0))],
                  votes=[(4, 1, "up"), (4, 1, "down"), (3, 1, "up"), (4, 0, "down")])


def comparable(result: report.Report) -> dict[str, Any]:
    data = result.to_dict()
    for key in ("source", "generated"):
        data.pop(key, None)
    return data


# --- the same cases on both backends -----------------------------------------------------------------


def test_recorded_turns_come_back_through_the_report(source: str, bot: Bot) -> None:
    result = report.build(fill(source), bot=bot)
    assert result.turns == 11
    assert [(g.text.lower().rstrip("?"), g.count) for g in result.unanswered] == [("how much does it cost", 3),
                                                                                  ("can i bring my dog", 1)]
    assert [(e.entry, e.down, e.up) for e in result.thumbs_down] == [("alcohol", 1, 0), ("booking", 1, 0)]
    assert [(g.text, g.count) for g in result.low_confidence] == [("help with addiction", 1)]
    [clarified] = result.clarifications
    assert (set(clarified.options), clarified.offered, dict(clarified.picked), clarified.neither) == (
        {"session-length", "effects-length"}, 2, {"session-length": 1, "effects-length": 1}, 0)
    day = result.days[0]
    assert (day.turns, day.fallback, day.crisis, day.up, day.down) == (11, 4, 1, 1, 2)


def test_both_backends_give_the_same_report(pg: PgCluster, tmp_path: Path, bot: Bot) -> None:
    on_file = report.build(fill(str(tmp_path / "log.sqlite3")), bot=bot)
    on_postgres = report.build(fill(pg.create_database()), bot=bot)
    assert comparable(on_postgres) == comparable(on_file)
    assert on_postgres.to_csv() == on_file.to_csv()
    assert on_postgres.to_table().splitlines()[1:] == on_file.to_table().splitlines()[1:]


def test_questions_are_redacted_crisis_text_is_not_stored_and_sessions_are_hashed(source: str) -> None:
    with Recorder(source) as rec:
        rec.record_turn("raw-session-id-123", "c1", "mail jane.doe@example.com or call 206-589-5958", FALLBACK)
        rec.record_turn("raw-session-id-123", "c2", "i want to end it all tonight",
                        Reply(ReplyType.CRISIS, "Call 988.", confidence=1))
        rec.record_feedback("raw-session-id-123", "c1", "down")
        assert rec.flush(timeout=20)
    turns = rows(source, "turns", "id, session, text, type")
    assert [(t[2], t[3]) for t in turns] == [("mail [email] or call [phone]", "fallback"), (CRISIS_TEXT, "crisis")]
    everything = repr(turns) + repr(rows(source, "feedback")) + repr(rows(source, "meta"))
    for secret in ("raw-session-id-123", "jane.doe", "589-5958", "end it all"):
        assert secret not in everything
    assert len(turns[0][1]) == 32 and turns[0][1] == turns[1][1] == rows(source, "feedback", "session")[0][0]


def test_the_latest_vote_counts(source: str, bot: Bot) -> None:
    record(source, [("how do i book", answer("booking"))], votes=[(0, 0, "down"), (0, 0, "up"), (0, 0, "down")])
    assert len(rows(source, "feedback")) == 3
    result = report.build(source, bot=bot)
    assert [(e.entry, e.down, e.up, e.answers) for e in result.thumbs_down] == [("booking", 1, 0, 1)]
    assert (result.days[0].up, result.days[0].down) == (0, 1)


def test_retention_purges_old_turns_and_votes(source: str) -> None:
    record(source, [("old question", FALLBACK), ("new question", FALLBACK)], votes=[(0, 0, "down"), (0, 1, "up")])
    old = time.time() - 3 * 86_400
    execute(source, f"UPDATE {{t}}turns SET ts = {old} WHERE text = 'old question'")
    execute(source, f"UPDATE {{t}}feedback SET ts = {old} WHERE turn = 't0'")
    with Recorder(source, retention_days=2) as rec:  # a sweep runs as the writer starts
        assert rec.flush(timeout=20)
        deadline = time.monotonic() + 10
        while len(rows(source, "turns")) != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert [r[0] for r in rows(source, "turns", "text")] == ["new question"]
    assert [r[0] for r in rows(source, "feedback", "turn")] == ["t1"]


def test_schema_version_is_recorded_and_a_newer_log_is_refused(source: str) -> None:
    record(source, [("hello", FALLBACK)])
    if source.startswith("postgresql://"):
        assert rows(source, "meta", "key, value", "WHERE key = 'schema_version'") == [("schema_version",
                                                                                      str(SCHEMA_VERSION))]
        execute(source, "UPDATE {t}meta SET value = '99' WHERE key = 'schema_version'")
    else:
        with closing(sqlite3.connect(source)) as db:
            assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
            db.execute("PRAGMA user_version = 99")
    with pytest.raises(ConfigError, match="newer faqbot"):
        Recorder(source)
    with pytest.raises(ConfigError, match="newer faqbot"):
        report.build(source)


def test_two_recorders_on_one_log_share_a_report(source: str, bot: Bot) -> None:
    """Two machines (or workers): both write, one report sees both, and a session hashes the same on each."""
    first, second = Recorder(source), Recorder(source)
    try:
        for i in range(100):
            (first if i % 2 else second).record_turn("shared-session-xxxxxxxx", f"c{i}", "can I bring my dog", FALLBACK)
        assert first.flush(timeout=20) and second.flush(timeout=20)
        assert first.written == second.written == 50
    finally:
        first.close()
        second.close()
    result = report.build(source, bot=bot)
    assert result.turns == 100 and result.unanswered[0].count == 100
    assert len({r[0] for r in rows(source, "turns", "session")}) == 1


def test_cli_report_in_every_format_and_suggest(source: str, kb: Path) -> None:
    fill(source)
    common = ["report", "--db", source, "--knowledge", str(kb), "--encoder", "off"]

    def run(*extra: str) -> str:
        out = io.StringIO()
        assert main([*common, *extra], out=out) == 0
        return out.getvalue()

    assert json.loads(run("--format", "json"))["turns"] == 11
    assert "how much does it cost" in run()
    assert run("--format", "csv").startswith("section,")
    assert "<html" in run("--format", "html").lower()
    assert "how long r the sessions" in run("--suggest")


def test_accept_reads_proposals_from_the_log(source: str, kb: Path) -> None:
    record(source, [("can I bring my dog", FALLBACK)], [("are dogs allowed in the clinic", FALLBACK)])
    found = Session.open(kb, log_db=source, encoder="off").proposals()
    assert {p for prop in found for p in prop.phrasings} >= {"can I bring my dog"}


# --- PostgreSQL only ---------------------------------------------------------------------------------


def test_a_url_password_never_reaches_a_report_or_repr(pg: PgCluster) -> None:
    url = "postgresql://faqbot:hunter2@127.0.0.1:5432/log"
    assert describe(url) == "postgresql://faqbot:***@127.0.0.1:5432/log"
    with Recorder(pg.create_database()) as rec:
        assert "hunter2" not in repr(rec)
    with pytest.raises(ConfigError) as caught:
        report.build(url.replace("5432", str(pg.port)))  # wrong password is ignored by trust auth: no such db
    assert "hunter2" not in str(caught.value)


def test_an_empty_database_or_an_unreachable_server_says_what_to_do(pg: PgCluster) -> None:
    with pytest.raises(ConfigError, match="no conversation log"):
        report.build(pg.create_database())
    with pytest.raises(ConfigError, match="PostgreSQL is running"):
        Recorder("postgresql://faqbot@127.0.0.1:1/nothing")


def test_a_reader_that_loses_postgresql_says_what_to_do(pg: PgCluster) -> None:
    from faqbot.logstore import open_readonly

    url = record(pg.create_database(), [("hello", FALLBACK)])
    with closing(open_readonly(url)) as db:
        assert db.unanswered(0.0)[0][0] == "hello"
        pg.stop("fast")
        try:
            with pytest.raises(ConfigError, match="PostgreSQL is up"):
                db.unanswered(0.0)
        finally:
            pg.start()


def test_the_writer_survives_a_postgresql_restart_mid_stream(pg: PgCluster) -> None:
    url = pg.create_database()
    rec = Recorder(url)
    total = 3000
    sent = threading.Event()

    def produce() -> None:
        for i in range(total):
            rec.record_turn(f"s{i % 50:03d}-xxxxxxxxxxxx", f"c{i}", f"question {i}", FALLBACK)
            time.sleep(0.001)
        sent.set()

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        time.sleep(0.4)
        start = time.perf_counter()
        pg.stop("fast")  # every connection is cut mid-stream
        time.sleep(1.0)
        pg.start()
        outage = time.perf_counter() - start
        producer.join(timeout=60)
        assert sent.is_set()
        assert rec.flush(timeout=60), rec.stats()
        stats = rec.stats()
    finally:
        rec.close()
    assert outage > 1.0
    assert stats["written"] + stats["dropped"] + stats["failed"] == total, stats
    assert (stats["dropped"], stats["failed"], stats["queued"]) == (0, 0, 0), stats
    assert rows(url, "turns", "COUNT(*), COUNT(DISTINCT turn)") == [(total, total)]


def test_while_postgresql_is_down_the_queue_overflow_is_counted_and_close_gives_up(pg: PgCluster) -> None:
    url = pg.create_database()
    rec = Recorder(url)
    total = 11_000  # beyond the queue's 10,000
    try:
        pg.stop("fast")
        start = time.perf_counter()
        for i in range(total):
            rec.record_turn("s-xxxxxxxxxxxxxxxx", f"c{i}", "is there parking", FALLBACK)
        assert time.perf_counter() - start < 5  # replies never wait for the database
        assert rec.dropped >= total - 10_000 - 500  # at most one batch sits with the writer
        pg.start()
        assert rec.flush(timeout=60), rec.stats()
        assert rec.written + rec.dropped == total and rec.failed == 0
        assert rows(url, "turns", "COUNT(*)") == [(rec.written,)]
        pg.stop("fast")
        for i in range(100):
            rec.record_turn("s-xxxxxxxxxxxxxxxx", f"d{i}", "is there parking", FALLBACK)
        start = time.perf_counter()
        rec.close()  # retries for a few seconds, then counts what it could not write
        assert time.perf_counter() - start < 15
        assert rec.failed == 100 and rec.written + rec.dropped + rec.failed == total + 100
    finally:
        rec.close()
        try:
            pg.start()
        except RuntimeError:
            pass  # already running


def test_a_row_postgresql_refuses_is_counted_and_the_batch_survives(pg: PgCluster) -> None:
    url = pg.create_database()
    with Recorder(url) as rec:
        rec.record_turn("s-xxxxxxxxxxxxxxxx", "c1", "before", FALLBACK)
        assert rec.flush(timeout=20)
        good = (time.time(), "0" * 32, "c2", "test", "fine", "fallback", None, 0.0, None)
        bad = (time.time(), "0" * 32, "c3", "test", "broken", "fallback", None, "not a number", None)
        for item in (good, bad, good):  # one batch with a row the column type refuses
            rec._put(("turn", item))
        assert rec.flush(timeout=20)
        rec.record_turn("s-xxxxxxxxxxxxxxxx", "c4", "after\x00wards", FALLBACK)  # NUL: removed, not refused
        assert rec.flush(timeout=20)
        assert (rec.written, rec.failed) == (4, 1)
    assert [r[1] for r in rows(url, "turns", "id, text")] == ["before", "fine", "fine", "afterwards"]


def test_two_servers_write_to_one_database_and_one_report_sees_both(pg: PgCluster, live_server: ServerFactory,
                                                                    kb: Path) -> None:
    url = pg.create_database()
    servers = [live_server(kb, logging=True, log_db=url, admin_token=TOKEN, encoder="off") for _ in range(2)]
    questions = ("can I bring my dog", "is there parking nearby")
    for srv, question in zip(servers, questions):
        for i in range(3):
            reply = httpx.post(srv.url + "/api/ask", json={"text": question + "?" * i}).json()
            assert reply["reply"]["type"] == "fallback"
    deadline = time.monotonic() + 15
    while True:  # each writer commits in the background, within moments
        data = httpx.get(servers[0].url + "/admin/report", headers={"authorization": f"Bearer {TOKEN}"}).json()
        if data["turns"] == 6 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert data["turns"] == 6 and data["source"] == url
    out = io.StringIO()
    assert main(["report", "--db", url, "--knowledge", str(kb), "--encoder", "off", "--format", "json"], out=out) == 0
    assert sorted((g["text"], g["count"]) for g in json.loads(out.getvalue())["unanswered"]) == [
        ("can I bring my dog", 3), ("is there parking nearby", 3)]


@pytest.mark.redis
def test_two_servers_sharing_redis_and_postgresql_log_one_conversation(pg: PgCluster, live_server: ServerFactory,
                                                                       kb: Path, redis_url: str) -> None:  # noqa: F811
    """A clarification asked on one server, picked on the other, voted on back on the first: one session in the log
    (both servers hash it with the one key kept in PostgreSQL), so the report joins the pick and the vote."""
    url = pg.create_database()
    a, b = (live_server(kb, logging=True, log_db=url, sessions=redis_url, admin_token=TOKEN, encoder="off")
            for _ in range(2))

    async def talk() -> list[dict[str, Any]]:
        replies = []
        async with websockets.connect(a.ws_url) as ws:
            welcome = json.loads(await ws.recv())
            keys = f"session={welcome['session']}&secret={welcome['secret']}"
            await ws.send(json.dumps({"type": "message", "id": "c1", "text": "how long"}))
            replies.append(json.loads(await ws.recv()))
        async with websockets.connect(f"{b.ws_url}?{keys}") as ws:
            assert json.loads(await ws.recv())["resumed"] is True
            await ws.send(json.dumps({"type": "pick", "id": "c2", "entry": "session-length"}))
            replies.append(json.loads(await ws.recv()))
            await ws.send(json.dumps({"type": "message", "id": "c3", "text": "is there parking nearby"}))
            replies.append(json.loads(await ws.recv()))
        async with websockets.connect(f"{a.ws_url}?{keys}") as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "feedback", "id": "c4", "reply": "c2", "vote": "down"}))
            replies.append(json.loads(await ws.recv()))
        return replies

    replies = asyncio.run(asyncio.wait_for(talk(), 30))
    assert [r["reply"]["type"] for r in replies[:3]] == ["clarify", "answer", "fallback"]
    deadline = time.monotonic() + 15
    while len(rows(url, "turns")) < 3 or not rows(url, "feedback"):
        assert time.monotonic() < deadline, "the servers' writers never committed"
        time.sleep(0.1)
    result = report.build(url)
    assert result.turns == 3 and len({r[0] for r in rows(url, "turns", "session")}) == 1
    [clarified] = result.clarifications
    assert dict(clarified.picked) == {"session-length": 1, "effects-length": 0}
    assert [(e.entry, e.down) for e in result.thumbs_down] == [("session-length", 1)]
    assert [(g.text, g.count) for g in result.unanswered] == [("is there parking nearby", 1)]
