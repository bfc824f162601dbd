"""Callback requests: the fields a visitor leaves for the clinic's team, their validation, and the step-by-step
exchange a text channel (``faqbot chat``, the websocket without a form) walks through. No I/O.

Storage lives in ``callback_store``, delivery to the team in ``notify``; this module only decides what a valid
request is and what to ask next.
"""

from __future__ import annotations

import enum
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .exceptions import FaqbotError
from .models import CallbackTexts

__all__ = ["CallbackTexts"]  # defined with the other settings; used here

MAX_NAME = 100
MAX_CONTACT = 254  # the longest valid email address
MAX_TIME = 200
MAX_NOTE = 1000
HONEYPOT = "website"  # a field hidden from people; a bot that fills it is refused
DEFAULT_REGION = "US"  # phone numbers typed without a country code are read as this region's
_EMAIL = re.compile(r"^[^@\s<>,;:\"]+@[^@\s<>,;:\"]+\.[A-Za-z]{2,}$")
# The message is a request for a call back, nothing more: the flow starts at once (matching is not consulted).
_START = re.compile(r"^(?:(?:please|i want to|i would like to|id like to|can i|could i)\s+)?(?:request|get|have|book)"
                    r" (?:a )?call ?back(?: please)?$|^(?:please )?call me(?: back)?(?: please)?$"
                    r"|^(?:can|could) (?:someone|somebody|you|the team) (?:please )?call me(?: back)?(?: please)?$"
                    r"|^i (?:want|would like|need) (?:a )?call ?back(?: please)?$")
# The visitor asks to book, to be called, or for a person: the answer is given as usual, with the flow offered.
_OFFER = re.compile(r"\b(?:book|schedule|set up|arrange)\b|\bcall ?back\b|\bcall me\b|\b(?:talk|speak|chat)"
                    r" (?:to|with) (?:a |an |some)?(?:one|body|person|human|staff|team|nurse|doctor|real person)\b")
_CANCEL = re.compile(r"^(?:cancel|stop|quit|exit|never ?mind|no thanks?|forget it|no)(?: it| that| please)?$")
_YES = re.compile(r"^(?:yes|y|yeah|yep|sure|ok|okay|i agree|agree|i consent|consent|fine)(?: please)?$")
_SKIP = re.compile(r"^(?:skip|none|no|nothing|no note|-|n/?a)$")


class Step(str, enum.Enum):
    """What the step-by-step exchange asks next."""

    NAME = "name"
    CONTACT = "contact"
    TIME = "time"
    NOTE = "note"
    CONSENT = "consent"


STEPS = tuple(Step)


def form(texts: CallbackTexts, *, step: Step | None = None) -> dict[str, Any]:
    """The form a client with a screen shows instead of the step-by-step questions (see docs/protocol.md)."""
    return {"step": step.value if step is not None else None, "consent": texts.consent_line, "submit": texts.submit,
            "fields": [
                {"name": "name", "label": texts.label_name, "type": "text", "required": True,
                 "autocomplete": "name", "max": MAX_NAME},
                {"name": "contact", "label": texts.label_contact, "type": "text", "required": True,
                 "autocomplete": "tel", "max": MAX_CONTACT},
                {"name": "time", "label": texts.label_time, "type": "text", "required": True,
                 "autocomplete": "off", "max": MAX_TIME},
                {"name": "note", "label": texts.label_note, "type": "textarea", "required": False,
                 "autocomplete": "off", "max": MAX_NOTE},
            ]}


