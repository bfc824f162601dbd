"""``faqbot accept``: write accepted phrasings into the KB's YAML files, then keep the change only if it is safe.

Files are edited with a ruamel.yaml round trip, so comments, key order and layout stay as the author wrote them.
After writing, the KB is reloaded and linted and its answer suite run; if a case that passed before now fails,
every file is put back byte for byte and the outcome says which cases broke.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bot import Bot, EncoderChoice
from .exceptions import ConfigError, FaqbotError
from .knowledge import bundled_path
from .suggest import Proposal, proposals
from .text import normalize

ACCEPTED_FILE = "accepted.yaml"
ACCEPTED_HEADER = """\
# Entries made by `faqbot accept --new` from questions no entry answered. A `kind: gap` entry hands the question
# to your team with the fallback text; write a real answer (and drop `kind: gap`) when you have one.
entries: []
"""


@dataclass(frozen=True)
class Outcome:
    """What ``Session.apply`` did: the phrasings added per entry, kept or rolled back, and why."""

    kept: bool
    added: dict[str, tuple[str, ...]] = field(default_factory=dict)
    broken: tuple[str, ...] = ()  # suite cases that passed before and fail after ("question: expected -> got")
    lint: tuple[str, ...] = ()  # lint warnings the change introduced
    passed: tuple[int, int] = (0, 0)  # suite (passed, total) after the change
    error: str = ""

    def summary(self) -> str:
        n = sum(len(v) for v in self.added.values())
        if self.error:
            return f"not changed: {self.error}"
        if not self.kept:
            lines = [f"rolled back: the {n} phrasing(s) made {len(self.broken)} passing case(s) fail:"]
            return "\n".join(lines + [f"  {b}" for b in self.broken])
        suite = (f"answer suite {self.passed[0]}/{self.passed[1]} passed" if self.passed[1]
                 else "no answer suite to guard it (write tests.yaml, or pass --tests FILE)")
        lines = [f"added {n} phrasing(s) to {len(self.added)} entr{'y' if len(self.added) == 1 else 'ies'}; {suite}"]
        lines += [f"  {entry}: {', '.join(repr(p) for p in texts)}" for entry, texts in self.added.items()]
        lines += [f"  new lint warning: {w}" for w in self.lint]
        if self.added:
            lines.append("reload the server (POST /admin/reload) to serve them")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"kept": self.kept, "added": {k: list(v) for k, v in self.added.items()}, "broken": list(self.broken),
                "lint": list(self.lint), "passed": list(self.passed), "error": self.error}


class Session:
    """One KB directory and one conversation log: proposals to review, and a guarded way to apply them."""

    def __init__(self, directory: Path, *, log_db: str | Path, encoder: EncoderChoice = "default",
                 days: int | None = None, tests: str | Path | None = None) -> None:
        self.directory = directory
        self.log_db = log_db  # a SQLite file or a postgresql:// URL
        self.encoder = encoder
        self.days = days
        self.tests = Path(tests) if tests else directory / "tests.yaml"
        self.bot = Bot.load(directory, encoder=encoder)

    @classmethod
    def open(cls, knowledge: str | Path | None, *, log_db: str | Path, encoder: EncoderChoice = "default",
             days: int | None = None, tests: str | Path | None = None) -> Session:
        directory = Path(knowledge) if knowledge else bundled_path()
        if not knowledge:
            raise ConfigError(f"pass --knowledge DIR with your own knowledge base; accepting writes into its files "
                              f"(the bundled one at {directory} belongs to the installed package)")
        return cls(directory, log_db=log_db, encoder=encoder, days=days, tests=tests)

    def proposals(self) -> list[Proposal]:
        return proposals(self.log_db, self.bot, days=self.days, encode=self.bot.engine.encode)

    @staticmethod
    def find(ident: str, found: Sequence[Proposal]) -> Proposal:
        for p in found:
            if p.id == ident:
                return p
        raise ConfigError(f"no suggestion '{ident}' in the log now; list them with `faqbot report --suggest`")

    def create(self, proposal: Proposal, ident: str, *, question: str | None = None,
               answer: str | None = None) -> Outcome:
        """A new entry ``ident`` from ``proposal`` (see ``add_entry``)."""
        return add_entry(self.directory, ident=ident, question=question or proposal.phrasings[0],
                         phrasings=proposal.phrasings, answer=answer, encoder=self.encoder, tests=self.tests,
                         before=self.bot)

    def apply(self, chosen: Sequence[tuple[Proposal, str | None]]) -> Outcome:
        """Add each proposal's phrasings to its target (or the entry given beside it); keep only a safe change."""
        plan: dict[str, list[str]] = {}
        for p, to in chosen:
            target = to or p.target
            if not target:
                raise ConfigError(f"suggestion '{p.id}' fits no entry; write a new entry for it, or accept it "
                                  "into an existing one with --to ENTRY")
            if not self.bot.kb.has(target):
                raise ConfigError(f"no entry '{target}' in {self.directory}; pick one that `faqbot lint` lists")
            plan.setdefault(target, []).extend(p.phrasings)
        return apply_phrasings(self.directory, plan, encoder=self.encoder, tests=self.tests, before=self.bot)


