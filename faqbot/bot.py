"""The public entry point: a knowledge base with its engine, small talk and risk policy, ready to answer."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import knowledge
from .analysis import Analysis
from .callback import DEFAULT_REGION
from .classifier import DEFAULT_MODEL, LINE_MODEL, REFERRAL_MODEL, RiskClassifier
from .dialog import Conversation, ConversationState
from .encoder import Encoder
from .engine import Engine, EngineOptions
from .knowledge import KnowledgeBase
from .models import Candidate, Entry, Reply, Settings
from .rotation import Rotation
from .safety import Lexicon, RiskPolicy
from .semantic import VectorCache, default_cache_dir
from .smalltalk import SmallTalkMatcher

log = logging.getLogger("faqbot")

EncoderChoice = Encoder | str | Path | None
_shared: dict[str, Encoder] = {}
_shared_lock = threading.Lock()


def load_encoder(choice: EncoderChoice = "default") -> Encoder | None:
    """``"default"`` (the pinned MiniLM), a model directory, an ``Encoder``, or ``None``/``"off"`` for lexical only.

    Encoders are shared per source within a process: a reload or a second bot costs no second model.
    """
    if isinstance(choice, Encoder):
        return choice
    if choice is None or str(choice).lower() in ("off", "none", "lexical", ""):
        return None
    key = str(choice)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Encoder.load(None if key == "default" else key)
        return _shared[key]


class Bot:
    """A loaded knowledge base plus its parts; cheap to ask, safe to share between conversations."""

    def __init__(self, kb: KnowledgeBase, *, options: EngineOptions | None = None, encoder: EncoderChoice = "default",
                 policy: RiskPolicy | None = None, cache_dir: str | Path | None = None,
                 callbacks: bool = True) -> None:
        self.kb = kb
        # The KB's texts for callback requests; None: none are offered or taken (``callbacks=False`` or the KB's
        # ``callback: false``).
        self.callbacks = kb.settings.callback if callbacks else None
        self.region = DEFAULT_REGION  # for phone numbers typed without a country code
        enc = load_encoder(encoder)
        cache = VectorCache(default_cache_dir() if cache_dir is None else cache_dir, enc.id) if enc else None
        self.engine = Engine(kb.entries, synonyms=kb.synonyms, options=options, encoder=enc, cache=cache)
        self.smalltalk = SmallTalkMatcher(kb.smalltalk, encode=enc.encode if enc else None)
        self.policy = policy or default_policy(kb, enc, clauses=self.engine.analyzer.analyze_many)
        self.rotation = Rotation()  # fallback wordings take turns across all of this bot's conversations
        # The entry the KB's subject alone reads as ("ketamine therapy": what it is), for the dialog's context.
        subject = kb.settings.subject
        top = self.engine.rank(subject, limit=1) if subject else []
        self.overview = top[0].entry.id if top else None

    @classmethod
    def load(cls, path: str | Path | None = None, *, encoder: EncoderChoice = "default",
             options: EngineOptions | None = None, cache_dir: str | Path | None = None) -> Bot:
        """Load a KB directory; with no path, the default KB bundled with the package."""
        return cls(knowledge.load(path), encoder=encoder, options=options, cache_dir=cache_dir)

    @classmethod
    def from_entries(cls, entries: Iterable[Entry | Mapping[str, Any]], *, settings: Settings | None = None,
                     synonyms: Mapping[str, Sequence[str]] | None = None, risk: Lexicon | None = None,
                     options: EngineOptions | None = None, encoder: EncoderChoice = "default",
                     policy: RiskPolicy | None = None, cache_dir: str | Path | None = None) -> Bot:
        """Build a bot from Python objects (dicts with ``id``, ``phrasings``, ``answer``, ... or ``Entry``)."""
        kb = KnowledgeBase.from_entries(entries, settings=settings, synonyms=synonyms, risk=risk)
        return cls(kb, options=options, encoder=encoder, policy=policy, cache_dir=cache_dir)

    @property
    def mode(self) -> str:
        """What answers and what guards: e.g. ``semantic+lexical, rules+classifier``."""
        return f"{self.engine.mode}, {self.policy.mode}"

    def ask(self, text: str) -> Reply:
        """Answer one question on its own, with no conversation context."""
        return self.conversation().ask(text)

    def conversation(self, state: ConversationState | Mapping[str, Any] | None = None) -> Conversation:
        """A new multi-turn conversation, or one resumed from a saved state."""
        if state is not None and not isinstance(state, ConversationState):
            state = ConversationState.from_dict(state)
        return Conversation(kb=self.kb, engine=self.engine, smalltalk=self.smalltalk, policy=self.policy,
                            state=state, callbacks=self.callbacks, region=self.region,
                            rotation=self.rotation, overview=self.overview)

    def explain(self, text: str, *, limit: int = 5) -> list[Candidate]:
        """The top candidates for ``text`` with scores and what drove them (no safety or dialog)."""
        return self.engine.rank(text, limit=limit)

    def welcome(self) -> dict[str, Any]:
        """The greeting and starter suggestions a client shows before the first question."""
        s = self.kb.settings
        return {"name": s.name, "greeting": s.greeting, "suggestions": list(s.suggestions)}


def default_policy(kb: KnowledgeBase, encoder: Encoder | None, *,
                   clauses: Callable[[Sequence[str]], Sequence[Analysis]] | None = None) -> RiskPolicy:
    """The KB's lexicon and texts with the shipped classifier, its line-only second opinion and its referral
    opinion, when they fit the encoder; ``clauses`` lets the policy read a worried message clause by clause."""
    classifier = line = referral = None
    if encoder is not None and DEFAULT_MODEL.is_file():
        classifier = RiskClassifier.load(DEFAULT_MODEL, encoder_id=encoder.id)
        if LINE_MODEL.is_file():
            line = RiskClassifier.load(LINE_MODEL, encoder_id=encoder.id)
        if REFERRAL_MODEL.is_file():
            referral = RiskClassifier.load(REFERRAL_MODEL, encoder_id=encoder.id)
    return RiskPolicy(lexicon=kb.risk, texts=kb.settings.safety, classifier=classifier, clauses=clauses,
                      line_classifier=line, referral_classifier=referral)
