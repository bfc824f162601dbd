"""The semantic tier on CLINC150: fit the fused confidence on val, report test, beside the lexical tier alone and
the MiniLM nearest-centroid baseline, at 10 and 100 phrasings per intent.

``python -m bench fusion`` evaluates the shipped weights; ``--fit`` first fits them on val (never on test) and
prints them for ``EngineOptions``. Sentence vectors are cached in ``bench/cache/`` (not committed).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from faqbot.analysis import Analysis, language
from faqbot.encoder import Encoder
from faqbot.engine import Engine, EngineOptions, fused_weights, with_weights
from faqbot.models import Entry
from faqbot.semantic import VectorCache
from faqbot.text import fold, normalize

from . import ROOT, Example, intents, load_clinc, progress, save, stamp
from .quality import best_threshold, rates, reliability

CACHE = ROOT / "bench" / "cache"
SETTINGS = (10, 100)
Row = tuple[str, list[tuple[str, list[float]]]]  # gold, [(candidate, features)]


def analyses(encoder: Encoder, cache: VectorCache, texts: Sequence[str]) -> list[Analysis]:
    keys = [t.strip().lower() for t in texts]
    vectors = cache.embed(encoder, keys)
    cache.save()
    out = []
    for text, vec in zip(texts, vectors):
        norm = normalize(text)
        words = tuple(norm.split())
        out.append(Analysis(text=text, folded=fold(text), norm=norm, words=words,
                            language=language(words, fold(text)), vector=vec))
    return out


def collect(engine: Engine, rows: Sequence[Example], found: Sequence[Analysis], label: str) -> list[Row]:
    ids = [e.id for e in engine.entries]
    out: list[Row] = []
    for (_, gold), a in progress(list(zip(rows, found)), len(rows), label):
        out.append((gold, [(ids[ei], f) for ei, f in engine.features(a, limit=5)]))
    return out


def fit(rows: Sequence[Row], *, l2: float = 1e-3, steps: int = 50) -> list[float]:
    """Logistic regression (Newton's method) of "this candidate is right" on the candidate features; out-of-scope
    questions weigh half of the total, the mix the confidence is meant for. Feature weights are kept
    non-negative (a weight that fits negative is dropped and the rest refitted): the confidence must never fall
    as a question gets closer to an entry, or it cannot be explained and it does not carry to a KB whose
    phrasings are more varied than CLINC150's."""
    n_oos = sum(1 for g, _ in rows if g == "oos")
    ratio = (len(rows) - n_oos) / max(n_oos, 1)
    x, y, w = [], [], []
    for gold, cands in rows:
        for cid, f in cands:
            x.append([1.0, *f])
            y.append(1.0 if cid == gold else 0.0)
            w.append(ratio if gold == "oos" else 1.0)
    X, Y, W = np.array(x), np.array(y), np.array(w)
    active = np.ones(X.shape[1], dtype=bool)
    while True:
        beta = np.zeros(X.shape[1])
        A = X[:, active]
        b = np.zeros(A.shape[1])
        for _ in range(steps):
            p = 1 / (1 + np.exp(-np.clip(A @ b, -60, 60)))
            grad = A.T @ (W * (p - Y)) + l2 * b
            hess = (A * (W * p * (1 - p))[:, None]).T @ A + l2 * np.eye(len(b))
            b -= np.linalg.solve(hess, grad)
        beta[active] = b
        negative = [i for i in range(1, len(beta)) if active[i] and beta[i] < 0]
        if not negative:
            return [float(v) for v in beta]
        active[min(negative, key=lambda i: beta[i])] = False


def predict(rows: Sequence[Row], weights: Sequence[float]) -> list[tuple[str, str | None, float, float]]:
    b = np.array(weights)
    out = []
    for gold, cands in rows:
        if not cands:
            out.append((gold, None, 0.0, 0.0))
            continue
        z = [b[0] + float(np.dot(b[1:], f)) for _, f in cands]
        i = int(np.argmax(z))
        out.append((gold, cands[i][0], float(1 / (1 + np.exp(-np.clip(z[i], -60, 60)))), 0.0))
    return out


def centroid_rows(engine: Engine, found: Sequence[Analysis], rows: Sequence[Example]) -> list[tuple[str, str, float, float]]:
    assert engine.semantic is not None
    ids = [e.id for e in engine.entries]
    out = []
    for (_, gold), a in zip(rows, found):
        near = engine.semantic.nearness(a.vector)
        i = int(np.argmax(near.centroid))
        out.append((gold, ids[i], float(near.centroid[i]), 0.0))
    return out


def summary(val: Sequence[Any], test: Sequence[Any]) -> dict[str, float]:
    t = best_threshold(val)
    acc, rec = rates(test, t)
    inscope = [o for o in test if o[0] != "oos"]
    return {"top1": sum(1 for g, p, _, _ in inscope if p == g) / len(inscope), "threshold": t,
            "inscope_acc": acc, "oos_recall": rec, "balanced": (acc + rec) / 2,
            "val_balanced": sum(rates(val, t)) / 2}


def main(*, smoke: bool = False, do_fit: bool = False) -> dict[str, Any]:
    data = load_clinc(smoke=smoke)
    encoder = Encoder.load()
    cache = VectorCache(CACHE, encoder.id)
    splits = {s: data[s] + data[f"oos_{s}"] for s in ("val", "test")}
    if smoke:
        splits = {s: r[:60] + r[-20:] for s, r in splits.items()}
    found = {s: analyses(encoder, cache, [t for t, _ in r]) for s, r in splits.items()}
    options = EngineOptions()
    engines: dict[int, Engine] = {}
    collected: dict[tuple[int, str], list[Row]] = {}
    builds: dict[int, float] = {}
    for per in SETTINGS:
        entries = intents(data["train"], per)
        start = time.perf_counter()
        engines[per] = Engine([Entry(id=i, question=ts[0], answer=i, phrasings=tuple(ts[1:]))
                               for i, ts in entries.items()], options=options, encoder=encoder, cache=cache)
        builds[per] = time.perf_counter() - start
        for s in splits:
            collected[per, s] = collect(engines[per], splits[s], found[s], f"fusion {per}/intent {s}")
    weights = fused_weights(options)
    if do_fit:
        weights = fit([r for per in SETTINGS for r in collected[per, "val"]])
        names = ("bias", "w_lexical", "w_best", "w_lead", "w_centroid", "w_coverage")
        print("fitted on val: " + ", ".join(f"{n}={w:.3f}" for n, w in zip(names, weights)))
        options = with_weights(options, weights)
    results = []
    for per in SETTINGS:
        fused = {s: predict(collected[per, s], weights) for s in splits}
        # The lexical tier alone must rank by its own evidence, not among the semantic candidates: rebuild.
        lex_engine = Engine(engines[per].entries, options=options)
        lexical = {s: [(g, (c[0].entry.id if c else None), (c[0].confidence if c else 0.0), 0.0)
                       for (_, g), a in zip(splits[s], found[s]) for c in (lex_engine.rank(a, limit=1),)]
                   for s in splits}
        centroid = {s: centroid_rows(engines[per], found[s], splits[s]) for s in splits}
        for name, out in (("faqbot (semantic + lexical)", fused), ("faqbot lexical tier alone", lexical),
                          ("MiniLM nearest centroid", centroid)):
            row = {"system": name, "per_intent": per, **summary(out["val"], out["test"])}
            if name.startswith("faqbot (semantic"):
                row["build_s"] = builds[per]
                row["calibration"] = {s: reliability([(sc, p == g) for g, p, sc, _ in out[s]]) for s in splits}
            results.append(row)
            print(f"{per:>3}/intent {name:<30} top-1 {row['top1']:.1%}  balanced {row['balanced']:.1%}  "
                  f"(in-scope {row['inscope_acc']:.1%}, oos recall {row['oos_recall']:.1%}, "
                  f"threshold {row['threshold']:.3f})", flush=True)
    record = stamp("fusion", {"smoke": smoke, "model": encoder.source, "weights": weights, "results": results})
    if not smoke:
        save(record)
    return record
