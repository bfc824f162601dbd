"""What the conversation log says to authors: unanswered questions, weak answers, thumbs down, clarifications.

``build`` reads a log (through faqbot/logstore.py) into a ``Report``; faqbot/grouping.py clusters the questions,
faqbot/report_render.py renders a table, JSON or CSV, and faqbot/suggest.py turns the log into phrasings to add.
Reading never writes to the log. Crisis messages are never stored as text, so they can only ever be counted here.
"""

from __future__ import annotations

import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import logstore, report_render
from .grouping import Clarification, Encode, QuestionGroup, clarifications, group, stamp
from .suggest import question_of, since, suggest, threshold

if TYPE_CHECKING:
    from .bot import Bot

__all__ = ["Clarification", "DayCounts", "EntryVotes", "QuestionGroup", "Report", "build", "suggest"]

TOP = 20
KINDS = logstore.KINDS


@dataclass(frozen=True)
class DayCounts:
    """Turns by reply type, and votes cast, on one UTC day."""

    day: str
    turns: int = 0
    answer: int = 0
    clarify: int = 0
    fallback: int = 0
    smalltalk: int = 0
    crisis: int = 0
    referral: int = 0
    up: int = 0
    down: int = 0


@dataclass(frozen=True)
class EntryVotes:
    """Thumbs on one entry's answers; many downs mean a wrong or unhelpful answer, or one that steals questions."""

    entry: str
    question: str
    down: int
    up: int
    answers: int


@dataclass(frozen=True)
class Report:
    """Everything ``faqbot report`` shows; ``to_dict``, ``to_csv`` and ``to_table`` render it."""

    source: str
    generated: str
    since: str | None
    turns: int
    low_confidence_below: float
    days: tuple[DayCounts, ...] = ()
    unanswered: tuple[QuestionGroup, ...] = ()
    low_confidence: tuple[QuestionGroup, ...] = ()
    thumbs_down: tuple[EntryVotes, ...] = ()
    clarifications: tuple[Clarification, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return report_render.to_dict(self)

    def to_csv(self) -> str:
        """One CSV for spreadsheets: a ``section`` column, and the columns that section uses."""
        return report_render.to_csv(self)

    def to_table(self) -> str:
        """Plain aligned text for a terminal, at most 100 columns wide."""
        return report_render.to_table(self)


CSV_COLUMNS = report_render.CSV_COLUMNS


def build(path: str | Path, *, days: int | None = None, bot: Bot | None = None,
          low_confidence: float | None = None, top: int = TOP, encode: Encode | None = None) -> Report:
    """Read the log at ``path`` (the last ``days`` days, else all of it); ``bot`` names entries by question;
    ``encode`` (a sentence encoder) also groups questions that mean the same."""
    below = threshold(bot, low_confidence)
    start = since(days)
    with closing(logstore.open_readonly(path)) as db:
        counts = db.day_counts(start)
        fallback = [(text, ts, None, None) for text, ts in db.unanswered(start)]
        weak = db.weak_answers(below, start)
        answers = db.answers_per_entry(start)
        voted = db.votes_per_entry(start)
        clarified = db.clarified(start)
    day_counts = tuple(DayCounts(day, **counts[day]) for day in sorted(counts))
    votes = sorted((EntryVotes(entry, question_of(bot, entry), down, up, answers.get(entry, 0))
                    for entry, down, up in voted if down), key=lambda e: (-e.down, e.up, e.entry))
    return Report(
        source=logstore.describe(path), generated=stamp(time.time()), since=stamp(start)[:10] if days else None,
        turns=sum(d.turns for d in day_counts), low_confidence_below=round(below, 4), days=day_counts,
        unanswered=group(fallback, encode=encode)[:top], low_confidence=group(weak, encode=encode)[:top],
        thumbs_down=tuple(votes[:top]), clarifications=clarifications(clarified)[:top])