def apply_phrasings(directory: Path, plan: dict[str, list[str]], *, encoder: EncoderChoice = "default",
                    tests: Path | None = None, before: Bot | None = None) -> Outcome:
    """Write ``plan`` (entry id -> phrasings) into the KB files, lint, run the suite, roll back on regressions."""
    before = before or Bot.load(directory, encoder=encoder)
    known = {normalize(t) for e in before.kb.entries for t in e.texts}
    added: dict[str, tuple[str, ...]] = {}
    for entry, texts in plan.items():
        fresh: list[str] = []
        for t in texts:
            if normalize(t) not in known:
                known.add(normalize(t))
                fresh.append(t)
        if fresh:
            added[entry] = tuple(fresh)
    if not added:
        return Outcome(kept=True, error="every phrasing is already in the knowledge base")
    by_file: dict[Path, dict[str, tuple[str, ...]]] = {}
    for entry, new in added.items():
        by_file.setdefault(Path(before.kb.entry(entry).file), {})[entry] = new

    def edit() -> None:
        for path, entries in by_file.items():
            _add_to_file(path, entries)

    return _guarded(directory, list(by_file), edit, added=added, encoder=encoder, tests=tests, before=before)


def add_entry(directory: Path, *, ident: str, question: str, phrasings: Sequence[str], answer: str | None = None,
              encoder: EncoderChoice = "default", tests: Path | None = None, before: Bot | None = None) -> Outcome:
    """A new entry in ``directory/accepted.yaml`` for questions no entry fits. Without ``answer`` it is a declared
    gap answered with the KB's fallback text, so the bot hands these questions to the team by name until an author
    writes the answer (nothing is invented)."""
    before = before or Bot.load(directory, encoder=encoder)
    if before.kb.has(ident):
        raise ConfigError(f"entry '{ident}' exists; accept into it with --to {ident}, or pick a new id")
    known = {normalize(t) for e in before.kb.entries for t in e.texts}
    texts = [t for t in phrasings if normalize(t) not in known and normalize(t) != normalize(question)]
    entry: dict[str, Any] = {"id": ident}
    if answer is None:
        entry["kind"] = "gap"
    entry.update(question=question, answer=answer or before.kb.settings.fallback, phrasings=texts,
                 owner="accepted", reviewed=dt.date.today().isoformat())
    path = directory / ACCEPTED_FILE

    def edit() -> None:
        _append_entry(path, entry)

    return _guarded(directory, [path], edit, added={ident: (question, *texts)}, encoder=encoder, tests=tests,
                    before=before)


def _guarded(directory: Path, files: list[Path], edit: Callable[[], None], *, added: dict[str, tuple[str, ...]],
             encoder: EncoderChoice, tests: Path | None, before: Bot) -> Outcome:
    """Run ``edit`` on ``files``; keep it only if the KB still loads and no passing suite case fails."""
    from .lint import lint

    originals = {path: path.read_bytes() if path.exists() else None for path in files}
    old_lint = {_lint_key(f) for f in lint(before)}
    old_pass = _suite(before, tests)
    try:
        edit()
        after = Bot.load(directory, encoder=encoder)
        new_pass = _suite(after, tests)
    except FaqbotError as exc:
        _restore(originals)
        return Outcome(kept=False, added=added, error=f"the edited files did not load ({exc}); nothing was changed")
    broken = tuple(sorted(k for k, ok in old_pass.items() if ok and not new_pass.get(k, False)))
    if broken:
        _restore(originals)
        return Outcome(kept=False, added=added, broken=broken)
    new_lint = tuple(str(f) for f in lint(after) if _lint_key(f) not in old_lint)
    ok = sum(1 for v in new_pass.values() if v)
    return Outcome(kept=True, added=added, lint=new_lint, passed=(ok, len(new_pass)))


