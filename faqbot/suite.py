"""Answer test suites: questions with the entry (or reply type) they must reach, run against a bot."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bot import Bot
from .exceptions import KnowledgeError
from .knowledge import read_yaml
from .models import Reply, ReplyType

MORE = "more"
_TYPES = {t.value for t in ReplyType} - {"answer"}


@dataclass(frozen=True)
class Case:
    """One expectation: ``question`` must reach ``expect`` (an entry id, a reply type, or ``smalltalk:<id>``)."""

    question: str
    expect: str
    line: int = 0
    conversation: str = ""


@dataclass(frozen=True)
class Outcome:
    case: Case
    reply: Reply
    passed: bool

    @property
    def got(self) -> str:
        return describe(self.reply)


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.passed]

    @property
    def accuracy(self) -> float:
        return sum(o.passed for o in self.outcomes) / len(self.outcomes) if self.outcomes else 1.0

    def stolen_by(self) -> Counter[tuple[str, str]]:
        """(expected, got) pairs of the failures: which entry took whose questions."""
        return Counter((o.case.expect, o.got) for o in self.failures)


def describe(reply: Reply) -> str:
    """What a reply reached, in the vocabulary of test files."""
    if reply.parts:
        return "+".join(reply.parts)
    if reply.type in (ReplyType.ANSWER, ReplyType.GAP):
        return reply.entry or reply.type.value
    if reply.type is ReplyType.SMALLTALK:
        return f"smalltalk:{reply.entry}" if reply.entry else "smalltalk"
    if reply.type is ReplyType.CLARIFY:
        return "clarify(" + "|".join(o.entry for o in reply.options) + ")"
    return reply.type.value


def matches(reply: Reply, expect: str, previous: Reply | None = None) -> bool:
    got = describe(reply)
    if expect == MORE:
        return reply.type is ReplyType.ANSWER and (previous is None or reply.text != previous.text)
    if expect == "smalltalk":
        return reply.type is ReplyType.SMALLTALK
    if expect == "concern":
        return reply.type is ReplyType.CONCERN
    if reply.type is ReplyType.CONCERN and not reply.parts:
        return reply.entry == expect  # the answer was given, with the crisis line before it
    if reply.type is ReplyType.REFERRAL and reply.parts:
        # The medical question went to a clinician and the message's other questions were answered after it.
        return sorted(expect.split("+")) == sorted(["referral", *reply.parts])
    return got == expect


def load_suite(path: str | Path) -> tuple[list[Case], list[list[Case]]]:
    """Read a tests YAML file: ``cases`` (one-shot) and ``conversations`` (lists of turns)."""
    path = Path(path)
    if not path.exists():
        raise KnowledgeError("no such test file; write one with 'cases:' (see docs/knowledge.md)", file=str(path))
    doc = read_yaml(path) or {}
    if not isinstance(doc, dict):
        raise KnowledgeError("top level must be a mapping with 'cases' and/or 'conversations'", file=str(path), line=1)
    cases = [_case(item, str(path)) for item in doc.get("cases") or []]
    conversations = []
    for conv in doc.get("conversations") or []:
        name = str(conv.get("name", "conversation")) if isinstance(conv, dict) else "conversation"
        turns = conv.get("turns") if isinstance(conv, dict) else None
        if not isinstance(turns, list) or not turns:
            raise KnowledgeError(f"conversation '{name}' needs a list of 'turns'", file=str(path),
                                 line=getattr(conv, "line", None))
        conversations.append([_case(t, str(path), name) for t in turns])
    return cases, conversations


def _case(item: Any, file: str, conversation: str = "") -> Case:
    line = getattr(item, "line", None)
    if not isinstance(item, dict) or not str(item.get("q", "")).strip() or not str(item.get("expect", "")).strip():
        raise KnowledgeError("each case needs 'q:' (the question) and 'expect:' (entry id or reply type)",
                             file=file, line=line)
    return Case(question=str(item["q"]), expect=str(item["expect"]).strip(), line=line or 0,
                conversation=conversation)


def check_expectations(bot: Bot, cases: Sequence[Case]) -> list[str]:
    """Expectations that name no entry, reply type or small-talk item: a typo in the test file."""
    known = {e.id for e in bot.kb.entries} | _TYPES | {MORE} | {f"smalltalk:{s.id}" for s in bot.kb.smalltalk}
    return [f"line {c.line}: expect '{c.expect}' names no entry or reply type" for c in cases
            if not all(part in known for part in c.expect.split("+"))]


def run_suite(bot: Bot, cases: Sequence[Case], conversations: Sequence[Sequence[Case]] = ()) -> Report:
    """Each case on a fresh conversation; each conversation's turns in one conversation."""
    report = Report()
    for case in cases:
        reply = bot.ask(case.question)
        report.outcomes.append(Outcome(case, reply, matches(reply, case.expect)))
    for turns in conversations:
        conv = bot.conversation()
        previous: Reply | None = None
        for case in turns:
            reply = conv.ask(case.question)
            report.outcomes.append(Outcome(case, reply, matches(reply, case.expect, previous)))
            previous = reply
    return report
