"""``faqbot import``: question/answer pairs (faqbot/sources.py) into a KB file, checked like any other.

The file is written with slugged ids, ``owner`` and ``reviewed`` set and the answer kept as its ``source``; then
the KB it lands in is loaded, linted, and searched for near-duplicates among the new questions and against the
entries already there, so the author knows what to merge before the bot goes live.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .exceptions import ConfigError
from .knowledge import knowledge_files, read_yaml
from .sources import Pair
from .text import normalize

MAX_ID = 48
DEFAULT_FILE = "imported.yaml"
DEFAULT_OWNER = "imported"


@dataclass(frozen=True)
class Duplicate:
    """Two questions the engine cannot tell apart: ``other`` wins when ``entry``'s own question is asked."""

    entry: str
    other: str
    confidence: float
    existing: bool  # ``other`` was in the KB before the import

    def __str__(self) -> str:
        where = "existing entry" if self.existing else "imported entry"
        return f"'{self.entry}' reads like {where} '{self.other}' (its question scores {self.confidence:.2f} there)"


@dataclass(frozen=True)
class ImportResult:
    """What ``import_pairs`` wrote and found."""

    path: Path
    entries: tuple[str, ...]
    skipped: tuple[str, ...] = ()  # "where: why" for pairs left out
    duplicates: tuple[Duplicate, ...] = ()
    lint: tuple[str, ...] = ()
    stats: dict[str, int] = field(default_factory=dict)


def slug(text: str, *, limit: int = MAX_ID) -> str:
    """A readable id from a question: ``How does it work?`` -> ``how-does-it-work``."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", folded)
    out = ""
    for w in words:
        if len(out) + len(w) + (1 if out else 0) > limit:
            break
        out = f"{out}-{w}" if out else w
    return out or "entry"


def existing_ids(directory: Path) -> set[str]:
    """Entry ids already in the KB directory's files."""
    ids: set[str] = set()
    if not directory.is_dir():
        return ids
    for f in knowledge_files(directory):
        doc = read_yaml(f)
        if isinstance(doc, dict):
            ids.update(str(e.get("id")) for e in doc.get("entries") or () if isinstance(e, dict))
    return ids


def to_entries(pairs: Iterable[Pair], *, owner: str = DEFAULT_OWNER, reviewed: str | None = None,
               taken: Iterable[str] = ()) -> tuple[list[dict[str, Any]], list[str]]:
    """KB entry mappings for ``pairs`` (unique slugged ids) and "where: why" for each pair left out."""
    reviewed = reviewed or dt.date.today().isoformat()
    used = set(taken)
    seen_questions: dict[str, str] = {}
    entries: list[dict[str, Any]] = []
    skipped: list[str] = []
    for p in pairs:
        if not p.answer.strip():
            skipped.append(f"{p.where}: '{p.question}' has no answer")
            continue
        key = normalize(p.question)
        if key in seen_questions:
            skipped.append(f"{p.where}: '{p.question}' repeats the question at {seen_questions[key]}")
            continue
        seen_questions[key] = p.where
        base = slug(p.id) if p.id else slug(p.question)
        ident, n = base, 2
        while ident in used:
            ident, n = f"{base[: MAX_ID - 4]}-{n}", n + 1
        used.add(ident)
        phrasings: list[str] = []
        for v in p.phrasings:
            if normalize(v) not in {normalize(x) for x in (p.question, *phrasings)}:
                phrasings.append(" ".join(v.split()))
        entry: dict[str, Any] = {"id": ident, "question": p.question}
        if p.topic:
            entry["topic"] = p.topic
        entry["answer"] = p.answer.strip() + "\n"
        entry["phrasings"] = phrasings
        if p.keywords:
            entry["keywords"] = list(p.keywords)
        if p.related:
            entry["related"] = list(p.related)
        # The imported text is the source the answer rests on; editing the answer later keeps the original here.
        entry["source"] = " ".join(_plain(p.answer).split())
        entry["owner"] = owner
        entry["reviewed"] = reviewed
        entries.append(entry)
    for entry in entries:  # 'related' may only name entries the KB will have
        if "related" in entry:
            unknown = [r for r in entry["related"] if r not in used]
            entry["related"] = [r for r in entry["related"] if r in used]
            if unknown:
                skipped.append(f"entry '{entry['id']}': related {', '.join(unknown)} left out (no such entry)")
            if not entry["related"]:
                del entry["related"]
    return entries, skipped


def _plain(markdown: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown).replace("**", "")
    return re.sub(r"^\s*- (.*)$", r"\1;", text, flags=re.MULTILINE)


def dump(entries: Sequence[dict[str, Any]], *, sources: Sequence[str]) -> str:
    """A KB file for ``entries``, with a header comment naming where they came from (ruamel keeps it editable)."""
    from io import StringIO

    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

    yaml = YAML()
    yaml.width = 110
    yaml.indent(mapping=2, sequence=4, offset=2)
    items = CommentedSeq()
    for e in entries:
        m = CommentedMap()
        for k, v in e.items():
            if k == "answer":
                m[k] = LiteralScalarString(v)
            elif k == "source":
                m[k] = FoldedScalarString(v) if len(v) > 80 else v
            elif k == "phrasings":
                seq = CommentedSeq(v)
                seq.fa.set_block_style()
                m[k] = seq
            else:
                m[k] = v
        items.append(m)
    for i in range(1, len(items)):
        items.yaml_set_comment_before_after_key(i, before="\n", indent=2)
    doc = CommentedMap(entries=items)
    doc.yaml_set_start_comment(
        "Imported by `faqbot import` from " + ", ".join(sources) + ".\n"
        "Add phrasings (how visitors really type each question), check each answer, then run `faqbot lint` "
        "and `faqbot test`.")
    out = StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def write(entries: Sequence[dict[str, Any]], directory: Path, *, sources: Sequence[str],
          file: str = DEFAULT_FILE, force: bool = False) -> Path:
    """Write ``entries`` as ``directory/file``; an existing file is kept unless ``force``."""
    if not entries:
        raise ConfigError("found no question with an answer to import; check the column flags (--question, "
                          "--answer) or that the page has headings, <dt> or <details> questions")
    target = directory / file
    if target.exists() and not force:
        raise ConfigError(f"{target} exists; pass --force to replace it, or --file with another name")
    directory.mkdir(parents=True, exist_ok=True)
    target.write_text(dump(entries, sources=sources), encoding="utf-8")
    return target


def near_duplicates(bot: Any, imported: Iterable[str], *, before: Iterable[str] = ()) -> list[Duplicate]:
    """Imported entries whose own question is answered by, or ties with, another entry of the KB."""
    answer = bot.kb.settings.thresholds.answer
    old = set(before)
    found: list[Duplicate] = []
    pairs: set[frozenset[str]] = set()
    for ident in imported:
        e = bot.kb.entry(ident)
        for c in bot.engine.rank(e.question, limit=3):
            pair = frozenset((ident, c.entry.id))
            if c.entry.id != ident and c.confidence >= answer and pair not in pairs:
                pairs.add(pair)
                found.append(Duplicate(ident, c.entry.id, round(c.confidence, 4), c.entry.id in old))
    return found
