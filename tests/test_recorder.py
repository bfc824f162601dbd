"""The conversation log: what the recorder writes, what it never writes, and that it survives a crash."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from faqbot import Bot, Recorder, report
from faqbot.exceptions import ConfigError
from faqbot.models import Reply, ReplyType
from faqbot.recorder import CRISIS_TEXT, redact

from conftest import REPO, SMALL_KB, ServerFactory

SESSION = "Yq3v0Jt9b2C6kqR1XUw8Dg"
TOKEN = "s3cret-admin-token"


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Bot:
    kb = tmp_path_factory.mktemp("kb")
    (kb / "faq.yaml").write_text(SMALL_KB, encoding="utf-8")
    return Bot.load(kb)


def rows(path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(sql, params).fetchall()


# --- recording ---------------------------------------------------------------------------------------


def test_turns_and_feedback_are_visible_after_flush(tmp_path: Path, bot: Bot) -> None:
    path = tmp_path / "log.sqlite3"
    with Recorder(path) as rec:
        rec.record_turn(SESSION, "c1", "how do i book?", bot.ask("how do i book?"), "ws")
        rec.record_feedback(SESSION, "c1", "up")
        assert rec.flush()
        turns = rows(path, "SELECT turn, channel, text, type, entry, confidence FROM turns")
        votes = rows(path, "SELECT turn, vote FROM feedback")
    assert [t[:5] for t in turns] == [("c1", "ws", "how do i book?", "answer", "booking")]
    assert turns[0][5] >= 0.4
    assert votes == [("c1", "up")]


def test_the_python_api_records_a_conversation(tmp_path: Path, bot: Bot) -> None:
    # As in docs/learning.md (whose example asks the bundled KB).
    with Recorder(tmp_path / "log.sqlite3") as rec:
        conv = bot.conversation()
        for i, question in enumerate(["how long", "the first one"]):
            rec.record_turn("my-session", f"t{i}", question, conv.ask(question))
    types = rows(tmp_path / "log.sqlite3", "SELECT type, channel FROM turns ORDER BY id")
    assert types == [("clarify", "python"), ("answer", "python")]


def test_clarify_turns_keep_the_options_offered(tmp_path: Path, bot: Bot) -> None:
    path = tmp_path / "log.sqlite3"
    with Recorder(path) as rec:
        reply = bot.ask("how long")
        assert reply.type is ReplyType.CLARIFY
        rec.record_turn(SESSION, "c1", "how long", reply, "ws")
    [(options,)] = rows(path, "SELECT options FROM turns")
    assert sorted(json.loads(options)) == ["effects-length", "session-length"]


def test_session_ids_are_stored_only_as_a_keyed_hash(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    fallback = Reply(ReplyType.FALLBACK, "Sorry.")
    with Recorder(path) as rec:
        rec.record_turn(SESSION, "c1", "hello there", fallback)
        rec.record_turn(SESSION, "c2", "anyone?", fallback)
        rec.record_turn("another-session-id", "c1", "hi", fallback)
    sessions = [s for (s,) in rows(path, "SELECT session FROM turns ORDER BY id")]
    assert sessions[0] == sessions[1] != sessions[2]
    assert all(SESSION not in s and len(s) == 32 for s in sessions)
    assert SESSION.encode() not in path.read_bytes()


def test_two_recorders_on_one_log_agree_on_sessions(tmp_path: Path) -> None:
    """Several server workers share one file: a vote taken by one must meet the turn another recorded."""
    path = tmp_path / "log.sqlite3"
    with Recorder(path) as first, Recorder(path) as second:
        first.record_turn(SESSION, "c1", "is it safe?", Reply(ReplyType.ANSWER, "Yes.", entry="safety"))
        second.record_feedback(SESSION, "c1", "down")
    result = report.build(path)
    assert [(e.entry, e.down) for e in result.thumbs_down] == [("safety", 1)]


def test_crisis_messages_are_counted_but_their_text_is_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    with Recorder(path) as rec:
        rec.record_turn(SESSION, "c1", "i want to end it all tonight", Reply(ReplyType.CRISIS, "Call 988.", confidence=1))
    assert rows(path, "SELECT type, text FROM turns") == [("crisis", CRISIS_TEXT)]
    assert b"end it all" not in path.read_bytes()


def test_recording_never_waits_for_the_database(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    rec = Recorder(path)
    rec.flush()
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
    try:
        start = time.perf_counter()
        for i in range(300):
            rec.record_turn(SESSION, f"c{i}", "how much does it cost", Reply(ReplyType.FALLBACK, "Sorry."))
        assert time.perf_counter() - start < 0.5
    finally:
        threading.Timer(0.5, blocker.rollback).start()
    assert rec.flush(timeout=10)
    rec.close()
    assert rows(path, "SELECT COUNT(*) FROM turns") == [(300,)]


def test_recorder_closes_cleanly_and_ignores_later_turns(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "log.sqlite3")
    rec.close()
    rec.close()
    rec.record_turn(SESSION, "c1", "too late", Reply(ReplyType.FALLBACK, "Sorry."))
    assert rec.flush()
    assert rows(tmp_path / "log.sqlite3", "SELECT COUNT(*) FROM turns") == [(0,)]


def test_a_bad_vote_is_refused_with_the_allowed_values(tmp_path: Path) -> None:
    with Recorder(tmp_path / "log.sqlite3") as rec, pytest.raises(ValueError, match="'up' or 'down'"):
        rec.record_feedback(SESSION, "c1", "meh")


def test_an_unusable_path_says_how_to_fix_it(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    with pytest.raises(ConfigError, match="--no-log"):
        Recorder(tmp_path / "a-file" / "log.sqlite3")
    (tmp_path / "junk.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigError, match="--log-db"):
        Recorder(tmp_path / "junk.sqlite3")


# --- redaction -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("my email is jane.doe+faq@example.co.uk thanks", "my email is [email] thanks"),
    ("call me at (425) 654-5433", "call me at [phone]"),
    ("206-589-5958", "[phone]"),
    ("+1 206 589 5958 after 5", "[phone] after 5"),
    ("my number 2065895958", "my number [phone]"),
    ("206.589.5958 or 1-800-662-4357", "[phone] or [phone]"),
    ("in london +44 20 7946 0958", "in london [phone]"),
    ("text 654-5433", "text [phone]"),
    ("my card 4111 1111 1111 1111", "my card [number]"),
    ("ssn 123-45-6789, born 1990-04-12", "ssn [number], born [number]"),
    ("patient id 12345678", "patient id [record]"),
])
def test_redaction_replaces_emails_phones_and_long_numbers(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "is 2 sessions a week ok?", "I drink 12 beers a day since 2019", "should i call 988 or 911",
    "is 0.5 mg/kg a normal dose", "does it cost $1,000?", "open 9-5 monday to friday", "how long does it last",
])
def test_redaction_keeps_questions_without_personal_data(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize("text, expected", [
    ("my name is john smith and i drink", "my name is [name] and i drink"),
    ("Hi, I'm Sarah Connor. does it work?", "Hi, I'm [name]. does it work?"),
    ("I live at 42 Elm Street, can i come?", "I live at [address], can i come?"),
    ("born 04/12/1990", "born [date]"),
    ("my birthday is April 12, 1990", "my birthday is [date]"),
    ("email john dot smith at gmail dot com", "email [email]"),
    ("my MRN is AB12345", "my MRN is [record]"),
    ("patient id: 778-2291", "patient id: [record]"),
    ("i am hiv positive, is it safe?", "i am [health status], is it safe?"),
    ("call me Jane", "call me [name]"),
])
def test_redaction_of_names_addresses_dates_spelled_emails_records_and_hiv_status(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "i'm worried about withdrawal", "this is my first time", "look at this dot", "I am not sure it helps",
    "can i drive home after a session", "is it safe with hiv medication", "I drink 12 beers a day since 2019",
])
def test_redaction_leaves_ordinary_questions_alone(text: str) -> None:
    assert redact(text) == text


def test_recorded_text_is_redacted_before_it_reaches_the_disk(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    with Recorder(path) as rec:
        rec.record_turn(SESSION, "c1", "I'm jane@example.com, call (425) 654-5433 about order 99887766",
                        Reply(ReplyType.FALLBACK, "Sorry."))
    assert rows(path, "SELECT text FROM turns") == [("I'm [email], call [phone] about order [number]",)]
    raw = path.read_bytes()
    assert b"jane@example.com" not in raw and b"654-5433" not in raw and b"99887766" not in raw


# --- off, retention, crashes ---------------------------------------------------------------------------


def test_a_disabled_recorder_writes_nothing_and_creates_no_file(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    with Recorder(path, enabled=False) as rec:
        rec.record_turn(SESSION, "c1", "how do i book?", Reply(ReplyType.FALLBACK, "Sorry."))
        rec.record_feedback(SESSION, "c1", "down")
        assert rec.flush()
        assert rec.path is None and not rec.enabled
    assert list(tmp_path.iterdir()) == []


def test_retention_deletes_rows_older_than_the_period_when_the_log_opens(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    with Recorder(path) as rec:
        for turn in ("old", "new"):
            rec.record_turn(SESSION, turn, "how much does it cost", Reply(ReplyType.FALLBACK, "Sorry."))
            rec.record_feedback(SESSION, turn, "down")
    hundred_days_ago = time.time() - 100 * 86_400
    with sqlite3.connect(path) as db:
        db.execute("UPDATE turns SET ts = ? WHERE turn = 'old'", (hundred_days_ago,))
        db.execute("UPDATE feedback SET ts = ? WHERE turn = 'old'", (hundred_days_ago,))
    with Recorder(path, retention_days=120) as rec:
        assert rec.flush()
        assert rows(path, "SELECT COUNT(*) FROM turns") == [(2,)]
    with Recorder(path, retention_days=90) as rec:
        assert rec.flush()
    assert rows(path, "SELECT turn FROM turns") == [("new",)]
    assert rows(path, "SELECT turn FROM feedback") == [("new",)]


def test_retention_must_be_at_least_a_day(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--no-log"):
        Recorder(tmp_path / "log.sqlite3", retention_days=0)


CRASHER = """
import itertools, sys
from faqbot.models import Reply, ReplyType
from faqbot.recorder import Recorder
rec = Recorder(sys.argv[1])
reply = Reply(ReplyType.FALLBACK, "Sorry.")
for i in itertools.count():
    rec.record_turn("Yq3v0Jt9b2C6kqR1XUw8Dg", f"c{i}", "how much does it cost " + "x" * 400, reply, "test")
    if i % 2000 == 0:
        rec.record_feedback("Yq3v0Jt9b2C6kqR1XUw8Dg", f"c{i}", "down")
