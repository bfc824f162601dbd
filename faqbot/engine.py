"""Ranking: words and meaning fused into one calibrated confidence per entry. No I/O beyond the vector cache.

The lexical tier (``faqbot.lexical``) knows the knowledge base's own words: typos, synonyms, rare terms. The
semantic tier (``faqbot.semantic``) knows meaning: "what share of patients were still sober a year later" is
about results although it shares no word with them. Each candidate entry gets both kinds of evidence, and a
logistic model over signals that keep their meaning from one knowledge base to another turns them into the
probability that the entry is the right answer. Its weights are fitted on CLINC150 train/val only
(``python -m bench fusion --fit``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .analysis import Analysis, Analyzer
from .lexical import Evidence, Lexical, LexicalOptions, LexicalQuery, logistic
from .models import Candidate, Entry, Why
from .text import normalize

if TYPE_CHECKING:
    from .encoder import Encoder
    from .semantic import Nearness, Semantic, VectorCache


@dataclass(frozen=True)
class EngineOptions:
    """The lexical tier's options and the fused confidence's weights (fitted on CLINC150 val)."""

    lexical: LexicalOptions = field(default_factory=LexicalOptions)
    semantic_top: int = 5  # entries nearest in meaning that are scored even when no word is shared
    # confidence = logistic(bias + lexical * lexical_confidence + best * nearest phrasing similarity
    #                       + lead * its lead over the best other entry + centroid * similarity to the centroid
    #                       + coverage * lexical coverage). Fitted with non-negative weights; the fit dropped
    # nearest-phrasing similarity and coverage (the lead and the centroid carry them), kept for other fits.
    bias: float = -7.02
    w_lexical: float = 2.777
    w_best: float = 0.0
    w_lead: float = 9.833
    w_centroid: float = 9.841
    w_coverage: float = 0.0


@dataclass(frozen=True)
class Scored:
    """One candidate's evidence from both tiers and its fused confidence."""

    entry: int
    lexical: Evidence
    lexical_confidence: float
    best: float = 0.0
    lead: float = 0.0
    centroid: float = 0.0
    confidence: float = 0.0


class Engine:
    """Ranks entries for a question; build once per knowledge base, then ``rank`` is cheap and thread-safe."""

    def __init__(self, entries: Sequence[Entry], *, synonyms: Mapping[tuple[str, ...], str] | None = None,
                 options: EngineOptions | None = None, encoder: Encoder | None = None,
                 cache: VectorCache | None = None) -> None:
        self.entries = tuple(entries)
        self.options = options or EngineOptions()
        self.lexical = Lexical(self.entries, synonyms=synonyms, options=self.options.lexical)
        self.semantic: Semantic | None = None
        if encoder is not None:
            from .semantic import Semantic
            self.semantic = Semantic(self.entries, encoder, cache=cache)
        self.analyzer = Analyzer(encoder=encoder, canonical=self.lexical.canonical)
        authored: dict[str, set[int]] = {}
        for i, e in enumerate(self.entries):
            for text in e.texts:
                authored.setdefault(normalize(text), set()).add(i)
        self._authored = {k: frozenset(v) for k, v in authored.items()}  # normalised phrasing -> its entries

    @property
    def encode(self) -> Callable[[Sequence[str]], Any] | None:
        """The encoder's batch call (for grouping questions by meaning), or None in lexical mode."""
        return self.semantic.encoder.encode if self.semantic is not None else None

    @property
    def mode(self) -> str:
        return "semantic+lexical" if self.semantic is not None else "lexical"

    def rank(self, query: str | Analysis, *, limit: int = 5) -> list[Candidate]:
        """The best entries for ``query`` (a text, or the turn's shared analysis), best first."""
        a = query if isinstance(query, Analysis) else self.analyzer.analyze(query)
        scored, near = self.score(a, limit=limit)
        q = self.lexical.analyze(a.words)  # once for every candidate's explanation
        return [self._candidate(s, near, a, q) for s in scored[:limit]]

    def score(self, a: Analysis, *, limit: int = 5) -> tuple[list[Scored], Nearness | None]:
        """Both tiers' evidence and the fused confidence of the best entries, surest first."""
        q = self.lexical.analyze(a.words)
        o = self.options
        if self.semantic is None or a.meaning is None:
            found = self.lexical.evidence(q, limit=limit)
            out = [Scored(ev.entry, ev, c, confidence=c) for ev in found for c in (self.lexical.confidence(ev),)]
            return out, None
        near = self.semantic.nearness(a.meaning)
        nearest = [int(i) for i in near.best.argsort()[::-1][: o.semantic_top]]
        found = self.lexical.evidence(q, limit=limit, also=nearest)
        exact = self._authored.get(a.norm, frozenset())
        out = []
        for ev in found:
            lex = self.lexical.confidence(ev)
            best, lead, cent = float(near.best[ev.entry]), near.lead(ev.entry), float(near.centroid[ev.entry])
            z = (o.bias + o.w_lexical * lex + o.w_best * best + o.w_lead * lead + o.w_centroid * cent
                 + o.w_coverage * ev.coverage)
            confidence = logistic(z)
            if ev.entry in exact:
                confidence = max(confidence, best)  # typed as the author wrote it: the author's own decision
            out.append(Scored(ev.entry, ev, lex, best=best, lead=lead, centroid=cent, confidence=confidence))
        out.sort(key=lambda s: s.confidence, reverse=True)
        return out, near

    def _candidate(self, s: Scored, near: Nearness | None, a: Analysis, q: LexicalQuery) -> Candidate:
        lex_why = self.lexical.why(q, s.lexical)
        parts: tuple[tuple[str, float], ...] = (*lex_why.parts, ("lexical_confidence", s.lexical_confidence))
        meaning, similarity = "", 0.0
        if near is not None and self.semantic is not None:
            meaning, similarity = self.semantic.nearest_text(near, s.entry)
            parts += (("meaning", s.best), ("meaning_lead", s.lead), ("centroid", s.centroid))
        why = Why(terms=lex_why.terms, phrasing=lex_why.phrasing, parts=parts, meaning=meaning,
                  similarity=similarity)
        return Candidate(entry=self.entries[s.entry], score=s.lexical.score, confidence=s.confidence, why=why,
                         exact=s.entry in self._authored.get(a.norm, frozenset()))

    def features(self, a: Analysis, *, limit: int = 5) -> list[tuple[int, list[float]]]:
        """Each candidate's fusion signals (for fitting the weights in ``bench``), in ``EngineOptions`` order."""
        scored, _ = self.score(a, limit=limit)
        return [(s.entry, [s.lexical_confidence, s.best, s.lead, s.centroid, s.lexical.coverage]) for s in scored]


def fused_weights(options: EngineOptions) -> list[float]:
    o = options
    return [o.bias, o.w_lexical, o.w_best, o.w_lead, o.w_centroid, o.w_coverage]


def with_weights(options: EngineOptions, weights: Sequence[float]) -> EngineOptions:
    names = ("bias", "w_lexical", "w_best", "w_lead", "w_centroid", "w_coverage")
    return replace(options, **dict(zip(names, (float(w) for w in weights))))
