"""The websocket protocol: client frame types, their parsing and validation, and server frames. No I/O.

Every client frame is a JSON object with a string ``type`` and a string ``id`` that the server's answer
echoes. ``parse`` turns raw text into one of the frozen frame types below or raises ``FrameError`` with a
code from ``ErrorCode``; the transport sends that back with ``error(...)`` and keeps the connection open.
See docs/protocol.md for the contract clients code against.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any, Union

from .exceptions import ProtocolError
from .models import Reply

MAX_ID = 128
MAX_SESSION_ID = 128


class ErrorCode(str, enum.Enum):
    """The ``code`` of an error frame; the value is what clients see."""

    BAD_JSON = "bad_json"
    BAD_FRAME = "bad_frame"
    UNKNOWN_TYPE = "unknown_type"
    TOO_LONG = "too_long"
    RATE_LIMITED = "rate_limited"
    UNKNOWN_ENTRY = "unknown_entry"
    IDLE_TIMEOUT = "idle_timeout"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    FORBIDDEN_ORIGIN = "forbidden_origin"
    UNKNOWN_SESSION = "unknown_session"
    INTERNAL = "internal"

    def __str__(self) -> str:
        return self.value


class Vote(str, enum.Enum):
    UP = "up"
    DOWN = "down"


# What a client should do about each error; frames may refine the sentence (e.g. with the limit).
MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.BAD_JSON: "The frame is not valid JSON; send one JSON object per websocket message.",
    ErrorCode.BAD_FRAME: "The frame is missing a field or a field has the wrong type; see docs/protocol.md.",
    ErrorCode.UNKNOWN_TYPE: "Unknown frame type; use one of: message, pick, feedback, resume, ping, callback.",
    ErrorCode.TOO_LONG: "The message is too long; shorten it and send it again.",
    ErrorCode.RATE_LIMITED: "Too many messages too quickly; wait a moment and send it again.",
    ErrorCode.UNKNOWN_ENTRY: "That option is no longer available; ask the question again in your own words.",
    ErrorCode.IDLE_TIMEOUT: "The connection was idle for too long and is closing; reconnect with your session id "
                            "to carry on.",
    ErrorCode.TOO_MANY_CONNECTIONS: "The server is busy; try again in a few seconds.",
    ErrorCode.FORBIDDEN_ORIGIN: "This site is not allowed to use this chat server; ask its operator to add it "
                                "to the allowed origins.",
    ErrorCode.UNKNOWN_SESSION: "No live session has that id and secret; send the session and secret of an "
                               "/api/ask answer.",
    ErrorCode.INTERNAL: "Something went wrong on our side; send the message again, or reload the page.",
}


class FrameError(ProtocolError):
    """A client frame that cannot be served; ``id`` is the frame's id when it could be read, else None."""

    def __init__(self, code: ErrorCode, message: str | None = None, *, id: str | None = None) -> None:
        super().__init__(code.value, message or MESSAGES[code])
        self.error_code = code
        self.id = id

    def to_frame(self) -> dict[str, Any]:
        return error(self.id, self.error_code, str(self))


# --- client frames ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """The visitor typed ``text``."""

    id: str
    text: str


@dataclass(frozen=True)
class Pick:
    """The visitor clicked a clarification option (an entry id from a reply's ``options``)."""

    id: str
    entry: str


@dataclass(frozen=True)
class Feedback:
    """A thumbs up or down on the reply to the client frame whose id is ``reply``."""

    id: str
    reply: str
    vote: Vote


@dataclass(frozen=True)
class Resume:
    """Continue the conversation of an earlier session on this connection; ``secret`` opens it."""

    id: str
    session: str
    secret: str | None = None


@dataclass(frozen=True)
class Ping:
    id: str


CALLBACK_FIELDS = ("name", "contact", "time", "note", "website")  # "website": the honeypot, empty from people
MAX_CALLBACK_FIELD = 1000


