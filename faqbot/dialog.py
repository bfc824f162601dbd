"""Conversation: per-visitor state, safety first, small talk, follow-ups with context, and clarification."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .models import Candidate, Option, Reply, ReplyType
from .safety import Risk, assess
from .text import STOPWORDS, normalize

if TYPE_CHECKING:
    from .bot import Bot

MAX_RECENT = 5
MAX_OPTIONS = 3
MAX_SUGGESTIONS = 3
SMALLTALK_CERTAIN = 0.9
# Two entries whose scores are within this share of each other are a tie, however the confidences fall:
# the confidence curve is steep near its middle, so a sliver of score can look like a clear confidence lead.
TIE = 0.05

_MORE = re.compile(r"^(?:(?:ok|okay|and|so|yes|please|pls)\s+)*(?:tell me more|more|go on|continue|keep going|"
                   r"more details?|more info(?:rmation)?|elaborate|explain more|say more|what else|anything else|"
                   r"tell me more about (?:it|that|this)|more about (?:it|that|this)|details)(?:\s+please)?$")
_ORDINALS = {"1": 0, "one": 0, "first": 0, "2": 1, "two": 1, "second": 1, "3": 2, "three": 2, "third": 2,
             "last": -1}
_PICK = re.compile(r"^(?:(?:option|number|no|the|i mean|i meant|it is|its)\s+)*(\w+)(?:\s+(?:one|option))?"
                   r"(?:\s+please)?$")
# Words that make a short question lean on what came before ("how does *it* work?", "what about opioids?").
_ANAPHORA = frozenset("it that this they them those these there then instead also too".split())
_ELLIPSIS_LEADS = ("what about", "how about", "and for", "and what about", "what if", "and", "so", "but")


class State(str, enum.Enum):
    """Where a conversation is: nothing shown yet, an answer on screen, or options awaiting a pick."""

    IDLE = "idle"
    ANSWERED = "answered"
    CLARIFYING = "clarifying"


@dataclass
class ConversationState:
    """Everything a conversation remembers; small, bounded and JSON-serialisable for session stores."""

    state: State = State.IDLE
    recent: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    last_text: str = ""
    turns: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state.value, "recent": list(self.recent), "options": list(self.options),
                "last_text": self.last_text, "turns": self.turns}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConversationState:
        """Rebuild from ``to_dict`` output; unknown or malformed fields fall back to a fresh state."""
        try:
            state = State(data.get("state", "idle"))
        except ValueError:
            state = State.IDLE
        recent = [str(x) for x in data.get("recent", []) if isinstance(x, str)][-MAX_RECENT:]
        options = [str(x) for x in data.get("options", []) if isinstance(x, str)][:MAX_OPTIONS]
        turns = data.get("turns", 0)
        return cls(state=state, recent=recent, options=options, last_text=str(data.get("last_text", ""))[:4000],
                   turns=turns if isinstance(turns, int) else 0)


class Conversation:
    """One visitor's dialog with a bot; ``ask`` is the only call a transport needs."""

    def __init__(self, bot: Bot, state: ConversationState | None = None) -> None:
        self.bot = bot
        self.state = state or ConversationState()
        # Entries may vanish after a knowledge reload; forget them rather than fail.
        self.state.recent = [e for e in self.state.recent if bot.kb.has(e)]
        self.state.options = [e for e in self.state.options if bot.kb.has(e)]

    # --- public --------------------------------------------------------------------------------------

    def ask(self, text: str) -> Reply:
        """Answer one visitor message in the context of this conversation."""
        reply = self._respond(text)
        self._remember(reply)
        return reply

    def pick(self, entry_id: str) -> Reply:
        """Answer a clarification option the visitor clicked (or any entry by id)."""
        if not self.bot.kb.has(entry_id):
            return self._fallback()
        reply = self._answer(entry_id, confidence=1.0)
        self._remember(reply)
        return reply

    # --- the turn ------------------------------------------------------------------------------------

    def _respond(self, text: str) -> Reply:
        settings = self.bot.kb.settings
        verdict = assess(text)
        if verdict.risk is Risk.CRISIS:
            return Reply(ReplyType.CRISIS, settings.safety.crisis or settings.fallback, confidence=1.0)
        if verdict.risk is Risk.REFERRAL:
            return Reply(ReplyType.REFERRAL, settings.safety.referral or settings.fallback, confidence=1.0,
                         suggestions=self._entry_questions(self._contact_ids()))
        norm = normalize(text)
        if not norm:
            return self._fallback()
        picked = self._picked_option(norm)
        if picked is not None:
            return self._answer(picked, confidence=1.0)
        if _MORE.match(norm) and self.state.recent:
            return self._more()
        candidates = self._rank_in_context(text, norm)
        small = self.bot.smalltalk_match(text)
        top = candidates[0].confidence if candidates else 0.0
        # A message that is nearly a small-talk phrase is small talk; otherwise the surer reading wins.
        if small is not None and (small.confidence >= SMALLTALK_CERTAIN or small.confidence >= top):
            item = self.bot.smalltalk_item(small.entry.id)
            return Reply(ReplyType.SMALLTALK, item.answer, entry=item.id, confidence=small.confidence,
                         suggestions=item.suggestions or settings.suggestions[:MAX_SUGGESTIONS])
        return self._decide(candidates)

    def _rank_in_context(self, text: str, norm: str) -> list[Candidate]:
        """Rank alone, and for an elliptical follow-up also with the current topic; keep the surer reading."""
        alone = self.bot.engine.rank(text, limit=MAX_OPTIONS + 2)
        if not self.state.recent or not _is_elliptical(norm):
            return alone
        topic = self.bot.kb.entry(self.state.recent[-1])
        joined = self.bot.engine.rank(f"{text} {topic.question}", limit=MAX_OPTIONS + 2)
        if not joined:
            return alone
        # The follow-up must add something: landing back on the same entry only wins when it is far surer.
        alone_conf = alone[0].confidence if alone else 0.0
        if joined[0].entry.id == topic.id and alone and alone[0].entry.id != topic.id:
            return alone if alone_conf >= self.bot.kb.settings.thresholds.clarify else joined
        return joined if joined[0].confidence >= alone_conf else alone

    def _decide(self, candidates: Sequence[Candidate]) -> Reply:
        t = self.bot.kb.settings.thresholds
        # Confidence also weighs how much of the question each entry covers, so it may reorder close scores.
        candidates = sorted(candidates, key=lambda c: c.confidence, reverse=True)
        if not candidates or candidates[0].confidence < t.clarify:
            return self._fallback()
        top = candidates[0]
        close = [c for c in candidates[1:] if c.confidence >= t.clarify and (
            top.confidence - c.confidence < t.margin or abs(top.score - c.score) < TIE * max(top.score, c.score))]
        if top.confidence >= t.answer and not close:
            return self._answer(top.entry.id, confidence=top.confidence)
        options = [top, *close][:MAX_OPTIONS]
        if len(options) == 1 and top.confidence >= t.answer:
            return self._answer(top.entry.id, confidence=top.confidence)
        if len(options) == 1:
            options += [c for c in candidates[1:] if c.confidence >= t.clarify][: MAX_OPTIONS - 1]
        return Reply(ReplyType.CLARIFY, self.bot.kb.settings.clarify, confidence=top.confidence,
                     options=tuple(Option(c.entry.id, c.entry.question) for c in options))

    def _answer(self, entry_id: str, *, confidence: float, lead: str = "") -> Reply:
        entry = self.bot.kb.entry(entry_id)
        text = f"{lead}\n\n**{entry.question}**\n\n{entry.answer}" if lead else entry.answer
        shown = {entry_id, *self.state.recent[-2:]}
        related = [r for r in entry.related if r not in shown]
        related += [r for r in entry.related if r in shown and r != entry_id]
        return Reply(ReplyType.ANSWER, text, entry=entry_id, confidence=confidence,
                     suggestions=self._entry_questions(related[:MAX_SUGGESTIONS]))

    def _more(self) -> Reply:
        """Continue with a related entry not yet shown, so the reply never repeats the last one."""
        current = self.bot.kb.entry(self.state.recent[-1])
        seen = set(self.state.recent)
        pool = [r for r in current.related if r not in seen]
        if not pool:
            pool = [e.id for e in self.bot.kb.entries if e.topic == current.topic and e.id not in seen]
        if not pool:
            pool = [r for r in current.related if r != current.id]
        if not pool:
            return self._fallback()
        return self._answer(pool[0], confidence=1.0, lead=self.bot.kb.settings.more)

    def _fallback(self) -> Reply:
        s = self.bot.kb.settings
        return Reply(ReplyType.FALLBACK, s.fallback, suggestions=s.suggestions[:MAX_SUGGESTIONS])

    def _picked_option(self, norm: str) -> str | None:
        """A pick among the offered options: by number or ordinal, or by retyping the option's question."""
        if self.state.state is not State.CLARIFYING or not self.state.options:
            return None
        options = self.state.options
        for entry_id in options:
            if normalize(self.bot.kb.entry(entry_id).question) == norm or entry_id == norm:
                return entry_id
        m = _PICK.match(norm)
        if m and m.group(1) in _ORDINALS:
            i = _ORDINALS[m.group(1)]
            if -len(options) <= i < len(options):
                return options[i]
        return None

    def _remember(self, reply: Reply) -> None:
        st = self.state
        st.turns += 1
        st.last_text = reply.text
        if reply.type is ReplyType.CLARIFY:
            st.state, st.options = State.CLARIFYING, [o.entry for o in reply.options]
            return
        st.options = []
        if reply.type is ReplyType.ANSWER and reply.entry:
            st.state = State.ANSWERED
            st.recent = [e for e in st.recent if e != reply.entry][-(MAX_RECENT - 1):] + [reply.entry]
        elif reply.type is ReplyType.CRISIS:
            st.state = State.IDLE

    def _entry_questions(self, ids: Sequence[str]) -> tuple[str, ...]:
        return tuple(self.bot.kb.entry(i).question for i in ids if self.bot.kb.has(i))

    def _contact_ids(self) -> list[str]:
        return [e.id for e in self.bot.kb.entries if e.topic == "contact"][:MAX_SUGGESTIONS]


def _is_elliptical(norm: str) -> bool:
    """A short message that leans on context: a pronoun, a "what about ..." lead, or almost no content words."""
    words = norm.split()
    content = [w for w in words if w not in STOPWORDS]
    if any(norm == lead or norm.startswith(lead + " ") for lead in _ELLIPSIS_LEADS):
        return True
    return len(content) <= 3 and any(w in _ANAPHORA for w in words)
