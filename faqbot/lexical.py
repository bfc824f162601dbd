"""Lexical matching: rank knowledge entries by the words of a question, with a calibrated confidence. No I/O.

The model is linear over sparse features and learned at build time in pure Python:

- word features (stemmed unigrams, stopwords damped, and bigrams with sentence-boundary marks), weighted by an
  averaged perceptron that starts from each entry's TF-IDF centroid and corrects it where the entry's own phrasings
  are confused with another entry's: a word that separates two entries gains weight, a shared one loses it;
- character n-grams of content words, scored against each entry's centroid, for typos and morphology;
- a fuzzy whole-message similarity (rapidfuzz) to a bounded sample of each top candidate's phrasings, and the share
  of the question's content words the candidate contains.

Every feature has a posting list of (entry, weight), so a query touches only entries that share a feature with it,
and the cost of a query grows with the number of entries that do, not with the number of phrasings.
"""

from __future__ import annotations

import heapq
import math
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from .models import Candidate, Entry, Why
from .text import COMMON_WORDS, STOPWORDS, apply_synonyms, char_ngrams, normalize, stem

Vector = dict[str, float]
# Words that ask rather than say what about: they count as features but not towards coverage.
_QUESTION_WORDS = frozenset(("what", "how", "why", "when", "where", "who", "which", "whose", "whom"))
Postings = dict[str, tuple[tuple[int, ...], tuple[float, ...]]]


@dataclass(frozen=True)
class LexicalOptions:
    """Weights of the score and of the confidence curve; defaults fitted on CLINC150 train and val only."""

    stopword_weight: float = 0.5
    char_sizes: tuple[int, ...] = (3, 4)
    chars: float = 0.8
    fuzzy: float = 0.3
    coverage: float = 0.5
    common_weight: float = 0.3  # weight of an everyday word (text.COMMON_WORDS) in coverage and known share
    epochs: int = 3
    margin: float = 0.1
    seed: int = 0
    rerank: int = 5
    fuzzy_phrasings: int = 24
    typo_cutoff: float = 80.0
    prune: float = 0.02
    # confidence = logistic(bias + w_lead * margin * coverage * known + w_coverage * coverage + w_known * known
    #                       + w_fuzzy * fuzzy),
    # fitted by `python -m bench quality --fit` on CLINC150 val, out-of-scope weighted to half the total
    confidence_bias: float = -3.509
    confidence_lead: float = 4.467
    confidence_coverage: float = 2.101
    confidence_known: float = 0.267
    confidence_fuzzy: float = 3.469


@dataclass(frozen=True)
class LexicalQuery:
    """A text after normalisation: its content terms and its weighted word and character feature vectors
    (unit length over all features, then cut to those the knowledge base has)."""

    terms: tuple[str, ...]
    words: Vector
    chars: Vector
    folded: str
    known: float = 1.0  # share of the content words that the knowledge base has seen at all
    asked: Mapping[str, float] = field(default_factory=dict)  # content word -> weight in coverage (rarity)


@dataclass
class Evidence:
    """What the words say about one entry: the parts of its lexical score and its lead over the others."""

    entry: int
    score: float = 0.0
    words: float = 0.0
    chars: float = 0.0
    fuzzy: float = 0.0
    coverage: float = 0.0
    known: float = 0.0
    phrasing: int = -1
    margin: float = 0.0


def _unit(vec: Mapping[str, float]) -> Vector:
    norm = math.sqrt(sum(v * v for v in vec.values()))
    return {k: v / norm for k, v in vec.items()} if norm else {}


def _sublinear(x: float) -> float:
    return 1.0 + math.log(x) if x > 1.0 else x


def _postings(vectors: Iterable[Mapping[str, float]], prune: float = 0.0) -> Postings:
    """Feature -> (entries, weights); weights under ``prune`` are dropped: they cost time and decide nothing."""
    lists: dict[str, tuple[list[int], list[float]]] = {}
    for ei, vec in enumerate(vectors):
        for k, v in vec.items():
            if abs(v) > prune:
                ids, ws = lists.setdefault(k, ([], []))
                ids.append(ei)
                ws.append(v)
    return {k: (tuple(ids), tuple(ws)) for k, (ids, ws) in lists.items()}


