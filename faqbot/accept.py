"""``faqbot accept``: write accepted phrasings into the KB's YAML files, then keep the change only if it is safe.

Files are edited with a ruamel.yaml round trip, so comments, key order and layout stay as the author wrote them.
After writing, the KB is reloaded and linted and its answer suite run; if a case that passed before now fails,
every file is put back byte for byte and the outcome says which cases broke.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bot import Bot, EncoderChoice
from .exceptions import ConfigError, FaqbotError
from .knowledge import bundled_path
from .suggest import Proposal, proposals
from .text import normalize


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
        lines = [f"added {n} phrasing(s) to {len(self.added)} entr{'y' if len(self.added) == 1 else 'ies'}; "
                 f"answer suite {self.passed[0]}/{self.passed[1]} passed"]
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

    def __init__(self, directory: Path, *, log_db: Path, encoder: EncoderChoice = "default", days: int | None = None,
                 tests: str | Path | None = None) -> None:
        self.directory = directory
        self.log_db = log_db
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
        return cls(directory, log_db=Path(log_db), encoder=encoder, days=days, tests=tests)

    def proposals(self) -> list[Proposal]:
        engine = self.bot.engine
        encode = engine.semantic.encoder.encode if engine.semantic is not None else None
        return proposals(self.log_db, self.bot, days=self.days, encode=encode)

    @staticmethod
    def find(ident: str, found: Sequence[Proposal]) -> Proposal:
        for p in found:
            if p.id == ident:
                return p
        raise ConfigError(f"no suggestion '{ident}' in the log now; list them with `faqbot report --suggest`")

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
    from .lint import lint

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
    originals = {path: path.read_bytes() for path in by_file}
    old_lint = {_lint_key(f) for f in lint(before)}
    old_pass = _suite(before, tests)
    try:
        for path, entries in by_file.items():
            _add_to_file(path, entries)
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


def _restore(originals: dict[Path, bytes]) -> None:
    for path, data in originals.items():
        path.write_bytes(data)


def _add_to_file(path: Path, entries: dict[str, tuple[str, ...]]) -> None:
    """Append phrasings to entries in one YAML file, keeping its comments and layout (ruamel.yaml round trip)."""
    try:
        from ruamel.yaml import YAML
        from ruamel.yaml.comments import CommentedSeq
    except ImportError:
        raise ConfigError("accepting needs ruamel.yaml; install the import extra: pip install 'faqbot[import]'") \
            from None
    yaml = YAML()  # round-trip mode
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap the author's long lines
    text = path.read_text(encoding="utf-8")
    yaml.indent(**_indent(text))
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
