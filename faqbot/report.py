"""What the conversation log says to authors: unanswered questions, weak answers, thumbs down, clarifications.

``build`` reads a log written by ``faqbot.recorder.Recorder`` into a ``Report`` (a table, JSON or CSV);
``suggest`` turns it into phrasings to paste into the knowledge base. Reading never writes to the log.
Crisis messages are never stored as text, so they can only ever be counted here.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rapidfuzz import fuzz, process

from .exceptions import ConfigError
from .models import Thresholds
from .recorder import DAY, PLACEHOLDERS, SCHEMA_VERSION
from .text import normalize

if TYPE_CHECKING:
    from .bot import Bot

TOP = 20
SIMILAR = 85  # similarity (0-100) at which two normalised questions count as the same one
MAX_DISTINCT = 5000  # distinct questions clustered per section; rarer ones are left out of the groups
EXAMPLES = 3
LOW_MARGIN = 0.15  # "low confidence": answered, but within this much of the KB's answer threshold
MAX_PHRASING = 200
TABLE_DAYS = 14
WIDTH = 100
KINDS = ("answer", "clarify", "fallback", "smalltalk", "crisis", "referral")

# The latest vote per turn: a visitor may change their mind.
# (SQLite takes the bare columns of a MAX() aggregate from the row holding the maximum.)
_VOTES = "votes AS (SELECT session, turn, vote, ts, MAX(id) FROM feedback GROUP BY session, turn)"


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
class QuestionGroup:
    """Questions that read alike once normalised: one gap (or one weak spot) in the knowledge base."""

    text: str
    count: int
    examples: tuple[str, ...]
    last_seen: str
    entries: tuple[str, ...] = ()  # low-confidence answers: the entries they reached, most frequent first
    confidence: float | None = None  # their mean confidence


@dataclass(frozen=True)
class EntryVotes:
    """Thumbs on one entry's answers; many downs mean a wrong or unhelpful answer, or one that steals questions."""

    entry: str
    question: str
    down: int
    up: int
    answers: int


@dataclass(frozen=True)
class Clarification:
    """One set of options offered and what people picked: lopsided picks suggest a missing phrasing, even ones
    suggest the entries overlap (merge them, or split the question)."""

    options: tuple[str, ...]
    offered: int
    picked: tuple[tuple[str, int], ...]
    neither: int
    examples: tuple[str, ...]


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
        return {
            "source": self.source, "generated": self.generated, "since": self.since, "turns": self.turns,
            "low_confidence_below": self.low_confidence_below,
            "days": [vars(d) for d in self.days],
            "unanswered": [_group_dict(g) for g in self.unanswered],
            "low_confidence": [_group_dict(g) for g in self.low_confidence],
            "thumbs_down": [vars(e) for e in self.thumbs_down],
            "clarifications": [{"options": list(c.options), "offered": c.offered, "picked": dict(c.picked),
                                "neither": c.neither, "examples": list(c.examples)} for c in self.clarifications],
        }

    def to_csv(self) -> str:
        """One CSV for spreadsheets: a ``section`` column, and the columns that section uses."""
        buf = io.StringIO()
        out = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
        out.writeheader()
        for d in self.days:
            out.writerow({"section": "day", **vars(d)})
        for name, groups in (("unanswered", self.unanswered), ("low_confidence", self.low_confidence)):
            for g in groups:
                out.writerow({"section": name, "text": g.text, "count": g.count, "last_seen": g.last_seen,
                              "examples": " | ".join(g.examples), "entry": " ".join(g.entries),
                              "confidence": "" if g.confidence is None else round(g.confidence, 2)})
        for e in self.thumbs_down:
            out.writerow({"section": "thumbs_down", **vars(e)})
        for c in self.clarifications:
            out.writerow({"section": "clarification", "options": " ".join(c.options), "count": c.offered,
                          "picked": " ".join(f"{k}={n}" for k, n in c.picked), "neither": c.neither,
                          "examples": " | ".join(c.examples)})
        return buf.getvalue()

    def to_table(self) -> str:
        """Plain aligned text for a terminal, at most 100 columns wide."""
        span = f"{self.days[0].day} to {self.days[-1].day} (UTC)" if self.days else "no turns yet"
        source = self.source if len(self.source) < WIDTH - 15 else "…" + self.source[-(WIDTH - 16):]
        lines = [f"faqbot report on {source}", f"{self.turns} turns, {span}"]
        lines += _table_days(self.days)
        lines += _heading("Unanswered questions (fallback), similar ones grouped")
        lines += _table_groups(self.unanswered, with_entry=False)
        lines += _heading(f"Low-confidence answers (below {self.low_confidence_below:.2f})")
        lines += _table_groups(self.low_confidence, with_entry=True)
        lines += _heading("Most thumbs down")
        if self.thumbs_down:
            lines.append(f"{'down':>4}  {'up':>4}  {'answers':>7}  {'entry':<28}  question")
            for e in self.thumbs_down:
                lines.append(_fit(f"{e.down:>4}  {e.up:>4}  {e.answers:>7}  {_fit(e.entry, 28):<28}  {e.question}"))
        else:
            lines.append("(no thumbs down)")
        lines += _heading("Clarifications: options offered, then what people picked")
        for c in self.clarifications:
            picks = ", ".join(f"{k} {n}" for k, n in c.picked)
            lines.append(_fit(f"{c.offered:>4}x  offered {', '.join(c.options)}  ->  picked {picks}, neither {c.neither}"))
            if c.examples:
                lines.append(_fit("       e.g. " + " · ".join(f'"{x}"' for x in c.examples)))
        if not self.clarifications:
            lines.append("(no clarifications)")
        lines += ["", "Crisis messages are counted, never recorded as text."]
        return "\n".join(lines) + "\n"


