"""The systems compared: faqbot and the libraries a Python developer would otherwise pick, behind one interface.

Each system is built from ``{intent: [phrasings]}`` and answers ``predict(text) -> (intent or None, score)``; the
score is what the decline threshold applies to (faqbot's confidence, a peer's similarity or BM25 score).
Peers import lazily: they are benchmark extras (``pip install .[bench]``), never faqbot dependencies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from faqbot.lexical import Lexical as Engine, LexicalOptions as EngineOptions
from faqbot.models import Entry

Prediction = tuple[str | None, float]


class System(Protocol):
    name: str

    def build(self, entries: Mapping[str, Sequence[str]]) -> None: ...

    def predict(self, text: str) -> Prediction: ...


def _flatten(entries: Mapping[str, Sequence[str]]) -> tuple[list[str], list[str]]:
    texts = [t for ts in entries.values() for t in ts]
    labels = [intent for intent, ts in entries.items() for _ in ts]
    return texts, labels


class Faqbot:
    """faqbot's engine; the score is its calibrated confidence."""

    name = "faqbot"

    def __init__(self, options: EngineOptions | None = None) -> None:
        self.options = options
        self.engine: Engine | None = None

    def build(self, entries: Mapping[str, Sequence[str]]) -> None:
        self.engine = Engine([Entry(id=intent, question=ts[0], answer=intent, phrasings=tuple(ts[1:]))
                              for intent, ts in entries.items()], options=self.options)

    def predict(self, text: str) -> Prediction:
        assert self.engine is not None
        ranked = self.engine.rank(text, limit=1)
        return (ranked[0].entry.id, ranked[0].confidence) if ranked else (None, 0.0)


class RapidfuzzWRatio:
    """Nearest phrasing by rapidfuzz ``WRatio`` on default-processed text."""

    name = "rapidfuzz WRatio"

    def build(self, entries: Mapping[str, Sequence[str]]) -> None:
        from rapidfuzz import utils

        self.texts, self.labels = _flatten(entries)
        self.processed = [utils.default_process(t) for t in self.texts]

    def predict(self, text: str) -> Prediction:
        from rapidfuzz import fuzz, process, utils

        hit = process.extractOne(utils.default_process(text), self.processed, scorer=fuzz.WRatio, processor=None)
        return (self.labels[hit[2]], hit[1] / 100.0) if hit else (None, 0.0)


class TfidfNearest:
    """Nearest phrasing by TF-IDF cosine (scikit-learn ``TfidfVectorizer`` defaults)."""

    name = "TF-IDF nearest"

    def build(self, entries: Mapping[str, Sequence[str]]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts, self.labels = _flatten(entries)
        self.vectorizer = TfidfVectorizer()
        self.matrix = self.vectorizer.fit_transform(texts)

    def predict(self, text: str) -> Prediction:
        sims = (self.matrix @ self.vectorizer.transform([text]).T).toarray().ravel()
        best = int(sims.argmax())
        return (self.labels[best], float(sims[best])) if sims[best] > 0 else (None, 0.0)


class Bm25Nearest:
    """Nearest phrasing by BM25 (bm25s defaults, English stopwords)."""

    name = "BM25 nearest"

    def build(self, entries: Mapping[str, Sequence[str]]) -> None:
        import bm25s

        texts, self.labels = _flatten(entries)
        self.retriever = bm25s.BM25()
        self.retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)

    def predict(self, text: str) -> Prediction:
        import bm25s

        tokens = bm25s.tokenize([text], stopwords="en", show_progress=False)
        if not any(tokens.ids):
            return None, 0.0
        docs, scores = self.retriever.retrieve(tokens, k=1, show_progress=False)
        score = float(scores[0][0])
        return (self.labels[int(docs[0][0])], score) if score > 0 else (None, 0.0)


class ChatterBot:
    """ChatterBot's default best match, each phrasing trained with the list trainer as [phrasing, intent].

    Its default tagger needs spaCy's ``en_core_web_sm`` model, which is not on PyPI (spaCy ships it from its own
    release downloads), so the benchmark passes ChatterBot's own ``LowercaseTagger``; the rest is default.
    """

    name = "ChatterBot"

    def build(self, entries: Mapping[str, Sequence[str]]) -> None:
        from chatterbot import ChatBot
        from chatterbot.tagging import LowercaseTagger
        from chatterbot.trainers import ListTrainer

        logging.getLogger("chatterbot").setLevel(logging.ERROR)
        self.bot = ChatBot("bench", database_uri="sqlite://", read_only=True, tagger=LowercaseTagger)
        trainer = ListTrainer(self.bot, show_training_progress=False)
        for intent, texts in entries.items():
            for text in texts:
                trainer.train([text, intent])
        self.intents = set(entries)

    def predict(self, text: str) -> Prediction:
        response = self.bot.get_response(text)
        label = response.text if response.text in self.intents else None
        return label, float(response.confidence)


FACTORIES: dict[str, Callable[[], Any]] = {
    "faqbot": Faqbot, "chatterbot": ChatterBot, "wratio": RapidfuzzWRatio, "tfidf": TfidfNearest,
    "bm25": Bm25Nearest,
}


def available(key: str) -> str | None:
    """None when the system can run here, else why not (a missing extra)."""
    modules = {"chatterbot": "chatterbot", "tfidf": "sklearn", "bm25": "bm25s"}
    if key not in modules:
        return None
    try:
        __import__(modules[key])
    except Exception as exc:  # noqa: BLE001 - an extra that fails to import in any way is reported, not fatal
        return f"{modules[key]} not importable: {exc}"
    return None
