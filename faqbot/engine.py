"""Indexing and ranking: match a question to knowledge entries with a calibrated confidence. No I/O."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process, utils

from .models import Candidate, Entry, Why
from .text import STOPWORDS, apply_synonyms, char_ngrams, normalize, stem

Vector = dict[str, float]


@dataclass(frozen=True)
class EngineOptions:
    """Weights of the hybrid score and the confidence curve; defaults tuned on CLINC150 train/val."""

    centroid_words: float = 0.30
    centroid_chars: float = 0.20
    nearest: float = 0.30
    fuzzy: float = 0.20
    rerank: int = 8
    typo_cutoff: float = 80.0
    confidence_mid: float = 0.42
    confidence_slope: float = 12.0


@dataclass(frozen=True)
class Analysis:
    """A text after normalisation: the words it kept and its two sparse feature vectors."""

    terms: tuple[str, ...]
    words: Vector
    chars: Vector
    folded: str


def _unit(vec: Mapping[str, float]) -> Vector:
    norm = math.sqrt(sum(v * v for v in vec.values()))
    return {k: v / norm for k, v in vec.items()} if norm else {}


def _dot(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(k, 0.0) for k, v in a.items())


class Engine:
    """An inverted index over entries' phrasings; ``rank`` touches only entries sharing features with a query."""

    def __init__(self, entries: Sequence[Entry], *, synonyms: Mapping[tuple[str, ...], str] | None = None,
                 options: EngineOptions | None = None) -> None:
        self.entries = tuple(entries)
        self.synonyms = dict(synonyms or {})
        self.options = options or EngineOptions()
        self._texts: list[tuple[int, str]] = []  # (entry index, original text)
        for i, e in enumerate(self.entries):
            for t in (*e.texts, *e.keywords):
                self._texts.append((i, t))
        self._vocab = self._build_vocab()
        self._vocab_list = sorted(self._vocab)
        raw = [self._raw_features(t) for _, t in self._texts]
        self._idf_w = self._idf(raw, 0)
        self._idf_c = self._idf(raw, 1)
        self._phrasing_w: list[Vector] = []
        self._folded: list[str] = []
        centroid_w: list[Counter[str]] = [Counter() for _ in self.entries]
        centroid_c: list[Counter[str]] = [Counter() for _ in self.entries]
        self._postings_w: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for p, ((ei, text), (terms, wf, cf)) in enumerate(zip(self._texts, raw)):
            vw = _unit({k: v * self._idf_w.get(k, 0.0) for k, v in wf.items()})
            vc = _unit({k: v * self._idf_c.get(k, 0.0) for k, v in cf.items()})
            self._phrasing_w.append(vw)
            self._folded.append(" ".join(terms))
            for k, v in vw.items():
                self._postings_w[k].append((p, v))
                centroid_w[ei][k] += v
            for k, v in vc.items():
                centroid_c[ei][k] += v
        self._entry_postings_w = self._entry_postings(centroid_w)
        self._entry_postings_c = self._entry_postings(centroid_c)
        self._by_entry: list[list[int]] = [[] for _ in self.entries]
        for p, (ei, _) in enumerate(self._texts):
            self._by_entry[ei].append(p)
        self._fold = lru_cache(maxsize=4096)(self._fold_uncached)

    # --- building --------------------------------------------------------------------------------

    def _build_vocab(self) -> set[str]:
        vocab: set[str] = set()
        for _, t in self._texts:
            vocab.update(normalize(t).split())
        for variant, canon in self.synonyms.items():
            vocab.update(variant)
            vocab.update(canon.split())
        return {w for w in vocab if not w.isdigit()}

    def _terms(self, text: str, *, fold_typos: bool) -> tuple[str, ...]:
        words = normalize(text).split()
        if fold_typos:
            words = [self._fold(w) for w in words]
        words = apply_synonyms(words, self.synonyms)
        content = [w for w in words if w not in STOPWORDS]
        return tuple(content or words)

    def _features(self, terms: Sequence[str]) -> tuple[Counter[str], Counter[str]]:
        stems = [stem(t) for t in terms]
        wf: Counter[str] = Counter(stems)
        wf.update(f"{a}_{b}" for a, b in zip(stems, stems[1:]))
        cf: Counter[str] = Counter()
        for t in terms:
            grams = char_ngrams(t, 3)
            for g in grams:
                cf[g] += 1.0 / len(grams) ** 0.5
        return wf, cf

    def _raw_features(self, text: str) -> tuple[tuple[str, ...], Counter[str], Counter[str]]:
        terms = self._terms(text, fold_typos=False)
        wf, cf = self._features(terms)
        return terms, wf, cf

    def _idf(self, raw: list[tuple[tuple[str, ...], Counter[str], Counter[str]]], which: int) -> dict[str, float]:
        """Entry-level IDF: a word in few entries outweighs one in many ("alcohol" over "ketamine")."""
        per_entry: list[set[str]] = [set() for _ in self.entries]
        for (ei, _), feats in zip(self._texts, raw):
            per_entry[ei].update(feats[1 + which])
        df: Counter[str] = Counter()
        for feats in per_entry:
            df.update(feats)
        n = len(self.entries)
        return {k: math.log(1 + n / d) for k, d in df.items()}

    @staticmethod
    def _entry_postings(centroids: list[Counter[str]]) -> dict[str, list[tuple[int, float]]]:
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for ei, c in enumerate(centroids):
            for k, v in _unit(c).items():
                postings[k].append((ei, v))
        return dict(postings)

    def _fold_uncached(self, word: str) -> str:
        """Map an unknown word to the closest known one ("alchol" -> "alcohol"), or keep it."""
        if word in self._vocab or len(word) < 4 or word.isdigit() or word in STOPWORDS:
            return word
        hit = process.extractOne(word, self._vocab_list, scorer=fuzz.ratio, score_cutoff=self.options.typo_cutoff)
        return hit[0] if hit else word

    # --- querying --------------------------------------------------------------------------------

    def analyze(self, text: str) -> Analysis:
        terms = self._terms(text, fold_typos=True)
        wf, cf = self._features(terms)
        words = _unit({k: v * self._idf_w[k] for k, v in wf.items() if k in self._idf_w})
        chars = _unit({k: v * self._idf_c[k] for k, v in cf.items() if k in self._idf_c})
        return Analysis(terms=terms, words=words, chars=chars, folded=" ".join(terms))

    def rank(self, text: str, *, limit: int = 5) -> list[Candidate]:
        """The best entries for ``text``, best first, each with score, confidence and what drove it."""
        q = self.analyze(text)
        if not q.words and not q.chars:
            return []
        o = self.options
        cw: dict[int, float] = defaultdict(float)
        cc: dict[int, float] = defaultdict(float)
        for k, v in q.words.items():
            for ei, w in self._entry_postings_w.get(k, ()):
                cw[ei] += v * w
        for k, v in q.chars.items():
            for ei, w in self._entry_postings_c.get(k, ()):
                cc[ei] += v * w
        near: dict[int, tuple[float, int]] = {}
        acc: dict[int, float] = defaultdict(float)
        for k, v in q.words.items():
            for p, w in self._postings_w.get(k, ()):
                acc[p] += v * w
        for p, s in acc.items():
            ei = self._texts[p][0]
            if s > near.get(ei, (0.0, -1))[0]:
                near[ei] = (s, p)
        coarse = {ei: o.centroid_words * cw.get(ei, 0.0) + o.centroid_chars * cc.get(ei, 0.0)
                  + o.nearest * near.get(ei, (0.0, -1))[0] for ei in set(cw) | set(cc)}
        top = sorted(coarse, key=coarse.__getitem__, reverse=True)[: max(o.rerank, limit)]
        out: list[Candidate] = []
        for ei in top:
            choices = [self._folded[p] for p in self._by_entry[ei]]
            best = process.extractOne(q.folded, choices, scorer=fuzz.token_sort_ratio, processor=utils.default_process)
            fz = best[1] / 100.0 if best else 0.0
            score = coarse[ei] + o.fuzzy * fz
            p_near = near.get(ei, (0.0, -1))[1]
            phrasing = self._texts[p_near][1] if p_near >= 0 else (self._texts[self._by_entry[ei][best[2]]][1]
                                                                  if best else "")
            shared = tuple(t for t in q.terms if stem(t) in self._phrasing_w_terms(ei))
            why = Why(terms=shared, phrasing=phrasing,
                      parts=(("centroid_words", cw.get(ei, 0.0)), ("centroid_chars", cc.get(ei, 0.0)),
                             ("nearest", near.get(ei, (0.0, -1))[0]), ("fuzzy", fz)))
            out.append(Candidate(entry=self.entries[ei], score=score, confidence=self.confidence(score), why=why))
        out.sort(key=lambda c: c.score, reverse=True)
        return out[:limit]

    def _phrasing_w_terms(self, ei: int) -> set[str]:
        return {k for p in self._by_entry[ei] for k in self._phrasing_w[p] if "_" not in k}

    def confidence(self, score: float) -> float:
        """Map a raw score to [0, 1] with a logistic curve fitted so that 0.5 means a coin flip."""
        o = self.options
        return 1.0 / (1.0 + math.exp(-o.confidence_slope * (score - o.confidence_mid)))
