"""Authoring checks beyond validation: thin entries, stale reviews, shadowed phrasings, near-duplicates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .bot import Bot
from .models import ReplyType
from .text import normalize

MIN_PHRASINGS = 8


@dataclass(frozen=True)
class Finding:
    """One lint warning, located at an entry."""

    entry: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: entry '{self.entry}': {self.message}"


def lint(bot: Bot, *, today: dt.date | None = None) -> list[Finding]:
    """Warnings an author should look at; an empty list means the KB is clean."""
    today = today or dt.date.today()
    kb = bot.kb
    findings: list[Finding] = []
    max_age = kb.settings.review_max_age_days
    for e in kb.entries:
        where = f"{e.file}:{e.line}" if e.file else "<entries>"
        if len(e.phrasings) < MIN_PHRASINGS:
            findings.append(Finding(e.id, where, f"only {len(e.phrasings)} phrasings; write at least {MIN_PHRASINGS} "
                                                 "(casual, slang, short keyword forms)"))
        if e.reviewed and (today - dt.date.fromisoformat(e.reviewed)).days > max_age:
            findings.append(Finding(e.id, where, f"last reviewed {e.reviewed}, more than {max_age} days ago; "
                                                 "re-check it against the source and update 'reviewed'"))
        if not e.source:
            findings.append(Finding(e.id, where, "no 'source': quote the source sentences the answer rests on"))
        for text in e.texts:
            reply = bot.conversation().decide(bot.engine.rank(text, limit=5))
            if reply.type in (ReplyType.ANSWER, ReplyType.GAP) and reply.entry == e.id:
                continue  # a declared gap's reply is its own answer
            if reply.type is ReplyType.ANSWER:
                got = f"is answered by '{reply.entry}'"
            elif reply.type is ReplyType.CLARIFY:
                got = "is ambiguous with " + ", ".join(f"'{o.entry}'" for o in reply.options if o.entry != e.id)
            else:
                got = "is not recognised (fallback)"
            findings.append(Finding(e.id, where, f"phrasing {text!r} {got}"))
    owners: dict[str, str] = {}
    for e in kb.entries:
        where = f"{e.file}:{e.line}" if e.file else "<entries>"
        mine: set[str] = set()
        for text in e.texts:
            key = normalize(text)
            other = owners.setdefault(key, e.id)
            if other != e.id:
                findings.append(Finding(e.id, where, f"phrasing {text!r} is also in '{other}'; keep it in one entry"))
            elif key in mine:
                findings.append(Finding(e.id, where, f"phrasing {text!r} is repeated; drop the copy"))
            mine.add(key)
    t = kb.settings.thresholds
    reported: set[frozenset[str]] = set()
    for e in kb.entries:
        for c in bot.engine.rank(e.question, limit=3):
            pair = frozenset((e.id, c.entry.id))
            if c.entry.id != e.id and c.confidence >= t.answer and pair not in reported:
                reported.add(pair)
                findings.append(Finding(e.id, f"{e.file}:{e.line}" if e.file else "<entries>",
                                        f"near-duplicate of '{c.entry.id}' (its question scores "
                                        f"{c.confidence:.2f} there); merge them or make their wording distinct"))
    return findings
