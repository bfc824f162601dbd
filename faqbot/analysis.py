"""One analysis per message: normalised once, embedded once, then read by safety, small talk, dialog and engine."""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .text import abbreviated, fold, normalize

if TYPE_CHECKING:
    from .encoder import Encoder

MAX_CHARS = 4000  # past this a message is judged on its start: the cost of a turn stays bounded

# Function words that tell English from Spanish in a few words; anything else with letters is "other".
_EN = frozenset("the is are i you my me it to and of in what how do does can for with this that not have am was be "
                "will would should please want need".split())
# "no" and "me" are English words too: alone they say nothing ("no note", "call me" are English).
_ES = frozenset("el la los las es de que y en un una mi yo por para con se lo como quiero estoy tengo "
                "puedo hay ya mas muy pero si porque cuanto cuando donde ayuda".split())


@dataclass(frozen=True)
class Analysis:
    """A message as every part of a turn reads it."""

    text: str  # as typed, bounded
    folded: str  # lower-cased, accents stripped, apostrophes unified
    norm: str  # folded, contractions expanded, punctuation gone
    words: tuple[str, ...]
    language: str  # "en", "es", or "other" (letters we cannot place), "" when there are no words
    vector: Any = None  # unit sentence vector when the encoder is on, else None
    kb_vector: Any = None  # the vector with the KB's words for its typos and slang, when they differ

    @property
    def meaning(self) -> Any:
        """The vector to match against the KB with (the message as the KB would word it, when it differs)."""
        return self.vector if self.kb_vector is None else self.kb_vector

    @property
    def empty(self) -> bool:
        return not self.words


def language(words: tuple[str, ...], folded: str) -> str:
    """A small, honest guess: English or Spanish by their function words, "other" for anything else."""
    if not words:
        return ""
    en = sum(w in _EN for w in words)
    es = sum(w in _ES for w in words)
    if any(ch.isalpha() and not ch.isascii() for ch in folded) and not (en or es):
        return "other"
    if es and es >= en:
        return "es"
    if en or len(words) <= 2:
        return "en"
    return "other"


class Analyzer:
    """Builds the ``Analysis`` of a message; with an encoder, its vector too (cached for repeated texts)."""

    def __init__(self, *, encoder: Encoder | None = None,
                 canonical: Callable[[Sequence[str]], Sequence[str]] | None = None) -> None:
        self.encoder = encoder
        # The KB's own words for a message's typos and slang ("cravngs", "special k"): the encoder never saw them,
        # so the vector matched against the KB is the mean of the message's own and of its canonical wording's.
        self.canonical = canonical

    def analyze(self, text: str) -> Analysis:
        text = text[:MAX_CHARS]
        folded = fold(text)
        norm = normalize(text)
        words = tuple(norm.split())
        vector = kb_vector = None
        wanted = self._to_encode(text, words)
        if self.encoder is not None and wanted:
            if len(wanted) == 2:
                # Both in one model run; the match uses their mean, safety and small talk the message's own.
                vector, other = self.encoder.vectors(wanted)
                mean = vector + other
                kb_vector = mean / float((mean @ mean) ** 0.5)
            else:
                vector = self.encoder.vector(wanted[0])
        return Analysis(text=text, folded=folded, norm=norm, words=words, language=language(words, folded),
                        vector=vector, kb_vector=kb_vector)

    def analyze_many(self, texts: Sequence[str]) -> list[Analysis]:
        """Several texts (the parts of one message), their vectors computed in one model run."""
        if self.encoder is not None:
            cut = [t[:MAX_CHARS] for t in texts]
            self.encoder.vectors([w for t in cut for w in self._to_encode(t, tuple(normalize(t).split()))])
        return [self.analyze(t) for t in texts]  # their vectors now come from the encoder's cache

    def _to_encode(self, text: str, words: tuple[str, ...]) -> tuple[str, ...]:
        """What the encoder reads for a message: its own text, and its KB wording when that differs."""
        if self.encoder is None or not words:
            return ()
        canonical = " ".join(self.canonical(words)) if self.canonical is not None else ""
        own = text.strip().lower()
        differs = canonical != " ".join(words) or abbreviated(text)
        return (own, canonical) if canonical and differs else (own,)
