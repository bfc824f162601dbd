"""Authoring checks beyond validation: thin entries, stale reviews, shadowed phrasings, near-duplicates, phrasings
that read like a declared gap, and yes/no openers on answers to questions that are not yes/no questions."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
from dataclasses import dataclass

from .bot import Bot
from .models import Entry, ReplyType
from .text import normalize

MIN_PHRASINGS = 8
GAP_LIKE = 0.75  # a phrasing whose nearest wording in the KB is a declared gap's, at least this close in meaning
SAME = 0.999  # a text's similarity to itself
# An answer that opens with a bare "Yes." or "No." reads as nonsense after "what else do i need".
_OPENER = re.compile(r"^\W*(yes|no)\b\W", re.IGNORECASE)
_YES_NO = re.compile(r"^(?:(?:so|and|but|ok|okay|hi|hey|um|well)\s+)*(?:is|are|am|was|were|do|does|did|can|could|will|"
                     r"would|should|shall|may|might|must|has|have|had|isnt|arent|doesnt|dont|cant|wont|wouldnt|"
                     r"shouldnt)\b")


@dataclass(frozen=True)
class Finding:
    """One lint warning, located at an entry."""

    entry: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: entry '{self.entry}': {self.message}"


_ANSWERED = (ReplyType.ANSWER, ReplyType.GAP)  # a declared gap answers its own phrasings


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
            if reply.type in _ANSWERED and reply.entry == e.id:
                continue
            if reply.type in _ANSWERED:
                got = f"is answered by '{reply.entry}'"
            elif reply.type is ReplyType.CLARIFY:
                got = "is ambiguous with " + ", ".join(f"'{o.entry}'" for o in reply.options if o.entry != e.id)
            else:
                got = "is not recognised (fallback)"
            findings.append(Finding(e.id, where, f"phrasing {text!r} {got}"))
        findings += _reads_like_gap(bot, e, where) + _opener(e, where)
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
        ranked = bot.engine.rank(e.question, limit=3)
        own = next((c.confidence for c in ranked if c.entry.id == e.id), 0.0)
        for c in ranked:
            pair = frozenset((e.id, c.entry.id))
            # Related entries are expected to resemble each other; a duplicate is one the bot can hardly tell
            # apart on the entry's own question (the other comes within half the answer margin of it).
            close = c.confidence >= t.answer and own - c.confidence < t.margin / 2
            if c.entry.id != e.id and close and pair not in reported:
                reported.add(pair)
                findings.append(Finding(e.id, f"{e.file}:{e.line}" if e.file else "<entries>",
                                        f"near-duplicate of '{c.entry.id}' (its question scores "
                                        f"{c.confidence:.2f} there); merge them or make their wording distinct"))
    return findings


def _reads_like_gap(bot: Bot, entry: Entry, where: str) -> list[Finding]:
    """Phrasings of an answered entry that mean what a declared gap's phrasing means: the bot would answer them from
    the entry when the visitor asked what only the team answers (a price, an address). Needs the encoder."""
    semantic = bot.engine.semantic
    if entry.is_gap or semantic is None:
        return []
    entries = bot.engine.entries
    own = entries.index(entry)
    is_gap = np.array([entries[i].is_gap for i in semantic.owners])
    mine = semantic.owners == own
    if not is_gap.any():
        return []
    out = []
    # The phrasings' vectors are the ones the semantic tier already holds (texts[0] is the question).
    for text, vector in zip(entry.phrasings, semantic.vectors_of(own)[1:]):
        rows = semantic.nearness(vector).rows
        # Leave the phrasing itself out: its nearest other wording in the whole KB is a gap's.
        others = np.where(mine & (rows >= SAME), -1.0, rows)
        gap_row = int(np.argmax(others))
        if is_gap[gap_row] and others[gap_row] >= GAP_LIKE:
            gap = entries[int(semantic.owners[gap_row])]
            out.append(Finding(entry.id, where, f"phrasing {text!r} reads like the declared gap '{gap.id}' "
                                                f"(its nearest wording in the KB, {float(rows[gap_row]):.2f} in "
                                                "meaning); move it there or reword it"))
    return out


def _opener(entry: Entry, where: str) -> list[Finding]:
    """A "Yes." / "No." opener fits only when every way of asking is a yes/no question."""
    if not _OPENER.match(entry.answer):
        return []
    open_ended = [p for p in (entry.question, *entry.phrasings) if not _YES_NO.match(normalize(p))]
    if not open_ended:
        return []
    word = _OPENER.match(entry.answer).group(1).capitalize()  # type: ignore[union-attr]
    return [Finding(entry.id, where, f"answer opens with '{word}.' but {len(open_ended)} of its phrasings are not yes/no "
                                     f"questions (e.g. {open_ended[0]!r}); open with the fact instead")]
