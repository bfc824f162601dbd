"""Phrasings the conversation log suggests adding to existing entries, as a YAML snippet to review."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import logstore
from .exceptions import ConfigError
from .models import Thresholds
from .recorder import DAY, PLACEHOLDERS
from .text import normalize

if TYPE_CHECKING:
    from .bot import Bot
    from .grouping import Encode

LOW_MARGIN = 0.15  # "low confidence": answered, but within this much of the KB's answer threshold
MAX_PHRASING = 200


def threshold(bot: Bot | None, given: float | None) -> float:
    """The confidence below which an answer counts as weak: ``given``, else the KB's answer threshold + margin."""
    if given is not None:
        return given
    answer = bot.kb.settings.thresholds.answer if bot else Thresholds().answer
    return answer + LOW_MARGIN


def since(days: int | None) -> float:
    """The unix time ``days`` days ago (0: the whole log)."""
    if days is not None and days < 1:
        raise ConfigError(f"--days {days}: give a number of days of at least 1, or leave it out for the whole log")
    return time.time() - days * DAY if days else 0.0


def usable(text: str, known: set[str]) -> bool:
    """Whether a logged question may become a phrasing: new to the KB, not too long, nothing redacted in it."""
    norm = normalize(text)
    return bool(norm) and norm not in known and len(text) <= MAX_PHRASING and not any(p in text for p in PLACEHOLDERS)


def known_phrasings(bot: Bot | None) -> set[str]:
    return {normalize(t) for e in bot.kb.entries for t in e.texts} if bot else set()


def suggest(path: str | Path, bot: Bot | None = None, days: int | None = None, *,
            low_confidence: float | None = None, per_entry: int = 10) -> str:
    """A YAML snippet of phrasings to add to existing entries, skipping any the knowledge base already has."""
    below = threshold(bot, low_confidence)
    start = since(days)
    with closing(logstore.open_readonly(path)) as db:
        clarified = db.clarified(start)
        weak = db.weak_answers(below, start, drop_voted_down=True)
    known = known_phrasings(bot)
    found: dict[str, dict[str, _Phrasing]] = {}
    sightings: list[tuple[str, str, float | None]] = [(text, picked, None) for text, _, picked, _ in clarified
                                                      if picked]
    sightings += [(text, entry, conf) for text, _, entry, conf in weak if entry]
    for text, entry, conf in sightings:
        if not usable(text, known):
            continue
        found.setdefault(entry, {}).setdefault(normalize(text), _Phrasing()).add(" ".join(text.split()), conf)
    return _yaml(found, path, below, bot, per_entry)


def question_of(bot: Bot | None, entry: str) -> str:
    """The entry's question on one line, or "" without a bot or for an unknown entry."""
    return " ".join(bot.kb.entry(entry).question.split()) if bot and bot.kb.has(entry) else ""


@dataclass
class _Phrasing:
    """One suggested phrasing: the ways it was typed (the commonest is shown) and how it reached the entry."""

    texts: Counter[str] = field(default_factory=Counter)
    clarified: int = 0
    weak: list[float] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.texts.most_common(1)[0][0]

    def add(self, text: str, confidence: float | None) -> None:
        self.texts[text] += 1
        if confidence is None:
            self.clarified += 1
        else:
            self.weak.append(confidence)

    @property
    def count(self) -> int:
        return self.clarified + len(self.weak)

    def why(self) -> str:
        parts = [f"{self.clarified}x after a clarification"] if self.clarified else []
        if self.weak:
            parts.append(f"{len(self.weak)}x at confidence {min(self.weak):.2f}" + ("+" if len(self.weak) > 1 else ""))
        return ", ".join(parts)


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _yaml(found: dict[str, dict[str, _Phrasing]], path: str | Path, below: float, bot: Bot | None,
          per_entry: int) -> str:
    kb = f" ({bot.kb.path or 'the bundled knowledge base'})" if bot else ""
    lines = [
        f"# Phrasings to add to existing entries, from the conversation log {path}.",
        f"# Questions that reached each entry only after a clarification, or at confidence below {below:.2f},",
        f"# minus those the knowledge base{kb} already has and answers that got a thumbs down.",
        "# Review each one: paste those that really ask the entry's question under that entry's `phrasings:`",
        "# in your knowledge files, then run `faqbot lint` and `faqbot test`, and reload the server.",
    ]
    ranked = sorted(found.items(), key=lambda kv: (-sum(p.count for p in kv[1].values()), kv[0]))
    if not ranked:
        return "\n".join([*lines, "# Nothing to suggest yet.", "{}"]) + "\n"
    for entry, phrasings in ranked:
        key = entry if _PLAIN_KEY.match(entry) and entry.lower() not in _YAML_WORDS else json.dumps(entry)
        if bot and not bot.kb.has(entry):
            note = "not in this knowledge base (removed, or pass --knowledge)"
        else:
            note = question_of(bot, entry)
        lines.append(f"{key}:" + (f"  # {note}" if note else ""))
        lines.append("  phrasings:")
        for p in sorted(phrasings.values(), key=lambda p: (-p.count, p.text))[:per_entry]:
            lines.append(f"    - {json.dumps(p.text, ensure_ascii=False)}  # {p.why()}")
    return "\n".join(lines) + "\n"