def _accumulate(query: Mapping[str, float], postings: Postings, scores: list[float]) -> None:
    """Add the dot product of ``query`` with every entry's weights into ``scores``, via the postings."""
    for k, v in query.items():
        hit = postings.get(k)
        if hit is not None:
            for ei, w in zip(*hit):
                scores[ei] += v * w


class Lexical:
    """Ranks entries for a question; build once per knowledge base, then ``rank`` is cheap and thread-safe."""

    def __init__(self, entries: Sequence[Entry], *, synonyms: Mapping[tuple[str, ...], str] | None = None,
                 options: LexicalOptions | None = None) -> None:
        self.entries = tuple(entries)
        self.synonyms = dict(synonyms or {})
        self.options = options or LexicalOptions()
        texts = [(i, t) for i, e in enumerate(self.entries) for t in (*e.texts, *e.keywords)]
        self._text_entry = [i for i, _ in texts]
        self._texts = [t for _, t in texts]
        self._entry_terms: list[set[str]] = [set() for _ in self.entries]
        self._fuzzy_choices: list[list[tuple[str, int]]] = [[] for _ in self.entries]
        # Two passes keep a big build small: features and per-entry feature sets first, weighted vectors after;
        # character n-grams are cheap to recompute, so they are never held for every phrasing at once.
        word_seen: list[set[str]] = [set() for _ in self.entries]
        char_seen: list[set[str]] = [set() for _ in self.entries]
        word_vecs: list[Vector] = []
        contents: list[tuple[str, ...]] = []
        for p, (ei, text) in enumerate(texts):
            words = self._terms(text, fold_typos=False)
            terms, wf, cf = self._features(words)
            word_vecs.append(wf)
            word_seen[ei].update(wf)
            char_seen[ei].update(cf)
            contents.append(tuple(sys.intern(t) for t in terms))
            self._entry_terms[ei].update(words)
            # Fuzzy scoring sees a bounded sample of each entry, so its cost does not grow with the KB.
            if len(self._fuzzy_choices[ei]) < self.options.fuzzy_phrasings:
                self._fuzzy_choices[ei].append((" ".join(terms), p))
        self._idf_w = self._idf(word_seen)
        self._idf_c = self._idf(char_seen)
        del word_seen, char_seen
        for i, wf in enumerate(word_vecs):
            word_vecs[i] = self._weigh(wf, self._idf_w)
        char_vecs = (self._weigh(self._char_features(terms), self._idf_c) for terms in contents)
        self._chars = _postings(self._centroids(char_vecs), self.options.prune)
        del contents
        self._words = _postings(self._train(word_vecs), self.options.prune)
        self._init_typos()

    # --- building --------------------------------------------------------------------------------

    def _idf(self, per_entry: Sequence[set[str]]) -> dict[str, float]:
        """Entry-level IDF: a term in few entries outweighs one in many ("alcohol" over "ketamine")."""
        df: Counter[str] = Counter()
        for seen in per_entry:
            df.update(seen)
        n = len(self.entries)
        return {sys.intern(k): math.log(1.0 + n / d) for k, d in df.items()}

    @staticmethod
    def _weigh(features: Mapping[str, float], idf: Mapping[str, float]) -> Vector:
        # Interned keys: a big KB holds each feature string once, not once per phrasing.
        return _unit({sys.intern(k): _sublinear(v) * idf[k] for k, v in features.items() if k in idf})

    def _centroids(self, vectors: Iterable[Vector]) -> list[Vector]:
        sums: list[Vector] = [defaultdict(float) for _ in self.entries]
        for ei, vec in zip(self._text_entry, vectors):
            total = sums[ei]
            for k, v in vec.items():
                total[k] += v
        return [_unit(s) for s in sums]

    def _train(self, vectors: Sequence[Vector]) -> list[Vector]:
        """Entry weights: TF-IDF centroids corrected by an averaged perceptron over the entries' own phrasings.

        The centroid part of each phrasing's scores is computed once and only its few best entries are kept;
        the learned correction is sparse (it touches only the true and the confused entry), so an epoch is cheap.
        """
        o = self.options
        centroids = self._centroids(vectors)
        if o.epochs <= 0 or len(self.entries) < 2:
            return centroids
        base_postings = _postings(centroids)
        n = len(self.entries)
        base: list[dict[int, float]] = []
        for y, vec in zip(self._text_entry, vectors):
            scores = [0.0] * n
            _accumulate(vec, base_postings, scores)
            best = heapq.nlargest(8, range(n), key=scores.__getitem__)
            base.append({c: scores[c] for c in (*best, y)})
        delta: dict[str, dict[int, float]] = defaultdict(dict)
        total: dict[str, dict[int, float]] = defaultdict(dict)  # time-weighted sums, for averaging
        order = list(range(len(vectors)))
        rng = random.Random(o.seed)
        step = 1
        for _ in range(o.epochs):
            rng.shuffle(order)
            for j in order:
                vec, y = vectors[j], self._text_entry[j]
                # Only the entries the centroids found closest compete: the ones a phrasing can be confused with.
                rivals = dict(base[j])
                for k, v in vec.items():
                    dk = delta.get(k)
                    if not dk:
                        continue
                    if len(dk) < len(rivals):
                        for c, w in dk.items():
                            if c in rivals:
                                rivals[c] += v * w
                    else:
                        for c in rivals:
                            w = dk.get(c, 0.0)
                            if w:
                                rivals[c] += v * w
                own = rivals.pop(y, 0.0)
                if rivals:
                    rival = max(rivals, key=rivals.__getitem__)
                    if own - rivals[rival] < o.margin:
                        for k, v in vec.items():
                            dk, tk = delta[k], total[k]
                            dk[y] = dk.get(y, 0.0) + v
                            tk[y] = tk.get(y, 0.0) + step * v
                            dk[rival] = dk.get(rival, 0.0) - v
                            tk[rival] = tk.get(rival, 0.0) - step * v
                step += 1
        weights = [dict(c) for c in centroids]
        for k, dk in delta.items():
            tk = total[k]
            for c, w in dk.items():
                avg = w - tk[c] / step
                if abs(avg) > 1e-6:
                    weights[c][k] = weights[c].get(k, 0.0) + avg
        return weights

    def _init_typos(self) -> None:
        counts: Counter[str] = Counter()
        for t in self._texts:
            counts.update(normalize(t).split())
        for variant, canon in self.synonyms.items():
            counts.update((*variant, *canon.split()))
        self._vocab = frozenset(w for w in counts if not w.isdigit())
        # Typo targets: words seen twice in big KBs (a typo in a phrasing is not a target), bucketed by length.
        min_count = 2 if len(self._vocab) > 2000 else 1
        self._by_length: dict[int, list[str]] = defaultdict(list)
        for w in sorted(self._vocab):
            if counts[w] >= min_count and len(w) >= 3 and w not in STOPWORDS:
                self._by_length[len(w)].append(w)
        self._fold = lru_cache(maxsize=8192)(self._fold_uncached)

    def _fold_uncached(self, word: str) -> str:
        """Map an unknown word to the closest known one ("alchol" -> "alcohol"), or keep it."""
        if word in self._vocab or len(word) < 4 or word.isdigit() or word in STOPWORDS:
            return word
        choices = [w for n in range(len(word) - 2, len(word) + 3) for w in self._by_length.get(n, ())]
        hit = process.extractOne(word, choices, scorer=fuzz.ratio, processor=None,
                                 score_cutoff=self.options.typo_cutoff)
        # A short word is one edit from many others: "come" is not a typo of "become", nor "wats" of "sweats".
        if hit and len(word) <= 5 and Levenshtein.distance(word, hit[0]) > 1:
            return word
        return hit[0] if hit else word

    # --- features --------------------------------------------------------------------------------

    def _terms(self, text: str, *, fold_typos: bool) -> tuple[str, ...]:
        return self._fold_words(normalize(text).split(), fold_typos=fold_typos)

    def _fold_words(self, words: Sequence[str], *, fold_typos: bool) -> tuple[str, ...]:
        if fold_typos:
            words = [self._fold(w) for w in words]
        return tuple(apply_synonyms(words, self.synonyms))

    def _features(self, words: Sequence[str]) -> tuple[tuple[str, ...], Vector, Vector]:
        """Content terms, word features (unigrams and bigrams) and character n-grams of ``words``."""
        o = self.options
        stems = [stem(w) for w in words]
        wf: Vector = defaultdict(float)
        for w, s in zip(words, stems):
            wf[s] += o.stopword_weight if w in STOPWORDS else 1.0
        marked = ["^", *stems, "$"]
        for a, b in pairwise(marked):
            if len(marked) > 3 or (a, b) != ("^", "$"):
                wf[f"{a} {b}"] += 1.0
        # A message of function words only ("should i do it") is still a message: keep them then.
        content = tuple(w for w in words if w not in STOPWORDS) or tuple(words)
        return content, wf, self._char_features(content)

    def _char_features(self, content: Sequence[str]) -> Vector:
        cf: Vector = defaultdict(float)
        for w in content:
            for n in self.options.char_sizes:
                for g in char_ngrams(w, n):
                    cf[g] += 1.0
        return cf

    def _weigh_query(self, features: Mapping[str, float], idf: Mapping[str, float]) -> Vector:
        """Like ``_weigh``, but a feature no entry has still counts in the length, as the rarest possible one:
        "write me a poem" is mostly unknown, and shares only a sliver of itself with the entry about writing."""
        unseen = math.log(1.0 + len(self.entries))
        vec = _unit({k: _sublinear(v) * idf.get(k, unseen) for k, v in features.items()})
        return {k: v for k, v in vec.items() if k in idf}

    def canonical(self, words: Sequence[str]) -> tuple[str, ...]:
        """The words as the KB writes them: typos folded onto KB words, slang onto its synonyms' terms."""
        return tuple(self._fold_words(words, fold_typos=True))

    def analyze(self, text: str | Sequence[str]) -> LexicalQuery:
        """Typo folding, synonyms and weighted feature vectors of a text, or of its already normalised words."""
        words = normalize(text).split() if isinstance(text, str) else text
        terms, wf, cf = self._features(self._fold_words(words, fold_typos=True))
        words = self._weigh_query(wf, self._idf_w)
        chars = self._weigh_query(cf, self._idf_c)
        # An everyday word the KB lacks ("what *even* is it") says nothing about whether the question is ours.
        asked = self._asked(terms)
        judged = {t: w for t, w in asked.items() if t in self._vocab or t not in COMMON_WORDS}
        total = sum(judged.values())
        known = sum(w for t, w in judged.items() if t in self._vocab) / total if total else 0.0
        return LexicalQuery(terms=terms, words=words, chars=chars, folded=" ".join(terms), known=known, asked=asked)

    def _asked(self, terms: Sequence[str]) -> dict[str, float]:
        """The words a question is about, each weighted by its rarity in the KB (an unknown word as the rarest):
        "what about cravings" is about "cravings", and "i get really bad cravings" mostly so."""
        unseen = math.log(1.0 + len(self.entries))
        o = self.options
        return {t: self._idf_w.get(stem(t), unseen) * (o.common_weight if t in COMMON_WORDS else 1.0)
                for t in terms if t not in _QUESTION_WORDS}

    # --- querying --------------------------------------------------------------------------------

    def rank(self, text: str | Sequence[str], *, limit: int = 5) -> list[Candidate]:
        """The best entries for ``text`` by words alone, best first, each with score, confidence and why."""
        q = self.analyze(text)
        found = self.evidence(q, limit=limit)
        return [Candidate(entry=self.entries[ev.entry], score=ev.score, confidence=self.confidence(ev),
                          why=self.why(q, ev)) for ev in found[:limit]]

    def evidence(self, q: LexicalQuery, *, limit: int = 5, also: Sequence[int] = ()) -> list[Evidence]:
        """Lexical evidence for the best entries by words, plus the entries ``also`` asks about, best first."""
        if not q.words and not q.chars:
            return [Evidence(ei, known=q.known) for ei in also]
        o = self.options
        n = len(self.entries)
        word_scores = [0.0] * n
        char_scores = [0.0] * n
        _accumulate(q.words, self._words, word_scores)
        _accumulate(q.chars, self._chars, char_scores)
        coarse = [w + o.chars * c for w, c in zip(word_scores, char_scores)]
        top = [ei for ei in heapq.nlargest(max(o.rerank, limit), range(n), key=coarse.__getitem__) if coarse[ei] > 0]
        top += [ei for ei in also if ei not in top]
        asked = q.asked
        asked_total = sum(asked.values())
        found: list[Evidence] = []
        for ei in top:
            choices = self._fuzzy_choices[ei]
            best = process.extractOne(q.folded, [c for c, _ in choices], scorer=fuzz.token_sort_ratio, processor=None)
            # Unrelated short texts still score about 0.5 on token_sort_ratio: only the part above that is evidence.
            fz, p = (max(0.0, best[1] / 50.0 - 1.0), choices[best[2]][1]) if best else (0.0, -1)
            terms = self._entry_terms[ei]
            cov = sum(w for t, w in asked.items() if t in terms) / asked_total if asked_total else 0.0
            score = coarse[ei] + o.fuzzy * fz + o.coverage * cov
            found.append(Evidence(ei, score=score, words=word_scores[ei], chars=char_scores[ei], fuzzy=fz,
                                  coverage=cov, known=q.known, phrasing=p))
        found.sort(key=lambda ev: ev.score, reverse=True)
        for i, ev in enumerate(found):
            # The lead of the best entry is over the second; any other entry's (negative) lead is over the best.
            rival = found[0].score if i else found[1].score if len(found) > 1 else 0.0
            ev.margin = ev.score - rival
        return found

    def why(self, q: LexicalQuery, ev: Evidence) -> Why:
        """The shared terms, the closest phrasing by spelling and the parts of the lexical score."""
        return Why(terms=tuple(t for t in q.terms if t in self._entry_terms[ev.entry]),
                   phrasing=self._texts[ev.phrasing] if ev.phrasing >= 0 else self.entries[ev.entry].question,
                   parts=(("words", ev.words), ("chars", ev.chars), ("fuzzy", ev.fuzzy), ("coverage", ev.coverage),
                          ("margin", ev.margin), ("known", ev.known)))

    def lead_signal(self, ev: Evidence) -> float:
        """The lead over the best other entry, counted only for the covered, known part of the question."""
        return ev.margin * ev.coverage * ev.known

    def confidence(self, ev: Evidence) -> float:
        """Probability that an entry is the right answer, from four signals that keep their meaning from one
        knowledge base to another (the raw ``score`` does not, and is not used):

        - ``margin``: the entry's lead over the best other entry;
        - ``coverage``: the share of the question's content words the entry contains;
        - ``known``: the share of the question's content words that the knowledge base has at all;
        - ``fuzzy``: how closely the whole question resembles one of the entry's phrasings (0 to 1).

        The lead counts only for the covered, known part of the question, so "write me a poem" gains little from
        the entry about writing to us.
        """
        o = self.options
        z = (o.confidence_bias + o.confidence_lead * self.lead_signal(ev) + o.confidence_coverage * ev.coverage
             + o.confidence_known * ev.known + o.confidence_fuzzy * ev.fuzzy)
        return logistic(z)


def logistic(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))
