"""Frozen value types that travel through the core: entries, settings, candidates and replies."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any


class ReplyType(str, enum.Enum):
    """What kind of reply a turn produced; the value is what JSON clients see."""

    ANSWER = "answer"
    CLARIFY = "clarify"
    FALLBACK = "fallback"
    SMALLTALK = "smalltalk"
    CRISIS = "crisis"
    REFERRAL = "referral"
    GAP = "gap"  # a topic the KB declares it does not answer in chat (cost, hours, ...)
    CONCERN = "concern"  # distress without imminent danger: the answer, with the crisis line attached
    CALLBACK = "callback"  # a step of taking a callback request (its question, or its thanks)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Entry:
    """One curated question and its answer; a ``gap`` entry is a topic answered only by the team, not here."""

    id: str
    question: str
    answer: str
    phrasings: tuple[str, ...] = ()
    topic: str = ""
    related: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    source: str = ""
    owner: str = ""
    reviewed: str = ""
    file: str = ""
    line: int = 0
    kind: str = "answer"  # or "gap"

    @property
    def is_gap(self) -> bool:
        return self.kind == "gap"

    @property
    def texts(self) -> tuple[str, ...]:
        """The canonical question followed by every phrasing: what the engine indexes."""
        return (self.question, *self.phrasings)


@dataclass(frozen=True)
class SmallTalk:
    """A small-talk intent (greeting, thanks, ...): phrasings and the reply, both authored in the KB."""

    id: str
    phrasings: tuple[str, ...]
    answer: str
    suggestions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds on calibrated confidence (defaults chosen on the default KB's visitor dev split with
    ``python -m bench thresholds``)."""

    answer: float = 0.35
    clarify: float = 0.35
    margin: float = 0.20
    # A declared gap is answered from this confidence (when nothing else is near): a gap reply only points to the
    # consultation, so a wrong one costs little, and a fallback for "r u open sundays" costs more. None: ``answer``.
    gap: float | None = None

    @property
    def gap_bar(self) -> float:
        """The confidence a declared gap needs to be answered outright."""
        return self.answer if self.gap is None else self.gap


@dataclass(frozen=True)
class Safety:
    """Texts and resources for crisis and medical-advice routing; each deployment sets its own."""

    crisis: str = ""
    referral: str = ""
    concern: str = ""  # attached to an answer when a message shows distress without imminent danger
    reminder: str = ""  # kept under every reply after a crisis turn: the way back to the resources
    crisis_es: str = ""  # the crisis reply for messages in Spanish
    concern_es: str = ""  # the concern line for messages in Spanish


@dataclass(frozen=True)
class CallbackTexts:
    """What the bot says during the flow; a KB's settings may replace them (they are the clinic's words)."""

    offer: str = "Request a callback"  # the suggestion that starts the flow (sent back as the visitor's text)
    intro: str = "I can pass your details to our team so they can contact you. You can type \"cancel\" at any time."
    name: str = "What is your name?"
    contact: str = "What phone number or email address should the team use to reach you?"
    time: str = "What are the best time(s) to reach you?"
    note: str = "Anything you would like the team to know? (optional: type \"skip\")"
    consent: str = "We will use this only to contact you about a consultation. Is that OK? (yes / cancel)"
    consent_line: str = "We will use this only to contact you about a consultation"
    done: str = "Thank you. Our team has your request and will contact you at the time you gave."
    cancelled: str = "No problem, I have not kept anything. Is there something else you'd like to know?"
    label_name: str = "Your name"
    label_contact: str = "Phone or email"
    label_time: str = "Best time(s) to reach you"
    label_note: str = "Anything the team should know (optional)"
    submit: str = "Send request"
    failed: str = "Sorry, I could not save your request. Please contact our team directly."


@dataclass(frozen=True)
class Settings:
    """Bot-level settings from the KB's ``settings`` section."""

    name: str = "FAQ assistant"
    greeting: str = "Hello! Ask me a question."
    fallback: str = "Sorry, I don't know the answer to that."
    clarify: str = "Did you mean one of these?"
    more: str = "Here is more on a related question:"
    suggestions: tuple[str, ...] = ()
    fallbacks: tuple[str, ...] = ()  # short variants, used in turn; ``fallback`` when there are none
    contact: str = ""  # one line with the team's contact details, under fallbacks and gaps
    handoff: tuple[str, ...] = ()  # entry ids offered after a referral, a gap or a miss (booking, phone, ...)
    acknowledgements: tuple[str, ...] = ()  # said before the answer when a visitor shares a personal story
    repeat: str = "That is what I answered just above. Is there something else you'd like to know?"
    subject: str = ""  # what "it" means before any topic ("ketamine therapy"): "what is it" reads as about it
    thresholds: Thresholds = field(default_factory=Thresholds)
    safety: Safety = field(default_factory=Safety)
    callback: CallbackTexts | None = field(default_factory=CallbackTexts)  # None: no callback requests
    review_max_age_days: int = 365
    version: str = ""


@dataclass(frozen=True)
class Why:
    """What drove a candidate's score: for ``--explain`` and authors' debugging."""

    terms: tuple[str, ...] = ()
    phrasing: str = ""
    parts: tuple[tuple[str, float], ...] = ()
    meaning: str = ""  # the entry's text nearest in meaning (encoder on), and its cosine similarity
    similarity: float = 0.0


@dataclass(frozen=True)
class Candidate:
    """An entry the engine ranked, with its raw score, calibrated confidence and explanation."""

    entry: Entry
    score: float
    confidence: float
    why: Why = field(default_factory=Why)
    exact: bool = False  # the message is one of the entry's authored phrasings, in words and in meaning

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry": self.entry.id,
            "question": self.entry.question,
            "score": round(self.score, 4),
            "confidence": round(self.confidence, 4),
            "terms": list(self.why.terms),
            "phrasing": self.why.phrasing,
            "meaning": {"text": self.why.meaning, "similarity": round(self.why.similarity, 4)}
            if self.why.meaning else None,
            "parts": {k: round(v, 4) for k, v in self.why.parts},
        }


@dataclass(frozen=True)
class Option:
    """One choice offered in a clarification."""

    entry: str
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"entry": self.entry, "text": self.text}


REPLY_FIELDS = ("type", "text", "entry", "confidence", "suggestions", "options", "parts")


@dataclass(frozen=True)
class Reply:
    """What the bot says back for one turn."""

    type: ReplyType
    text: str
    entry: str | None = None
    confidence: float = 0.0
    suggestions: tuple[str, ...] = ()
    options: tuple[Option, ...] = ()
    parts: tuple[str, ...] = ()  # the entries answered, in order, when one message asked several questions

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape clients rely on: exactly ``REPLY_FIELDS``."""
        return {
            "type": self.type.value,
            "text": self.text,
            "entry": self.entry,
            "confidence": round(self.confidence, 4),
            "suggestions": list(self.suggestions),
            "options": [o.to_dict() for o in self.options],
            "parts": list(self.parts),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)
