"""The public entry point: a knowledge base with its engines, ready to answer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import knowledge
from .dialog import Conversation, ConversationState
from .engine import Engine, EngineOptions
from .knowledge import KnowledgeBase
from .models import Candidate, Entry, Reply, Settings, SmallTalk

SMALLTALK_MIN_CONFIDENCE = 0.75


class Bot:
    """A loaded knowledge base plus its index; cheap to ask, safe to share between conversations."""

    def __init__(self, kb: KnowledgeBase, *, options: EngineOptions | None = None) -> None:
        self.kb = kb
        self.engine = Engine(kb.entries, synonyms=kb.synonyms, options=options)
        self._smalltalk = {s.id: s for s in kb.smalltalk}
        self._smalltalk_engine = Engine(
            [Entry(id=s.id, question=s.phrasings[0], answer=s.answer, phrasings=s.phrasings[1:]) for s in kb.smalltalk],
            options=options) if kb.smalltalk else None

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
        if self._smalltalk_engine is None:
            return None
        ranked = self._smalltalk_engine.rank(text, limit=1)
        if ranked and ranked[0].confidence >= SMALLTALK_MIN_CONFIDENCE:
            return ranked[0]
        return None

    def smalltalk_item(self, item_id: str) -> SmallTalk:
        return self._smalltalk[item_id]
