"""The authoring checks on small synthetic KBs: gaps answer their own phrasings, a phrasing of an answered entry
that a declared gap would take, and yes/no openers on answers to open questions."""

from __future__ import annotations

from faqbot import Bot
from faqbot.lint import lint

GAP = {"id": "gap-price", "kind": "gap", "question": "How much does it cost?", "answer": "Ask the team.",
       "phrasings": ["what is the price", "how much is a visit", "fees", "is it expensive", "cost of treatment",
                     "how much do you charge", "price list", "do you take payment plans"],
       "source": "no price given"}
BOOKING = {"id": "booking", "question": "How do I book?", "answer": "Call us to book.",
           "phrasings": ["how do i book", "make an appointment", "schedule a visit", "sign up", "book a slot",
                         "reserve a session", "get an appointment", "booking"],
           "source": "call to book"}


def _messages(entries: list[dict[str, object]]) -> list[str]:
    return [str(f) for f in lint(Bot.from_entries(entries))]


def test_a_declared_gap_answering_its_own_phrasings_is_clean() -> None:
    assert not [m for m in _messages([GAP, BOOKING]) if "gap-price" in m and "phrasing" in m]


def test_a_price_phrasing_in_an_answered_entry_is_reported() -> None:
    leaky = dict(BOOKING, phrasings=[*BOOKING["phrasings"], "what are your prices"])
    found = [m for m in _messages([GAP, leaky]) if "what are your prices" in m]
    assert found and any("gap-price" in m for m in found)


def test_a_yes_opener_on_open_questions_is_reported() -> None:
    entry = dict(BOOKING, answer="Yes. Call us to book.")
    assert any("opens with 'Yes.'" in m for m in _messages([GAP, entry]))


def test_a_yes_opener_on_yes_no_questions_only_is_fine() -> None:
    entry = {"id": "walk-in", "question": "Do you take walk-ins?", "answer": "No. Appointments only.",
             "phrasings": ["do you take walk ins", "can i just show up", "is it ok to drop by", "are walk ins ok",
                           "can i come without booking", "do i need an appointment", "is booking required",
                           "could i come in today without calling"],
             "source": "appointments only"}
    assert not any("opens with" in m for m in _messages([GAP, BOOKING, entry]))
