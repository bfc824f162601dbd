"""The websocket frame contract: parsing, validation errors with their codes, and server frame shapes."""

from __future__ import annotations

import json

import pytest

from faqbot import protocol
from faqbot.models import Option, Reply, ReplyType
from faqbot.protocol import ErrorCode, FrameError


def parse(frame: object, **limits: int) -> protocol.ClientFrame:
    return protocol.parse(frame if isinstance(frame, (str, bytes)) else json.dumps(frame), **limits)


def error_of(frame: object, **limits: int) -> FrameError:
    with pytest.raises(FrameError) as info:
        parse(frame, **limits)
    return info.value


def test_message_frame() -> None:
    assert parse({"type": "message", "id": "c1", "text": "is it safe?"}) == protocol.Message("c1", "is it safe?")


def test_pick_feedback_resume_ping_frames() -> None:
    assert parse({"type": "pick", "id": "c2", "entry": "misuse"}) == protocol.Pick("c2", "misuse")
    assert parse({"type": "feedback", "id": "c3", "reply": "c1", "vote": "down"}) == \
        protocol.Feedback("c3", "c1", protocol.Vote.DOWN)
    assert parse({"type": "resume", "id": "c4", "session": "abcdefgh12"}) == protocol.Resume("c4", "abcdefgh12")
    assert parse({"type": "resume", "id": "c4", "session": "abcdefgh12", "secret": "k3y"}) == protocol.Resume(
        "c4", "abcdefgh12", "k3y")
    assert parse({"type": "ping", "id": "c5"}) == protocol.Ping("c5")


def test_bytes_frames_are_read_as_utf8_json() -> None:
    assert parse('{"type":"ping","id":"é"}'.encode()) == protocol.Ping("é")


def test_invalid_json_is_bad_json_without_id() -> None:
    err = error_of("{not json")
    assert (err.code, err.id) == ("bad_json", None)
    assert error_of(b"\xff\xfe").code == "bad_json"


@pytest.mark.parametrize("frame", [[1, 2], "null", 3, {"type": "ping"}, {"type": "ping", "id": 7},
                                   {"type": "ping", "id": ""}, {"type": "ping", "id": "x" * 200}])
def test_frames_without_a_usable_id_are_bad_frames_with_null_id(frame: object) -> None:
    err = error_of(frame)
    assert (err.code, err.id) == ("bad_frame", None)


@pytest.mark.parametrize("frame", [
    {"id": "c1"},
    {"type": 3, "id": "c1"},
    {"type": "message", "id": "c1"},
    {"type": "message", "id": "c1", "text": 42},
    {"type": "message", "id": "c1", "text": "   "},
    {"type": "pick", "id": "c1", "entry": ["misuse"]},
    {"type": "feedback", "id": "c1", "reply": "c0", "vote": "meh"},
    {"type": "feedback", "id": "c1", "vote": "up"},
    {"type": "resume", "id": "c1", "session": None},
    {"type": "resume", "id": "c1", "session": "abcdefgh12", "secret": 5},
])
def test_missing_or_wrong_typed_fields_are_bad_frames_that_echo_the_id(frame: object) -> None:
    err = error_of(frame)
    assert (err.code, err.id) == ("bad_frame", "c1")


def test_unknown_type_echoes_the_id() -> None:
    err = error_of({"type": "shout", "id": "c9"})
    assert (err.code, err.id) == ("unknown_type", "c9")


def test_text_over_max_text_is_too_long_and_names_the_limit() -> None:
    err = error_of({"type": "message", "id": "c1", "text": "a" * 101}, max_text=100)
    assert (err.code, err.id) == ("too_long", "c1")
    assert "100 characters" in str(err)
    assert parse({"type": "message", "id": "c1", "text": "a" * 100}, max_text=100)


def test_frame_over_max_frame_bytes_is_too_long_before_parsing() -> None:
    err = error_of({"type": "message", "id": "c1", "text": "é" * 600}, max_frame=1000)
    assert (err.code, err.id) == ("too_long", None)


def test_every_error_code_has_a_message_saying_what_to_do() -> None:
    assert set(protocol.MESSAGES) == set(ErrorCode)
    assert [c.value for c in ErrorCode] == ["bad_json", "bad_frame", "unknown_type", "too_long", "rate_limited",
                                            "unknown_entry", "idle_timeout", "too_many_connections",
                                            "forbidden_origin", "unknown_session", "internal"]
    assert all(m.endswith(".") and len(m.split()) >= 5 for m in protocol.MESSAGES.values())


def test_reply_frame_carries_all_reply_fields() -> None:
    reply = Reply(ReplyType.CLARIFY, "Did you mean?", confidence=0.5, options=(Option("a", "A?"), Option("b", "B?")))
    frame = protocol.reply("c1", reply)
    assert frame == {"type": "reply", "id": "c1", "reply": {
        "type": "clarify", "text": "Did you mean?", "entry": None, "confidence": 0.5, "suggestions": [],
        "options": [{"entry": "a", "text": "A?"}, {"entry": "b", "text": "B?"}], "parts": []}}


def test_server_frame_shapes() -> None:
    intro = {"name": "Bot", "greeting": "Hi", "suggestions": ("a", "b")}
    assert protocol.welcome("s1", secret="k1", resumed=False, intro=intro) == {
        "type": "welcome", "session": "s1", "secret": "k1", "resumed": False, "name": "Bot", "greeting": "Hi",
        "suggestions": ["a", "b"]}
    assert protocol.ack("c3") == {"type": "ack", "id": "c3"}
    assert protocol.resumed("c4", "s1", secret="k1", found=True) == {
        "type": "resumed", "id": "c4", "session": "s1", "secret": "k1", "resumed": True}
    assert protocol.pong("c5") == {"type": "pong", "id": "c5"}
    assert protocol.error(None, ErrorCode.INTERNAL)["id"] is None


def test_dumps_is_compact_json_keeping_non_ascii() -> None:
    assert protocol.dumps({"text": "café <b>"}) == '{"text":"café <b>"}'
