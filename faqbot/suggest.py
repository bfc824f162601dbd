"""Phrasings the conversation log suggests adding to existing entries, as a YAML snippet to review."""

from __future__ import annotations

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
        clarified = logstore.clarified(db, start)
        weak = logstore.weak_answers(db, below, start, drop_voted_down=True)
    known = known_phrasings(bot)
    found: dict[str, dict[str, _Phrasing]] = {}
    sightings = [(text, picked, None) for text, _, picked, _ in clarified if picked]
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