def _lint_key(finding: Any) -> tuple[str, str]:
    # Line numbers move and scores wobble when a file grows; the entry and the words of the warning do not.
    return finding.entry, re.sub(r"\d+(\.\d+)?", "#", finding.message)


def _suite(bot: Bot, tests: Path | None) -> dict[str, bool]:
    """Each case of the answer suite (keyed "question -> expected", numbered if repeated): passed or not."""
    if tests is None or not tests.is_file():
        return {}
    from .suite import load_suite, run_suite

    cases, conversations = load_suite(tests)
    report = run_suite(bot, cases, conversations)
    out: dict[str, bool] = {}
    for o in report.outcomes:
        key = (f"[{o.case.conversation}] " if o.case.conversation else "") + f"{o.case.question!r} -> {o.case.expect}"
        n, base = 2, key
        while key in out:
            key, n = f"{base} #{n}", n + 1
        out[key] = o.passed
    return out


def _restore(originals: dict[Path, bytes | None]) -> None:
    for path, data in originals.items():
        if data is None:
            path.unlink(missing_ok=True)  # a file the change created
        else:
            path.write_bytes(data)


def _round_trip(text: str) -> Any:
    """A ruamel.yaml round-trip loader/dumper set to the file's own list indentation."""
    try:
        from ruamel.yaml import YAML
    except ImportError:
        raise ConfigError("accepting needs ruamel.yaml; install the import extra: pip install 'faqbot[import]'") \
            from None
    yaml = YAML()  # round-trip mode
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap the author's long lines
    yaml.indent(**_indent(text))
    return yaml


def _append_entry(path: Path, entry: dict[str, Any]) -> None:
    """Add one entry to ``path`` (created with a header comment if missing), keeping what is there."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import LiteralScalarString

    text = path.read_text(encoding="utf-8") if path.exists() else ACCEPTED_HEADER
    yaml = _round_trip(text)
    doc = yaml.load(text) or CommentedMap()
    items = doc.get("entries")
    if items is None:
        items = doc["entries"] = CommentedSeq()
    items.fa.set_block_style()
    item = CommentedMap(entry)
    item["answer"] = LiteralScalarString(entry["answer"].rstrip() + "\n")
    seq = CommentedSeq(entry["phrasings"])
    seq.fa.set_block_style()
    item["phrasings"] = seq
    items.append(item)
    with path.open("w", encoding="utf-8") as f:
        yaml.dump(doc, f)


def _add_to_file(path: Path, entries: dict[str, tuple[str, ...]]) -> None:
    """Append phrasings to entries in one YAML file, keeping its comments and layout (ruamel.yaml round trip)."""
    from ruamel.yaml.comments import CommentedSeq

    text = path.read_text(encoding="utf-8")
    yaml = _round_trip(text)
    doc = yaml.load(text)
    todo = dict(entries)
    for item in doc.get("entries") or ():
        ident = str(item.get("id"))
        if ident not in todo:
            continue
        seq = item.get("phrasings")
        if seq is None:
            seq = CommentedSeq()
            item["phrasings"] = seq
        if seq.fa.flow_style() and len(seq) == 0:
            seq.fa.set_block_style()
        seq.extend(todo.pop(ident))
    if todo:
        raise ConfigError(f"{path}: entries {', '.join(todo)} not found in the file; was it edited meanwhile?")
    with path.open("w", encoding="utf-8") as f:
        yaml.dump(doc, f)


def _indent(text: str) -> dict[str, int]:
    """The list indentation the file already uses (``- `` items under ``phrasings:``), so a dump keeps it."""
    lines = text.splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.strip() == "phrasings:":
            key = len(line) - len(line.lstrip())
            item = lines[i + 1]
            dash = len(item) - len(item.lstrip())
            if item.lstrip().startswith("- "):
                return {"mapping": 2, "sequence": dash - key + 2, "offset": dash - key}
    return {"mapping": 2, "sequence": 4, "offset": 2}