@dataclass(frozen=True)
class CallbackForm:
    """The visitor submitted the callback form: its text fields and the consent box."""

    id: str
    fields: dict[str, str]
    consent: bool


ClientFrame = Union[Message, Pick, Feedback, Resume, Ping, CallbackForm]


def parse(raw: str | bytes, *, max_text: int = 2000, max_frame: int = 16_384) -> ClientFrame:
    """One client frame from raw websocket data; ``FrameError`` says what is wrong with it."""
    size = len(raw.encode("utf-8")) if isinstance(raw, str) else len(raw)
    if size > max_frame:
        raise FrameError(ErrorCode.TOO_LONG, f"The frame is larger than {max_frame} bytes; send a shorter message.")
    data = loads(raw)
    if not isinstance(data, dict):
        raise FrameError(ErrorCode.BAD_FRAME, "A frame must be a JSON object with 'type' and 'id'.")
    frame_id = data.get("id")
    if not isinstance(frame_id, str) or not frame_id or len(frame_id) > MAX_ID or not is_text(frame_id):
        raise FrameError(ErrorCode.BAD_FRAME, f"Every frame needs an 'id': a non-empty string of at most {MAX_ID} "
                                              "characters, echoed in the answer.")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise FrameError(ErrorCode.BAD_FRAME, "Every frame needs a string 'type'.", id=frame_id)
    build = _BUILDERS.get(kind)
    if build is None:
        raise FrameError(ErrorCode.UNKNOWN_TYPE, id=frame_id)
    return build(data, frame_id, max_text)


def loads(raw: str | bytes) -> Any:
    """JSON from a client; ``FrameError(BAD_JSON)`` for invalid or absurdly nested input, never another error."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise FrameError(ErrorCode.BAD_JSON) from None
    except RecursionError:
        # Thousands of nested brackets fit in a small frame; the decoder gives up before the stack does.
        raise FrameError(ErrorCode.BAD_JSON, "The frame is nested too deeply; send a flat JSON object.") from None


def is_text(value: str) -> bool:
    """Whether ``value`` is valid Unicode text: JSON escapes can smuggle in lone surrogates UTF-8 cannot carry."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _string(data: dict[str, Any], key: str, frame_id: str, *, limit: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise FrameError(ErrorCode.BAD_FRAME, f"A '{data['type']}' frame needs '{key}': a non-empty string.",
                         id=frame_id)
    if not is_text(value):
        raise FrameError(ErrorCode.BAD_FRAME, f"'{key}' is not valid text (it holds a lone surrogate).",
                         id=frame_id)
    if len(value) > limit:
        raise FrameError(ErrorCode.BAD_FRAME, f"'{key}' is longer than {limit} characters.", id=frame_id)
    return value


def _message(data: dict[str, Any], frame_id: str, max_text: int) -> Message:
    text = data.get("text")
    if isinstance(text, str) and len(text) > max_text:
        raise FrameError(ErrorCode.TOO_LONG, f"The message is longer than {max_text} characters; shorten it and "
                                             "send it again.", id=frame_id)
    return Message(frame_id, _string(data, "text", frame_id, limit=max_text))


def _pick(data: dict[str, Any], frame_id: str, max_text: int) -> Pick:
    return Pick(frame_id, _string(data, "entry", frame_id, limit=MAX_ID))


def _feedback(data: dict[str, Any], frame_id: str, max_text: int) -> Feedback:
    reply = _string(data, "reply", frame_id, limit=MAX_ID)
    vote = data.get("vote")
    if vote not in ("up", "down"):
        raise FrameError(ErrorCode.BAD_FRAME, "A 'feedback' frame needs 'vote': \"up\" or \"down\".", id=frame_id)
    return Feedback(frame_id, reply, Vote(vote))


def _resume(data: dict[str, Any], frame_id: str, max_text: int) -> Resume:
    # Without a secret the frame is still well formed: it just cannot open the session.
    secret = _string(data, "secret", frame_id, limit=MAX_SESSION_ID) if data.get("secret") is not None else None
    return Resume(frame_id, _string(data, "session", frame_id, limit=MAX_SESSION_ID), secret)