# --- proposals: groups of logged questions, each with the entry it should join -----------------------

MAX_NEW_PHRASINGS = 10


@dataclass(frozen=True)
class Proposal:
    """A group of logged questions that mean the same, and the entry they should become phrasings of
    (``target``; None when no entry fits and a new one is needed)."""

    id: str
    target: str | None
    phrasings: tuple[str, ...]
    count: int
    signals: tuple[str, ...]  # why: picked after a clarification, low confidence, unanswered, thumbs down
    nearest: float | None  # the target's confidence for the group's question, when the engine proposed it
    question: str = ""  # the target's question

    def describe(self) -> str:
        where = f"add to '{self.target}' ({self.question})" if self.target else "new entry (no entry fits)"
        lines = [f"[{self.id}] {self.count}x, {', '.join(self.signals)}: {where}"]
        lines += [f"    - {p}" for p in self.phrasings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "target": self.target, "question": self.question, "phrasings": list(self.phrasings),
                "count": self.count, "signals": list(self.signals), "nearest": self.nearest}


_SIGNAL_ORDER = ("picked after a clarification", "answered at low confidence", "thumbs down", "unanswered")


def proposals(path: str | Path, bot: Bot, *, days: int | None = None, low_confidence: float | None = None,
              encode: Encode | None = None) -> list[Proposal]:
    """Unanswered, low-confidence, thumbed-down and clarified questions grouped by meaning, each group with the
    entry to add it to: the one visitors picked or reached, else the nearest the engine finds, else none."""
    from .grouping import group

    below = threshold(bot, low_confidence)
    start = since(days)
    with closing(logstore.open_readonly(path)) as db:
        clarified = db.clarified(start)
        weak = db.weak_answers(below, start, drop_voted_down=True)
        down = db.voted_down(start)
        missed = db.unanswered(start)
    known = known_phrasings(bot)
    rows: list[tuple[str, float, str | None, float | None]] = []
    signals: dict[str, set[str]] = {}
    wrong: dict[str, set[str]] = {}  # entries that got a thumbs down for this wording

    def see(text: str, ts: float, entry: str | None, signal: str) -> None:
        if usable(text, known):
            rows.append((text, ts, entry, 1.0 if entry else None))
            signals.setdefault(normalize(text), set()).add(signal)

    for text, _, picked, ts in clarified:
        see(text, ts, picked, "picked after a clarification" if picked else "unanswered")
    for text, ts, entry, _ in weak:
        see(text, ts, entry, "answered at low confidence")
    for text, ts, entry, _ in down:
        see(text, ts, None, "thumbs down")
        if entry:
            wrong.setdefault(normalize(text), set()).add(entry)
    for text, ts in missed:
        see(text, ts, None, "unanswered")
    # Questions that reached an entry stay with it; only those that reached none are grouped across the log.
    by_target: dict[str | None, list[tuple[str, float, str | None, float | None]]] = {}
    for row in rows:
        by_target.setdefault(row[2], []).append(row)
    groups = sorted(((key, g) for key, part in by_target.items() for g in group(part, encode=encode)),
                    key=lambda kg: (-kg[1].count, kg[1].text))
    out = []
    for key, g in groups:
        norms = [normalize(t) for t, _ in g.texts]
        why = set().union(*(signals.get(n, set()) for n in norms))
        avoid = set().union(*(wrong.get(n, set()) for n in norms))
        target, nearest = (g.entries[0], None) if g.entries else _nearest(bot, g.text, avoid)
        phrasings: list[str] = []
        for (text, _), norm in zip(g.texts, norms):
            if norm not in {normalize(p) for p in phrasings} and len(phrasings) < MAX_NEW_PHRASINGS:
                phrasings.append(text)
        ident = hashlib.sha1(f"{key or ''}\n{normalize(g.text)}".encode()).hexdigest()[:6]
        out.append(Proposal(id=ident, target=target, phrasings=tuple(phrasings), count=g.count,
                            signals=tuple(s for s in _SIGNAL_ORDER if s in why), nearest=nearest,
                            question=question_of(bot, target) if target else ""))
    return out


def _nearest(bot: Bot, text: str, avoid: set[str]) -> tuple[str | None, float | None]:
    """The entry the engine ranks first for ``text`` (not one voted down for it), if it reaches the KB's clarify
    threshold: close enough to show as an option, so close enough to propose."""
    for c in bot.engine.rank(text, limit=3):
        if c.entry.id in avoid:
            continue
        if c.confidence >= bot.kb.settings.thresholds.clarify:
            return c.entry.id, round(c.confidence, 4)
        break
    return None, None


def proposals_text(found: list[Proposal], *, source: str | Path) -> str:
    """Proposals as a terminal listing, with the commands that accept them."""
    if not found:
        return f"Nothing to propose from {source} yet.\n"
    lines = [f"Suggestions from {source}, most asked first. Accept with `faqbot accept ID ...` (or `faqbot accept` "
             "to go through them), which lints and runs the answer suite before keeping a change.", ""]
    for p in found:
        lines += [p.describe(), ""]
    return "\n".join(lines)