CSV_COLUMNS = ["section", "day", "text", "entry", "options", "count", "turns", *KINDS, "up", "down", "answers",
               "question", "confidence", "picked", "neither", "examples", "last_seen"]


def build(path: str | Path, *, days: int | None = None, bot: Bot | None = None,
          low_confidence: float | None = None, top: int = TOP) -> Report:
    """Read the log at ``path`` (the last ``days`` days, else all of it); ``bot`` names entries by question."""
    threshold = _threshold(bot, low_confidence)
    since = _since(days)
    with closing(_open(path)) as db:
        day_counts = _day_counts(db, since)
        fallback = db.execute("SELECT text, ts, NULL, NULL FROM turns WHERE type = 'fallback' AND ts >= ?",
                              (since,)).fetchall()
        weak = db.execute("SELECT text, ts, entry, confidence FROM turns WHERE type = 'answer' AND confidence < ? "
                          "AND ts >= ?", (threshold, since)).fetchall()
        votes = _entry_votes(db, since, bot)
        clarified = _clarified(db, since)
    return Report(
        source=str(path), generated=_stamp(time.time()), since=_stamp(since)[:10] if days else None,
        turns=sum(d.turns for d in day_counts), low_confidence_below=round(threshold, 4), days=day_counts,
        unanswered=_group(fallback)[:top], low_confidence=_group(weak)[:top], thumbs_down=votes[:top],
        clarifications=_clarifications(clarified)[:top])


def suggest(path: str | Path, bot: Bot | None = None, days: int | None = None, *,
            low_confidence: float | None = None, per_entry: int = 10) -> str:
    """A YAML snippet of phrasings to add to existing entries, skipping any the knowledge base already has."""
    threshold = _threshold(bot, low_confidence)
    since = _since(days)
    with closing(_open(path)) as db:
        clarified = _clarified(db, since)
        weak = db.execute(f"WITH {_VOTES} SELECT t.text, t.entry, t.confidence FROM turns t LEFT JOIN votes v "
                          "ON v.session = t.session AND v.turn = t.turn WHERE t.type = 'answer' AND t.confidence < ? "
                          "AND t.ts >= ? AND (v.vote IS NULL OR v.vote = 'up')", (threshold, since)).fetchall()
    known = {normalize(t) for e in bot.kb.entries for t in e.texts} if bot else set()
    found: dict[str, dict[str, _Phrasing]] = {}
    sightings = [(text, picked, None) for text, _, picked, _ in clarified if picked]
    sightings += [(text, entry, conf) for text, entry, conf in weak if entry]
    for text, entry, conf in sightings:
        norm = normalize(text)
        if not norm or norm in known or len(text) > MAX_PHRASING or any(p in text for p in PLACEHOLDERS):
            continue
        found.setdefault(entry, {}).setdefault(norm, _Phrasing()).add(" ".join(text.split()), conf)
    return _yaml(found, path, threshold, bot, per_entry)


# --- reading -----------------------------------------------------------------------------------------


