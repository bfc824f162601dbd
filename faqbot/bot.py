"""The public entry point: a knowledge base with its engines, ready to answer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from . import knowledge
from .dialog import Conversation, ConversationState
from .engine import Engine, EngineOptions
from .knowledge import KnowledgeBase
from .models import Candidate, Entry, Reply, Settings, SmallTalk, Why
from .text import normalize

SMALLTALK_MIN_SIMILARITY = 0.82


def _whole_message(a: str, b: str, *, processor: object = None, score_cutoff: float | None = None) -> float:
    """Similarity of two whole messages, word order aside; short words must match nearly exactly."""
    return max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b))


class Bot:
    """A loaded knowledge base plus its index; cheap to ask, safe to share between conversations."""

    def __init__(self, kb: KnowledgeBase, *, options: EngineOptions | None = None) -> None:
        self.kb = kb
        self.engine = Engine(kb.entries, synonyms=kb.synonyms, options=options)
        self._smalltalk = {s.id: s for s in kb.smalltalk}
        # Small talk is matched on the whole message, not on shared words: "what can you do" is help, but
        # "what can ketamine do" is a question, and a word index cannot tell them apart.
        self._smalltalk_phrasings = [(s.id, p) for s in kb.smalltalk for p in {normalize(x) for x in s.phrasings} if p]

    @classmethod
    def load(cls, path: str | Path | None = None) -> Bot:
        """Load a KB directory; with no path, the default KB bundled with the package."""
        return cls(knowledge.load(path))

    @classmethod
    def from_entries(cls, entries: Iterable[Entry | Mapping[str, Any]], *, settings: Settings | None = None,
                     synonyms: Mapping[str, Sequence[str]] | None = None,
                     options: EngineOptions | None = None) -> Bot:
        """Build a bot from Python objects (dicts with ``id``, ``phrasings``, ``answer``, ... or ``Entry``)."""
        return cls(KnowledgeBase.from_entries(entries, settings=settings, synonyms=synonyms), options=options)

    def ask(self, text: str) -> Reply:
        """Answer one question on its own, with no conversation context."""
        return self.conversation().ask(text)

    def conversation(self, state: ConversationState | Mapping[str, Any] | None = None) -> Conversation:
        """A new multi-turn conversation, or one resumed from a saved state."""
        if state is not None and not isinstance(state, ConversationState):
            state = ConversationState.from_dict(state)
        return Conversation(self, state)

    def explain(self, text: str, *, limit: int = 5) -> list[Candidate]:
        """The top candidates for ``text`` with scores and what drove them (no safety or dialog)."""
        return self.engine.rank(text, limit=limit)

    def welcome(self) -> dict[str, Any]:
        """The greeting and starter suggestions a client shows before the first question."""
        s = self.kb.settings
        return {"name": s.name, "greeting": s.greeting, "suggestions": list(s.suggestions)}

    def smalltalk_match(self, text: str) -> Candidate | None:
        """The small-talk intent ``text`` is, if any, with enough confidence."""
        norm = normalize(text)
        if not norm or not self._smalltalk_phrasings:
            return None
        best = process.extractOne(norm, [p for _, p in self._smalltalk_phrasings], scorer=_whole_message,
                                  processor=None, score_cutoff=SMALLTALK_MIN_SIMILARITY * 100)
        if best is None:
            return None
        item_id, phrasing = self._smalltalk_phrasings[best[2]]
        item = self._smalltalk[item_id]
        entry = Entry(id=item.id, question=item.phrasings[0], answer=item.answer)
        confidence = best[1] / 100.0
        return Candidate(entry=entry, score=confidence, confidence=confidence, why=Why(phrasing=phrasing))

    def smalltalk_item(self, item_id: str) -> SmallTalk:
        return self._smalltalk[item_id]