def _ping(data: dict[str, Any], frame_id: str, max_text: int) -> Ping:
    return Ping(frame_id)


def _callback(data: dict[str, Any], frame_id: str, max_text: int) -> CallbackForm:
    raw = data.get("fields")
    if not isinstance(raw, dict):
        raise FrameError(ErrorCode.BAD_FRAME, "A 'callback' frame needs 'fields': an object of strings.", id=frame_id)
    fields: dict[str, str] = {}
    for key, value in raw.items():
        if key not in CALLBACK_FIELDS:
            raise FrameError(ErrorCode.BAD_FRAME, f"Unknown callback field {key!r}; use: "
                             f"{', '.join(CALLBACK_FIELDS)}.", id=frame_id)
        if not isinstance(value, str) or not is_text(value) or len(value) > MAX_CALLBACK_FIELD:
            raise FrameError(ErrorCode.BAD_FRAME, f"Callback field {key!r} must be text of at most "
                             f"{MAX_CALLBACK_FIELD} characters.", id=frame_id)
        fields[key] = value
    consent = data.get("consent")
    if not isinstance(consent, bool):
        raise FrameError(ErrorCode.BAD_FRAME, "A 'callback' frame needs 'consent': true or false.", id=frame_id)
    return CallbackForm(frame_id, fields, consent)


_Builder = Callable[[dict[str, Any], str, int], ClientFrame]
_BUILDERS: dict[str, _Builder] = {"message": _message, "pick": _pick, "feedback": _feedback, "resume": _resume,
                                  "ping": _ping, "callback": _callback}
FRAME_TYPES = tuple(_BUILDERS)


# --- server frames ---------------------------------------------------------------------------------


def welcome(session: str, *, secret: str, resumed: bool, intro: dict[str, Any]) -> dict[str, Any]:
    """The first frame of every connection; ``intro`` is ``Bot.welcome()`` (name, greeting, suggestions).

    ``secret`` opens ``session`` again on a later connection: the client keeps both.
    """
    return {"type": "welcome", "session": session, "secret": secret, "resumed": resumed, "name": intro["name"],
            "greeting": intro["greeting"], "suggestions": list(intro["suggestions"])}


def reply(frame_id: str, answer: Reply, *, callback: dict[str, Any] | None = None) -> dict[str, Any]:
    """A reply; ``callback`` (the form, see ``faqbot.callback.form``) while a callback request is being taken."""
    frame = {"type": "reply", "id": frame_id, "reply": answer.to_dict()}
    if callback is not None:
        frame["callback"] = callback
    return frame


def callback_result(frame_id: str, *, errors: dict[str, str], answer: Reply | None,
                    request: str | None) -> dict[str, Any]:
    """The outcome of a ``callback`` frame: ``ok`` with the bot's reply, or each field's error to show."""
    return {"type": "callback_result", "id": frame_id, "ok": not errors and answer is not None, "errors": errors,
            "request": request, "reply": answer.to_dict() if answer is not None else None}


def ack(frame_id: str) -> dict[str, Any]:
    return {"type": "ack", "id": frame_id}


def resumed(frame_id: str, session: str, *, secret: str, found: bool) -> dict[str, Any]:
    """The answer to ``resume``: the connection's session (the asked one if ``found``) and its secret."""
    return {"type": "resumed", "id": frame_id, "session": session, "secret": secret, "resumed": found}


def pong(frame_id: str) -> dict[str, Any]:
    return {"type": "pong", "id": frame_id}


def error(frame_id: str | None, code: ErrorCode, message: str | None = None) -> dict[str, Any]:
    return {"type": "error", "id": frame_id, "code": code.value, "message": message or MESSAGES[code]}


def dumps(frame: dict[str, Any]) -> str:
    """A server frame as websocket text: compact JSON, non-ASCII kept as is."""
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