def _open(path: str | Path) -> sqlite3.Connection:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"no conversation log at {p}; pass --db with the server's --log-db file (or set "
                          "FAQBOT_LOG_DB), or run the server with logging on to start one")
    try:
        db = sqlite3.connect(p.resolve().as_uri() + "?mode=ro", uri=True, timeout=5.0)
        version = db.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot read {p} ({exc}); is it a faqbot conversation log?") from None
    if version == 0 or version > SCHEMA_VERSION:
        db.close()
        why = "is not a faqbot conversation log" if version == 0 else "was written by a newer faqbot; upgrade"
        raise ConfigError(f"{p} {why} (log schema {version})")
    return db


def _threshold(bot: Bot | None, given: float | None) -> float:
    if given is not None:
        return given
    answer = bot.kb.settings.thresholds.answer if bot else Thresholds().answer
    return answer + LOW_MARGIN


def _since(days: int | None) -> float:
    if days is not None and days < 1:
        raise ConfigError(f"--days {days}: give a number of days of at least 1, or leave it out for the whole log")
    return time.time() - days * DAY if days else 0.0


def _day_counts(db: sqlite3.Connection, since: float) -> tuple[DayCounts, ...]:
    kinds = ", ".join(f"SUM(type = '{k}')" for k in KINDS)
    rows: dict[str, dict[str, int]] = {}
    for day, turns, *counts in db.execute(f"SELECT date(ts, 'unixepoch') AS day, COUNT(*), {kinds} FROM turns "
                                          "WHERE ts >= ? GROUP BY day", (since,)):
        rows[day] = {"turns": turns, **dict(zip(KINDS, counts))}
    for day, up, down in db.execute(f"WITH {_VOTES} SELECT date(ts, 'unixepoch') AS day, SUM(vote = 'up'), "
                                    "SUM(vote = 'down') FROM votes WHERE ts >= ? GROUP BY day", (since,)):
        rows.setdefault(day, {}).update(up=up, down=down)
    return tuple(DayCounts(day, **rows[day]) for day in sorted(rows))


def _entry_votes(db: sqlite3.Connection, since: float, bot: Bot | None) -> tuple[EntryVotes, ...]:
    answers = dict(db.execute("SELECT entry, COUNT(*) FROM turns WHERE type = 'answer' AND ts >= ? GROUP BY entry",
                              (since,)).fetchall())
    rows = db.execute(f"WITH {_VOTES} SELECT t.entry, SUM(v.vote = 'down'), SUM(v.vote = 'up') FROM turns t "
                      "JOIN votes v ON v.session = t.session AND v.turn = t.turn "
                      "WHERE t.type = 'answer' AND t.ts >= ? GROUP BY t.entry", (since,)).fetchall()
    found = [EntryVotes(entry, _question(bot, entry), down, up, answers.get(entry, 0))
             for entry, down, up in rows if down]
    return tuple(sorted(found, key=lambda e: (-e.down, e.up, e.entry)))


def _clarified(db: sqlite3.Connection, since: float) -> list[tuple[str, tuple[str, ...], str | None, float]]:
    """Each clarification: its question, the options, the entry picked (None: neither) and when."""
    rows = db.execute("SELECT text, options, next_type, next_entry, ts FROM ("
                      " SELECT text, options, type, ts, LEAD(type) OVER w AS next_type, LEAD(entry) OVER w AS next_entry"
                      " FROM turns WHERE ts >= ? WINDOW w AS (PARTITION BY session ORDER BY ts, id)"
                      ") WHERE type = 'clarify'", (since,)).fetchall()
    out = []
    for text, options, next_type, next_entry, ts in rows:
        offered = tuple(json.loads(options)) if options else ()
        picked = next_entry if next_type == "answer" and next_entry in offered else None
        out.append((text, offered, picked, ts))
    return out


def _question(bot: Bot | None, entry: str) -> str:
    return " ".join(bot.kb.entry(entry).question.split()) if bot and bot.kb.has(entry) else ""


# --- grouping ----------------------------------------------------------------------------------------


# Typos (ratio) and reordered words (token_sort_ratio); not token_set_ratio, for which "cost" equals every
# question that mentions cost.
_SCORERS = (fuzz.ratio, fuzz.token_sort_ratio)


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