@dataclass(frozen=True)
class CallbackRequest:
    """A validated request; ``phone`` is E.164 when given, ``email`` lower-cased in its domain."""

    name: str
    best_time: str
    phone: str = ""
    email: str = ""
    note: str = ""
    channel: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    created: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CallbackRejected(FaqbotError, ValueError):
    """A submission that is not a valid request; ``errors`` maps each field to what the visitor should fix."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


def wants_callback(norm: str, *, offer: str = "") -> bool:
    """The message asks for a call back and nothing else (or is the offer's own text): the flow starts at once."""
    return bool(_START.match(norm)) or bool(offer) and norm == offer.lower()


def offers_callback(norm: str) -> bool:
    """The visitor speaks of booking, being called or a person: the flow is offered beside the answer."""
    return bool(_OFFER.search(norm))


def is_cancel(norm: str) -> bool:
    return bool(_CANCEL.match(norm))


def check_contact(value: str, *, region: str = DEFAULT_REGION) -> tuple[str, str] | str:
    """``(phone, email)`` for a valid phone number or email address, else the message telling what to fix."""
    value = value.strip()
    if not value:
        return "Give a phone number or an email address."
    if len(value) > MAX_CONTACT:
        return f"That is longer than {MAX_CONTACT} characters."
    if "@" in value:
        if not _EMAIL.match(value):
            return "That email address does not look right; check it, e.g. name@example.com."
        local, domain = value.rsplit("@", 1)
        return "", f"{local}@{domain.lower()}"
    import phonenumbers  # here, not at import: ``import faqbot`` stays fast

    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return "That does not look like a phone number; include the area code, e.g. (425) 555-0100."
    if not phonenumbers.is_valid_number(number):
        return "That phone number is not valid; check the digits and the area code."
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), ""


def validate(data: Mapping[str, Any], *, channel: str = "", region: str = DEFAULT_REGION) -> CallbackRequest:
    """A ``CallbackRequest`` from form fields (name, contact, time, note, consent), or ``CallbackRejected``."""
    errors: dict[str, str] = {}

    def text(key: str) -> str:
        value = data.get(key, "")
        return value.strip() if isinstance(value, str) else ""

    if text(HONEYPOT):
        raise CallbackRejected({"form": "This request could not be accepted."})
    name, when, note = text("name"), text("time"), text("note")
    if not name:
        errors["name"] = "Enter your name."
    elif len(name) > MAX_NAME:
        errors["name"] = f"Keep the name under {MAX_NAME} characters."
    contact = check_contact(text("contact"), region=region)
    if isinstance(contact, str):
        errors["contact"] = contact
    if not when:
        errors["time"] = "Say when the team can best reach you, e.g. weekday mornings."
    elif len(when) > MAX_TIME:
        errors["time"] = f"Keep this under {MAX_TIME} characters."
    if len(note) > MAX_NOTE:
        errors["note"] = f"Keep the note under {MAX_NOTE} characters."
    if data.get("consent") is not True:
        errors["consent"] = "Tick the box to agree that the team may contact you about a consultation."
    if errors or isinstance(contact, str):
        raise CallbackRejected(errors)
    phone, email = contact
    return CallbackRequest(name=name, best_time=when, phone=phone, email=email, note=note, channel=channel)


@dataclass(frozen=True)
class StepResult:
    """What one step of the exchange says back, where it goes next, and the request once complete."""

    text: str
    step: Step | None  # None: the exchange is over (completed)
    draft: dict[str, Any]
    request: CallbackRequest | None = None


def advance(step: Step, draft: Mapping[str, Any], text: str, *, texts: CallbackTexts,
            region: str = DEFAULT_REGION) -> StepResult:
    """Take the visitor's answer to ``step``: re-ask with the reason when it is not valid, else ask the next."""
    value = text.strip()
    new = dict(draft)
    if step is Step.NAME:
        if not value or len(value) > MAX_NAME:
            return StepResult(f"Please type your name (under {MAX_NAME} characters).", step, new)
        new["name"] = value
        return StepResult(texts.contact, Step.CONTACT, new)
    if step is Step.CONTACT:
        checked = check_contact(value, region=region)
        if isinstance(checked, str):
            return StepResult(checked, step, new)
        new["contact"] = value
        return StepResult(texts.time, Step.TIME, new)
    if step is Step.TIME:
        if not value or len(value) > MAX_TIME:
            return StepResult(f"Please say when the team can best reach you (under {MAX_TIME} characters).",
                              step, new)
        new["time"] = value
        return StepResult(texts.note, Step.NOTE, new)
    if step is Step.NOTE:
        if len(value) > MAX_NOTE:
            return StepResult(f"Please keep the note under {MAX_NOTE} characters, or type \"skip\".", step, new)
        new["note"] = "" if _SKIP.match(value.lower()) else value
        return StepResult(texts.consent, Step.CONSENT, new)
    if not _YES.match(value.lower().strip(" .!")):
        return StepResult(texts.consent, step, new)
    request = validate({**new, "consent": True}, region=region)
    return StepResult(texts.done, None, {}, request)