"""


def test_a_crash_mid_write_leaves_a_readable_database(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for round_ in range(2):
        proc = subprocess.Popen([sys.executable, "-c", CRASHER, str(path)], env=env)
        try:
            deadline = time.monotonic() + 30
            target = 3000 * (round_ + 1)
            while time.monotonic() < deadline:
                if path.exists():
                    try:
                        if rows(path, "SELECT COUNT(*) FROM turns")[0][0] >= target:
                            break
                    except sqlite3.OperationalError:
                        pass  # the schema is still being created
                time.sleep(0.02)
            else:
                pytest.fail("the writer never got going")
        finally:
            proc.send_signal(signal.SIGKILL)  # while it is writing: it always is
            proc.wait(timeout=10)
        assert rows(path, "PRAGMA integrity_check") == [("ok",)]
        assert rows(path, "PRAGMA journal_mode") == [("wal",)]
    count = rows(path, "SELECT COUNT(*) FROM turns")[0][0]
    assert count >= 6000
    assert rows(path, "SELECT DISTINCT text FROM turns") == [("how much does it cost " + "x" * 400,)]
    with Recorder(path) as rec:  # and the log carries on
        rec.record_turn(SESSION, "after", "still there?", Reply(ReplyType.FALLBACK, "Sorry."))
    assert rows(path, "SELECT COUNT(*) FROM turns")[0][0] == count + 1
    assert report.build(path).unanswered[0].count == count


# --- the server ----------------------------------------------------------------------------------------


async def _ws_script(url: str) -> tuple[str, list[dict[str, Any]]]:
    async with websockets.connect(url) as ws:
        welcome = json.loads(await ws.recv())
        answers = []
        for frame in ({"type": "message", "id": "c1", "text": "how do i book?"},
                      {"type": "message", "id": "c2", "text": "how long"},
                      {"type": "pick", "id": "c3", "entry": "session-length"},
                      {"type": "message", "id": "c4", "text": "can jane@example.com text 206-589-5958 about parking"},
                      {"type": "feedback", "id": "c5", "reply": "c1", "vote": "down"}):
            await ws.send(json.dumps(frame))
            answers.append(json.loads(await ws.recv()))
        return welcome["session"], answers


def _kb(tmp_path: Path) -> Path:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "faq.yaml").write_text(SMALL_KB, encoding="utf-8")
    return kb


def test_the_server_records_turns_and_feedback(live_server: ServerFactory, tmp_path: Path) -> None:
    path = tmp_path / "server-log.sqlite3"
    srv = live_server(_kb(tmp_path), logging=True, log_db=str(path), rate=1000.0, burst=1000)
    session, answers = asyncio.run(asyncio.wait_for(_ws_script(srv.ws_url), 20))
    assert [a["type"] for a in answers] == ["reply"] * 4 + ["ack"]
    asked = httpx.post(srv.url + "/api/ask", json={"text": "how do i book?"}).json()
    voted = httpx.post(srv.url + "/api/feedback", json={"session": asked["session"], "secret": asked["secret"],
                                                        "turn": asked["turn"], "vote": "up"})
    assert voted.status_code == 200
    srv.stop()  # shutdown commits what is queued

    turns = rows(path, "SELECT session, turn, channel, text, type, entry, confidence, options FROM turns ORDER BY id")
    assert [(t[1], t[2], t[4], t[5]) for t in turns] == [
        ("c1", "ws", "answer", "booking"), ("c2", "ws", "clarify", None), ("c3", "ws", "answer", "session-length"),
        ("c4", "ws", answers[3]["reply"]["type"], answers[3]["reply"]["entry"]),
        (asked["turn"], "http", "answer", "booking")]
    assert len({t[0] for t in turns[:4]}) == 1 and turns[0][0] != turns[4][0]
    assert session not in {t[0] for t in turns}
    assert sorted(json.loads(turns[1][7])) == ["effects-length", "session-length"]
    assert (turns[2][3], turns[2][6]) == ("How long does a session last?", 1.0)
    assert turns[3][3] == "can [email] text [phone] about parking"
    assert rows(path, "SELECT turn, vote FROM feedback ORDER BY id") == [("c1", "down"), (asked["turn"], "up")]
    result = report.build(path)
    assert [(c.options, dict(c.picked)) for c in result.clarifications] == [
        (("effects-length", "session-length"), {"session-length": 1, "effects-length": 0})]
    assert [(e.entry, e.down, e.up, e.answers) for e in result.thumbs_down] == [("booking", 1, 1, 2)]


def test_the_server_with_logging_off_writes_nothing(live_server: ServerFactory, tmp_path: Path) -> None:
    path = tmp_path / "off.sqlite3"
    srv = live_server(_kb(tmp_path), logging=False, log_db=str(path), rate=1000.0, burst=1000)
    asyncio.run(asyncio.wait_for(_ws_script(srv.ws_url), 20))
    httpx.post(srv.url + "/api/ask", json={"text": "how do i book?"})
    srv.stop()
    assert not path.exists() and not list(tmp_path.glob("off.sqlite3*"))


def test_admin_report_returns_the_report(live_server: ServerFactory, tmp_path: Path) -> None:
    srv = live_server(_kb(tmp_path), logging=True, log_db=str(tmp_path / "log.sqlite3"), admin_token=TOKEN)
    for text in ("how much does it cost", "How much does it cost?", "how much does it cost??"):
        assert httpx.post(srv.url + "/api/ask", json={"text": text}).json()["reply"]["type"] == "fallback"

    def get() -> httpx.Response:
        return httpx.get(srv.url + "/admin/report", headers={"authorization": f"Bearer {TOKEN}"})

    deadline = time.monotonic() + 10
    while True:  # the writer commits in the background, within moments
        response = get()
        assert response.status_code == 200 and response.headers["content-type"] == "application/json"
        data = response.json()
        if data["turns"] == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert data["turns"] == 3
    assert [(g["count"], g["text"]) for g in data["unanswered"]] == [(3, "how much does it cost")]
    assert data["days"][0]["fallback"] == 3


def test_admin_report_limits_days_and_rejects_a_bad_value(live_server: ServerFactory, tmp_path: Path) -> None:
    srv = live_server(_kb(tmp_path), logging=True, log_db=str(tmp_path / "log.sqlite3"), admin_token=TOKEN)
    headers = {"authorization": f"Bearer {TOKEN}"}
    assert httpx.post(srv.url + "/api/ask", json={"text": "how much does it cost"}).json()["reply"]["type"] == "fallback"
    deadline = time.monotonic() + 10
    while httpx.get(srv.url + "/admin/report?days=1", headers=headers).json()["turns"] != 1:
        assert time.monotonic() < deadline, "the turn never reached the report"
        time.sleep(0.1)
    for bad in ("0", "-3", "seven", "1.5"):
        response = httpx.get(srv.url + f"/admin/report?days={bad}", headers=headers)
        assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request", bad


# --- a writer that never dies (issue 15) -----------------------------------------------------------------


def test_a_lone_surrogate_does_not_kill_the_writer(tmp_path: Path, bot: Bot) -> None:
    path = tmp_path / "log.sqlite3"
    with Recorder(path) as rec:
        rec.record_turn(SESSION, "c1\ud800", "how do i book?\ud800", bot.ask("how do i book?"), "ws")
        rec.record_turn(SESSION, "c2", "how do i book?", bot.ask("how do i book?"), "ws")
        assert rec.flush()
        stats = rec.stats()
    texts = rows(path, "SELECT turn, text FROM turns ORDER BY id")
    assert texts == [("c1\ufffd", "how do i book?\ufffd"), ("c2", "how do i book?")]
    assert stats == {"queued": 0, "written": 2, "dropped": 0, "failed": 0}


def test_a_deleted_log_file_is_started_again(tmp_path: Path, bot: Bot) -> None:
    path = tmp_path / "log.sqlite3"
    with Recorder(path) as rec:
        rec.record_turn(SESSION, "c1", "how do i book?", bot.ask("how do i book?"), "ws")
        assert rec.flush()
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        rec.record_turn(SESSION, "c2", "how do i book?", bot.ask("how do i book?"), "ws")
        assert rec.flush()
    assert rows(path, "SELECT turn FROM turns") == [("c2",)]


def test_a_full_queue_drops_with_a_count(tmp_path: Path, bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    import faqbot.recorder as recorder

    monkeypatch.setattr(recorder, "MAX_QUEUE", 5)
    reply = bot.ask("how do i book?")
    rec = Recorder(tmp_path / "log.sqlite3")
    with rec._lock:  # hold nothing the writer needs; just fill faster than one batch can drain
        for i in range(200):
            rec.record_turn(SESSION, f"c{i}", "how do i book?", reply, "ws")
    rec.flush()
    rec.close()
    stats = rec.stats()
    assert stats["written"] + stats["dropped"] == 200
    written = rows(tmp_path / "log.sqlite3", "SELECT count(*) FROM turns")[0][0]
    assert written == stats["written"]


def test_a_client_chosen_frame_id_is_redacted_too(tmp_path: Path, bot: Bot) -> None:
    path = tmp_path / "log.sqlite3"
    with Recorder(path) as rec:
        rec.record_turn(SESSION, "jane.doe@example.com", "how do i book?", bot.ask("how do i book?"), "ws")
        rec.record_feedback(SESSION, "call 206-589-5958", "up")
        assert rec.flush()
    assert rows(path, "SELECT turn FROM turns") == [("[email]",)]
    assert rows(path, "SELECT turn FROM feedback") == [("call [phone]",)]