def _group(rows: Iterable[tuple[str, float, str | None, float | None]]) -> tuple[QuestionGroup, ...]:
    """Greedy clustering, most asked first: a question joins the first group whose seed reads alike."""
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
    seeds: list[str] = []
    groups: list[_Bucket] = []
    ordered = sorted(exact.items(), key=lambda kv: (-sum(kv[1].texts.values()), kv[0]))[:MAX_DISTINCT]
    for norm, bucket in ordered:
        hit = max((h for h in (process.extractOne(norm, seeds, scorer=s, processor=None, score_cutoff=SIMILAR)
                               for s in _SCORERS) if h is not None), key=lambda h: h[1], default=None)
        if hit is None:
            seeds.append(norm)
            groups.append(bucket)
        else:
            groups[hit[2]].add(bucket)
    out = []
    for b in groups:
        count = sum(b.texts.values())
        entries = tuple(e for e, _ in b.entries.most_common())
        out.append(QuestionGroup(text=b.texts.most_common(1)[0][0], count=count,
                                 examples=tuple(t for t, _ in b.texts.most_common(EXAMPLES)),
                                 last_seen=_stamp(b.last), entries=entries,
                                 confidence=round(b.confidence / count, 4) if entries else None))
    out.sort(key=lambda g: g.last_seen, reverse=True)
    return tuple(sorted(out, key=lambda g: -g.count))


def _clarifications(rows: list[tuple[str, tuple[str, ...], str | None, float]]) -> tuple[Clarification, ...]:
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


# --- rendering ---------------------------------------------------------------------------------------


def _stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def _group_dict(g: QuestionGroup) -> dict[str, Any]:
    data: dict[str, Any] = {"text": g.text, "count": g.count, "examples": list(g.examples), "last_seen": g.last_seen}
    if g.entries:
        data.update(entries=list(g.entries), confidence=g.confidence)
    return data


def _fit(text: str, width: int = WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _heading(title: str) -> list[str]:
    return ["", title, "-" * len(title)]


def _table_days(days: tuple[DayCounts, ...]) -> list[str]:
    lines = _heading("Turns per day")
    cols = ("turns", *KINDS, "up", "down")
    widths = [max(len(c), 5) for c in cols]
    lines.append(f"{'day':<10}" + "".join(f"  {c:>{w}}" for c, w in zip(cols, widths)))
    shown = days[-TABLE_DAYS:]
    if len(days) > len(shown):
        lines.append(f"({len(days) - len(shown)} earlier days in --format json or csv)")
    for d in shown:
        lines.append(f"{d.day:<10}" + "".join(f"  {getattr(d, c):>{w}}" for c, w in zip(cols, widths)))
    lines.append(f"{'total':<10}" + "".join(f"  {sum(getattr(d, c) for d in days):>{w}}" for c, w in zip(cols, widths)))
    return lines


def _table_groups(groups: tuple[QuestionGroup, ...], *, with_entry: bool) -> list[str]:
    if not groups:
        return ["(none)"]
    lines = [f"{'count':>5}  {'last seen':<16}  " + (f"{'conf':>4}  {'entry':<24}  " if with_entry else "")
             + "question"]
    for g in groups:
        lead = f"{g.count:>5}  {g.last_seen:<16}  "
        if with_entry:
            lead += f"{g.confidence or 0:>4.2f}  {_fit(', '.join(g.entries), 24):<24}  "
        lines.append(_fit(lead + g.text))
        others = [x for x in g.examples if x != g.text]
        if others:
            lines.append(_fit(" " * len(lead) + "also: " + " · ".join(f'"{x}"' for x in others)))
    return lines


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


def _yaml(found: dict[str, dict[str, _Phrasing]], path: str | Path, threshold: float, bot: Bot | None,
          per_entry: int) -> str:
    kb = f" ({bot.kb.path or 'the bundled knowledge base'})" if bot else ""
    lines = [
        f"# Phrasings to add to existing entries, from the conversation log {path}.",
        f"# Questions that reached each entry only after a clarification, or at confidence below {threshold:.2f},",
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
            note = _question(bot, entry)
        lines.append(f"{key}:" + (f"  # {note}" if note else ""))
        lines.append("  phrasings:")
        for p in sorted(phrasings.values(), key=lambda p: (-p.count, p.text))[:per_entry]:
            lines.append(f"    - {json.dumps(p.text, ensure_ascii=False)}  # {p.why()}")
    return "\n".join(lines) + "\n"
