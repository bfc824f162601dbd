"""Clustering logged questions: near-identical ones become one group, one gap in the knowledge base.

Spelling decides by default (typos and reordered words); given an ``encode`` function (the bot's sentence
encoder), questions that mean the same ("how much is it", "price?") join too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from rapidfuzz import fuzz, process

from .text import normalize

SIMILAR = 85  # similarity (0-100) at which two normalised questions count as the same one
MEANING = 0.7  # similarity to a group's mean vector to join it; chosen on two dev sets (python -m bench.grouping)
LINKAGE = "centroid"
MAX_DISTINCT = 5000  # distinct questions clustered per section; rarer ones are left out of the groups
EXAMPLES = 3

# Typos (ratio) and reordered words (token_sort_ratio); not token_set_ratio, for which "cost" equals every
# question that mentions cost.
_SCORERS = (fuzz.ratio, fuzz.token_sort_ratio)

Encode = Callable[[Sequence[str]], Any]  # texts -> unit vectors, one row per text (numpy array)


@dataclass(frozen=True)
class QuestionGroup:
    """Questions that read alike once normalised: one gap (or one weak spot) in the knowledge base."""

    text: str
    count: int
    examples: tuple[str, ...]
    last_seen: str
    entries: tuple[str, ...] = ()  # low-confidence answers: the entries they reached, most frequent first
    confidence: float | None = None  # their mean confidence
    texts: tuple[tuple[str, int], ...] = field(default=(), compare=False, repr=False)  # every wording, with counts

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text, "count": self.count, "examples": list(self.examples),
                                "last_seen": self.last_seen}
        if self.entries:
            data.update(entries=list(self.entries), confidence=self.confidence)
        return data


@dataclass(frozen=True)
class Clarification:
    """One set of options offered and what people picked: lopsided picks suggest a missing phrasing, even ones
    suggest the entries overlap (merge them, or split the question)."""

    options: tuple[str, ...]
    offered: int
    picked: tuple[tuple[str, int], ...]
    neither: int
    examples: tuple[str, ...]


def stamp(ts: float) -> str:
    """A unix time as ``YYYY-MM-DD HH:MM`` in UTC."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


@dataclass
class _Bucket:
    texts: Counter[str] = field(default_factory=Counter)
    entries: Counter[str] = field(default_factory=Counter)
    confidence: float = 0.0
    last: float = 0.0

    def add(self, other: _Bucket) -> None:
        self.texts.update(other.texts)
        self.entries.update(other.entries)
        self.confidence += other.confidence
        self.last = max(self.last, other.last)


def group(rows: Iterable[tuple[str, float, str | None, float | None]], *,
          encode: Encode | None = None, meaning: float = MEANING, linkage: str = LINKAGE) -> tuple[QuestionGroup, ...]:
    """Greedy clustering of (text, ts, entry, confidence) rows, most asked first: a question joins the first
    group whose seed reads alike (or, with ``encode``, means the same at cosine ``meaning`` or more)."""
    exact: dict[str, _Bucket] = {}
    for text, ts, entry, conf in rows:
        norm = normalize(text)
        if not norm:
            continue
        b = exact.setdefault(norm, _Bucket())
        b.texts[" ".join(text.split())] += 1
        b.last = max(b.last, ts)
        if entry:
            b.entries[entry] += 1
            b.confidence += conf or 0.0
    ordered = sorted(exact.items(), key=lambda kv: (-sum(kv[1].texts.values()), kv[0]))[:MAX_DISTINCT]
    vectors = encode([norm for norm, _ in ordered]) if encode is not None and ordered else None
    seeds: list[str] = []
    groups: list[_Bucket] = []
    owner: list[int] = []  # the group of each question placed so far (meaning grouping only)
    for i, (norm, bucket) in enumerate(ordered):
        hit = max((h for h in (process.extractOne(norm, seeds, scorer=s, processor=None, score_cutoff=SIMILAR)
                               for s in _SCORERS) if h is not None), key=lambda h: h[1], default=None)
        at = hit[2] if hit is not None else None
        if at is None and vectors is not None and groups:
            at = _closest(vectors, i, owner, len(groups), meaning, linkage)
        if at is None:
            seeds.append(norm)
            groups.append(bucket)
            at = len(groups) - 1
        else:
            groups[at].add(bucket)
        owner.append(at)
    out = []
    for b in groups:
        count = sum(b.texts.values())
        entries = tuple(e for e, _ in b.entries.most_common())
        out.append(QuestionGroup(text=b.texts.most_common(1)[0][0], count=count,
                                 examples=tuple(t for t, _ in b.texts.most_common(EXAMPLES)),
                                 last_seen=stamp(b.last), entries=entries,
                                 confidence=round(b.confidence / count, 4) if entries else None,
                                 texts=tuple(b.texts.most_common())))
    out.sort(key=lambda g: g.last_seen, reverse=True)
    return tuple(sorted(out, key=lambda g: -g.count))


def _closest(vectors: Any, i: int, owner: list[int], count: int, meaning: float, linkage: str) -> int | None:
    """The group question ``i`` joins by meaning, or None. Complete linkage: its least similar member must still
    reach ``meaning``, so a group never chains from one topic to the next in a log where every question shares
    the domain's words. Centroid: the group's mean vector must."""
    import numpy as np

    sims = vectors[:i] @ vectors[i]
    groups = np.asarray(owner, dtype=np.int64)
    if linkage == "complete":
        score = np.full(count, np.inf, dtype=np.float32)
        np.minimum.at(score, groups, sims)
    else:
        sums = np.zeros((count, vectors.shape[1]), dtype=np.float32)
        np.add.at(sums, groups, vectors[:i])
        score = (sums @ vectors[i]) / np.maximum(np.linalg.norm(sums, axis=1), 1e-12)
    best = int(score.argmax())
    return best if float(score[best]) >= meaning else None


def clarifications(rows: Iterable[tuple[str, tuple[str, ...], str | None, float]]) -> tuple[Clarification, ...]:
    """Clarifications grouped by the set of options offered, with what people picked."""
    sets: dict[tuple[str, ...], tuple[Counter[str], Counter[str]]] = {}
    for text, offered, picked, _ in rows:
        picks, texts = sets.setdefault(tuple(sorted(offered)), (Counter(), Counter()))
        picks[picked or ""] += 1
        texts[" ".join(text.split())] += 1
    out = [Clarification(options=options, offered=sum(picks.values()),
                         picked=tuple((o, picks[o]) for o in sorted(options, key=lambda o: -picks[o])),
                         neither=picks[""], examples=tuple(t for t, _ in texts.most_common(EXAMPLES)))
           for options, (picks, texts) in sets.items()]
    return tuple(sorted(out, key=lambda c: (-c.offered, c.options)))
