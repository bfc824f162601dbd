"""Callback requests in the core: fields and validation, the step-by-step dialog, the store, the CLI."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO
from pgcluster import PgCluster

from faqbot import Bot, ReplyType, knowledge, protocol
from faqbot.callback import CallbackRejected, Step, validate
from faqbot.callback_store import DAY, CallbackStore
from faqbot.classifier import RiskClassifier
from faqbot.cli import main
from faqbot.dialog import ConversationState, IllegalTransition, State
from faqbot.exceptions import ConfigError
from faqbot.safety import RiskPolicy

GOOD = {"name": "Ann Lee", "contact": "(425) 654-5433", "time": "weekday mornings", "note": "", "consent": True}
STEPS = ["Request a callback", "Ann Lee", "(425) 654-5433", "weekday mornings", "skip", "yes"]


@pytest.fixture(scope="module")
def bot() -> Bot:
    return Bot.load()


# --- fields ------------------------------------------------------------------------------------------


def test_phone_is_checked_and_stored_as_e164() -> None:
    request = validate(GOOD)
    assert request.phone == "+14256545433" and request.email == ""


def test_invalid_phone_says_what_to_fix() -> None:
    with pytest.raises(CallbackRejected) as err:
        validate({**GOOD, "contact": "425 555 01"})
    assert set(err.value.errors) == {"contact"}


def test_email_is_accepted_instead_of_a_phone() -> None:
    request = validate({**GOOD, "contact": "Ann@Example.ORG"})
    assert request.email == "Ann@example.org" and request.phone == ""


def test_consent_is_required() -> None:
    with pytest.raises(CallbackRejected) as err:
        validate({**GOOD, "consent": False})
    assert "consent" in err.value.errors


def test_every_missing_field_is_named() -> None:
    with pytest.raises(CallbackRejected) as err:
        validate({"consent": True})
    assert set(err.value.errors) == {"name", "contact", "time"}


def test_honeypot_filled_is_refused() -> None:
    with pytest.raises(CallbackRejected) as err:
        validate({**GOOD, "website": "http://spam.example"})
    assert set(err.value.errors) == {"form"}


def test_overlong_note_is_refused() -> None:
    with pytest.raises(CallbackRejected) as err:
        validate({**GOOD, "note": "x" * 1001})
    assert set(err.value.errors) == {"note"}


# --- the dialog --------------------------------------------------------------------------------------


def test_step_by_step_request_completes(bot: Bot) -> None:
    conv = bot.conversation()
    replies = [conv.ask(t) for t in STEPS]
    assert all(r.type is ReplyType.CALLBACK for r in replies)
    assert conv.submitted is not None
    assert (conv.submitted.name, conv.submitted.phone, conv.submitted.best_time) == (
        "Ann Lee", "+14256545433", "weekday mornings")
    assert conv.state.state is State.IDLE and conv.state.draft == {}


def test_invalid_phone_is_asked_again(bot: Bot) -> None:
    conv = bot.conversation()
    for t in STEPS[:2]:
        conv.ask(t)
    again = conv.ask("12")
    assert again.type is ReplyType.CALLBACK and conv.state.step is Step.CONTACT
    conv.ask("ann@example.org")
    assert conv.state.step is Step.TIME


def test_contact_steps_are_marked_private(bot: Bot) -> None:
    conv = bot.conversation()
    conv.ask(STEPS[0])
    assert not conv.private
    conv.ask(STEPS[1])
    assert conv.private


def test_cancel_forgets_the_draft(bot: Bot) -> None:
    conv = bot.conversation()
    for t in STEPS[:3]:
        conv.ask(t)
    conv.ask("cancel")
    assert conv.state.state is State.IDLE and conv.state.draft == {} and conv.submitted is None
    assert "425" not in str(conv.state.to_dict())


def test_no_consent_no_request(bot: Bot) -> None:
    conv = bot.conversation()
    for t in STEPS[:5]:
        conv.ask(t)
    conv.ask("hmm")
    assert conv.submitted is None and conv.state.step is Step.CONSENT


def test_crisis_during_the_flow_ends_it(bot: Bot) -> None:
    conv = bot.conversation()
    for t in STEPS[:3]:
        conv.ask(t)
    reply = conv.ask("i want to kill myself")
    assert reply.type is ReplyType.CRISIS
    assert conv.state.state is State.IDLE and conv.state.draft == {}


def test_no_callback_after_a_crisis_turn(bot: Bot) -> None:
    conv = bot.conversation()
    conv.ask("i want to kill myself")
    reply = conv.ask("Request a callback")
    assert reply.type is not ReplyType.CALLBACK
    assert "Request a callback" not in reply.suggestions
    assert "Request a callback" not in conv.ask("how do i book the free consult").suggestions
    with pytest.raises(IllegalTransition):
        conv.state.enter(State.CALLBACK, step=Step.NAME)


def test_booking_answer_offers_a_callback(bot: Bot) -> None:
    reply = bot.conversation().ask("how do i book the free consult")
    assert reply.entry == "consultation"
    assert "Request a callback" in reply.suggestions


def test_a_booking_question_in_distress_keeps_the_callback_offer(bot: Bot) -> None:
    """A concern (the crisis line before the answer) still offers a person calling back; a crisis does not."""
    real = bot.policy.classifier
    assert real is not None
    worried = RiskClassifier(weights=real.weights * 0, bias=[0.0, 6.0, -12.0, -12.0], encoder_id=real.encoder_id,
                             crisis=real.crisis, foreign_crisis=real.foreign_crisis, concern=real.concern,
                             concern_from_crisis=real.concern_from_crisis, hidden=real.hidden)
    distressed = Bot(bot.kb, policy=RiskPolicy(lexicon=bot.kb.risk, texts=bot.kb.settings.safety,
                                               classifier=worried))
    reply = distressed.conversation().ask("everything is falling apart, how do i book the free consult")
    assert reply.type is ReplyType.CONCERN and reply.entry == "consultation"
    assert "Request a callback" in reply.suggestions


def test_fallback_offers_a_callback(bot: Bot) -> None:
    reply = bot.conversation().ask("purple elephants dancing on mars")
    assert reply.type is ReplyType.FALLBACK and "Request a callback" in reply.suggestions


def test_asking_about_callbacks_still_answers_from_the_kb(bot: Bot) -> None:
    reply = bot.conversation().ask("what do i put in the text so you can call me back")
    assert reply.type is not ReplyType.CALLBACK


def test_callback_state_survives_a_session_store(bot: Bot) -> None:
    conv = bot.conversation()
    for t in STEPS[:3]:
        conv.ask(t)
    resumed = bot.conversation(conv.state.to_dict())
    assert resumed.state.step is Step.TIME and resumed.state.draft["name"] == "Ann Lee"
    for t in STEPS[3:]:
        resumed.ask(t)
    assert resumed.submitted is not None


def test_tampered_callback_state_falls_back_to_idle() -> None:
    state = ConversationState.from_dict({"state": "callback", "step": "nonsense", "draft": {"name": "x"}})
    assert state.state is State.IDLE and state.draft == {}
    assert ConversationState.from_dict({"state": "callback", "step": "name", "crisis": True}).state is State.IDLE


def test_callback_state_needs_a_step() -> None:
    with pytest.raises(IllegalTransition):
        ConversationState().enter(State.CALLBACK)
    with pytest.raises(IllegalTransition):
        ConversationState().enter(State.IDLE, step=Step.NAME)


def test_bot_without_callbacks_takes_none() -> None:
    bot = Bot(knowledge.load(), encoder="off", callbacks=False)
    assert bot.conversation().ask("Request a callback").type is not ReplyType.CALLBACK
    with pytest.raises(CallbackRejected):
        bot.conversation().submit(GOOD)


# --- the store ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg() -> Iterator[PgCluster]:
    cluster = PgCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store's location: a file path, or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "cb.sqlite3")
    return str(request.getfixturevalue("pg").create_database())


def test_store_lists_deletes_and_exports(location: str) -> None:
    store = CallbackStore(location)
    first, second = validate(GOOD), validate({**GOOD, "name": "=HYPERLINK(\"x\")", "contact": "b@example.org"})
    store.add(first)
    store.add(second)
    assert {i.request.id for i in store.list()} == {first.id, second.id}
    assert all(i.notified is None for i in store.list())
    out = io.StringIO()
    assert store.export_csv(out) == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert {r["phone"] for r in rows} == {"+14256545433", ""}
    assert "'=HYPERLINK" in out.getvalue()  # a spreadsheet shows it, never runs it
    assert store.delete(first.id) and not store.delete(first.id)
    assert [i.request.id for i in store.list()] == [second.id]
    store.close()


def test_store_keeps_each_requests_delivery_status(location: str) -> None:
    store = CallbackStore(location)
    sent, failing = validate(GOOD), validate({**GOOD, "contact": "b@example.org"})
    store.add(sent)
    store.add(failing)
    store.mark_notified(sent.id, attempts=1)
    store.mark_failed(failing.id, attempts=3, error="smtp: connection refused")
    assert [i.request.id for i in store.list(pending_only=True)] == [failing.id]
    done, pending = store.get(sent.id), store.get(failing.id)
    assert done is not None and done.notified is not None and done.attempts == 1 and done.last_error == ""
    assert pending is not None and pending.notified is None and pending.attempts == 3
    assert pending.last_error == "smtp: connection refused" and pending.request == failing
    assert store.get("no-such-id") is None
    store.close()
    again = CallbackStore(location)  # reopening keeps the rows (and, on PostgreSQL, finds the schema in place)
    assert {i.request.id for i in again.list()} == {sent.id, failing.id}
    again.close()


def test_store_forgets_requests_past_retention(location: str) -> None:
    store = CallbackStore(location, retention_days=30)
    old = validate(GOOD)
    store.add(old)
    assert store.purge(now=time.time() + 29 * DAY) == 0
    assert store.purge(now=time.time() + 31 * DAY) == 1
    assert store.list() == []
    store.close()


def test_store_file_is_private(tmp_path: Path) -> None:
    CallbackStore(tmp_path / "cb.sqlite3").close()
    assert (tmp_path / "cb.sqlite3").stat().st_mode & 0o077 == 0


# --- the CLI -----------------------------------------------------------------------------------------


def test_chat_takes_a_request_step_by_step_and_the_cli_lists_exports_and_deletes_it(tmp_path: Path) -> None:
    db = tmp_path / "callbacks.sqlite3"
    env = {**os.environ, "FAQBOT_CALLBACKS_DB": str(db), "PYTHONPATH": str(REPO)}
    chat = subprocess.run([sys.executable, "-m", "faqbot", "chat", "--encoder", "off"], input="\n".join(STEPS) + "\n",
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False)
    assert chat.returncode == 0, chat.stderr
    assert "What is your name?" in chat.stdout and "Thank you" in chat.stdout
    assert "+14256545433" not in chat.stdout  # nothing echoes the details back
    out = io.StringIO()
    assert main(["callbacks", "list", "--db", str(db)], out) == 0
    assert "Ann Lee" in out.getvalue() and "+14256545433" in out.getvalue() and "not notified" in out.getvalue()
    out = io.StringIO()
    assert main(["callbacks", "export", "--csv", "--db", str(db)], out) == 0
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 1 and rows[0]["channel"] == "cli" and rows[0]["best_time"] == "weekday mornings"
    assert main(["callbacks", "delete", rows[0]["id"], "--db", str(db)], io.StringIO()) == 0
    assert main(["callbacks", "delete", rows[0]["id"], "--db", str(db)], io.StringIO()) == 1
    out = io.StringIO()
    main(["callbacks", "list", "--db", str(db)], out)
    assert "no callback requests" in out.getvalue()


@pytest.mark.postgres
def test_postgres_store_has_its_own_versioned_table(pg: PgCluster) -> None:
    import psycopg

    url = pg.create_database()
    CallbackStore(url).close()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT value FROM faqbot_callbacks_meta WHERE key = 'schema_version'").fetchone() == ("1",)
        conn.execute("UPDATE faqbot_callbacks_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(ConfigError, match="newer faqbot"):
        CallbackStore(url)


@pytest.mark.postgres
def test_postgres_errors_never_show_the_password(pg: PgCluster) -> None:
    url = f"postgresql://faqbot:hunter2@127.0.0.1:{pg.port}/no_such_db"
    with pytest.raises(ConfigError) as err:
        CallbackStore(url)
    assert "hunter2" not in str(err.value) and "faqbot:***@" in str(err.value)


@pytest.mark.postgres
def test_postgres_store_fails_plainly_while_down_and_recovers_after_a_restart() -> None:
    cluster = PgCluster()  # its own: stopping the module's cluster would break the other tests
    try:
        cluster.start()
        url = cluster.create_database().replace("faqbot@", "faqbot:hunter2@")  # trust auth ignores the password
        store = CallbackStore(url)
        cluster.stop()
        request = validate(GOOD)
        with pytest.raises(OSError) as err:
            store.add(request)
        assert "hunter2" not in str(err.value) and "+14256545433" not in str(err.value)
        assert "Ann Lee" not in str(err.value) and err.value.__cause__ is None
        cluster.start()
        store.add(request)  # the pool replaces the lost connection
        assert [i.request.id for i in store.list()] == [request.id]
        store.close()
    finally:
        cluster.remove()


@pytest.mark.postgres
def test_cli_lists_exports_and_deletes_requests_in_postgres(pg: PgCluster) -> None:
    url = pg.create_database()
    store = CallbackStore(url)
    request = validate(GOOD)
    store.add(request)
    store.close()
    out = io.StringIO()
    assert main(["callbacks", "list", "--db", url], out) == 0
    assert "Ann Lee" in out.getvalue() and "+14256545433" in out.getvalue() and "not notified" in out.getvalue()
    out = io.StringIO()
    assert main(["callbacks", "export", "--csv", "--db", url], out) == 0
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["id"] for r in rows] == [request.id] and rows[0]["best_time"] == "weekday mornings"
    assert main(["callbacks", "delete", request.id, "--db", url], io.StringIO()) == 0
    assert main(["callbacks", "delete", request.id, "--db", url], io.StringIO()) == 1
    out = io.StringIO()
    main(["callbacks", "list", "--db", url], out)
    assert "no callback requests" in out.getvalue()


# --- the KB's texts ----------------------------------------------------------------------------------


def _kb(tmp_path: Path, settings: str) -> Path:
    (tmp_path / "faq.yaml").write_text(
        "settings:\n  name: Test\n" + settings + "entries:\n  - id: hours\n    question: When are you open?\n"
        "    answer: Nine to five.\n    phrasings: [opening hours]\n", encoding="utf-8")
    return tmp_path


def test_kb_texts_replace_the_flow_texts(tmp_path: Path) -> None:
    kb = knowledge.load(_kb(tmp_path, "  callback:\n    offer: Have us call you\n    name: Your first name?\n"))
    conv = Bot(kb, encoder="off").conversation()
    reply = conv.ask("have us call you")
    assert reply.type is ReplyType.CALLBACK and reply.text.endswith("Your first name?")


def test_kb_can_turn_callbacks_off(tmp_path: Path) -> None:
    bot = Bot(knowledge.load(_kb(tmp_path, "  callback: false\n")), encoder="off")
    assert bot.callbacks is None
    assert bot.conversation().ask("Request a callback").type is not ReplyType.CALLBACK


def test_kb_callback_typo_is_named(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="intro"):
        knowledge.load(_kb(tmp_path, "  callback:\n    intr: Hello\n"))


# --- the protocol frame ------------------------------------------------------------------------------


def test_callback_frame_parses_fields_and_consent() -> None:
    frame = protocol.parse('{"type": "callback", "id": "f1", "fields": {"name": "Ann"}, "consent": true}')
    assert isinstance(frame, protocol.CallbackForm) and frame.fields == {"name": "Ann"} and frame.consent


@pytest.mark.parametrize("raw", [
    '{"type": "callback", "id": "f1", "fields": {"name": "Ann"}, "consent": "yes"}',
    '{"type": "callback", "id": "f1", "fields": {"name": 3}, "consent": true}',
    '{"type": "callback", "id": "f1", "fields": {"to": "x@example.org"}, "consent": true}',
    '{"type": "callback", "id": "f1", "fields": "Ann", "consent": true}',
])
def test_malformed_callback_frames_are_bad_frames(raw: str) -> None:
    with pytest.raises(protocol.FrameError) as err:
        protocol.parse(raw)
    assert err.value.error_code is protocol.ErrorCode.BAD_FRAME and err.value.id == "f1"
