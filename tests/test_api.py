"""The public Python API: small, importable without the web stack, JSON with exactly the promised fields."""

from __future__ import annotations

import json
import subprocess
import sys

import faqbot
from faqbot.models import REPLY_FIELDS


def test_import_does_not_pull_in_the_web_stack() -> None:
    code = ("import sys, faqbot; bad = [m for m in ('fastapi', 'uvicorn', 'starlette', 'websockets', 'redis') "
            "if m in sys.modules]; print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_all_lists_only_public_names_that_exist() -> None:
    for name in faqbot.__all__:
        assert hasattr(faqbot, name), name
        assert not name.startswith("_") or name == "__version__"


def test_reply_serialises_with_exactly_the_documented_fields() -> None:
    reply = faqbot.Bot.load().ask("is ketamine addictive?")
    data = json.loads(reply.to_json())
    assert tuple(data) == REPLY_FIELDS
    assert data["type"] == "answer" and data["entry"] == "misuse"
    assert 0.0 <= data["confidence"] <= 1.0
    assert isinstance(data["suggestions"], list) and isinstance(data["options"], list)


def test_bot_from_python_objects_answers_and_declines() -> None:
    bot = faqbot.Bot.from_entries([
        {"id": "hours", "question": "When are you open?", "answer": "9 to 5 on weekdays.",
         "phrasings": ["opening hours", "what time do you open", "are you open on weekends"]},
        {"id": "parking", "question": "Is there parking?", "answer": "Yes, behind the building.",
         "phrasings": ["where can i park", "car park", "parking spaces"]},
    ])
    assert bot.ask("what are your opening hours").entry == "hours"
    assert bot.ask("where do I park my car?").entry == "parking"
    assert bot.ask("write me a poem about the sea").type is faqbot.ReplyType.FALLBACK


def test_explain_gives_ranked_candidates_with_reasons() -> None:
    ranked = faqbot.Bot.load().explain("ketamin alchol results")
    assert ranked[0].entry.id == "alcohol-results"
    assert ranked == sorted(ranked, key=lambda c: c.confidence, reverse=True)
    assert "alcohol" in ranked[0].why.terms
    assert ranked[0].why.phrasing
