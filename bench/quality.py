"""Answer quality on CLINC150: top-1 accuracy, and with a decline threshold chosen on val only, in-scope accuracy,
out-of-scope recall and their mean (balanced), for faqbot and every peer, in two settings (100 and 10 phrasings
per intent). faqbot's confidence calibration (ECE, reliability) is measured on val and test, and ``--fit`` fits
its logistic confidence parameters on val (never on test).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from faqbot.lexical import LexicalOptions as EngineOptions
from faqbot.text import STOPWORDS, normalize, stem

from . import Example, intents, load_clinc, merge, percentile, progress, save, stamp
from .peers import FACTORIES, Faqbot, available

SETTINGS = (100, 10)
# ChatterBot answers in seconds per query at 15k phrasings: it runs on a fixed random sample of each split.
SAMPLES = {("chatterbot", 100): 300, ("chatterbot", 10): 1000}
SMOKE_PER_SPLIT = {"chatterbot": 8}  # in a smoke run; other systems answer SMOKE_DEFAULT queries per split
SMOKE_DEFAULT = 40
SEED = 0
Outcome = tuple[str, str | None, float, float]  # gold, predicted, score, seconds


def queries(data: dict[str, list[Example]], split: str, sample: int | None) -> list[Example]:
    """In-scope plus out-of-scope queries of ``split`` ("val" or "test"), optionally a fixed random sample."""
    rows = data[split] + data[f"oos_{split}"]
    if sample is not None and sample < len(rows):
        rows = random.Random(SEED).sample(rows, sample)
    return rows


def run_system(system: Any, rows: Sequence[Example], label: str) -> list[Outcome]:
    out: list[Outcome] = []
    for text, gold in progress(rows, len(rows), label):
        start = time.perf_counter()
        pred, score = system.predict(text)
        out.append((gold, pred, score, time.perf_counter() - start))
    return out


def rates(outcomes: Sequence[Outcome], threshold: float) -> tuple[float, float]:
    """(in-scope accuracy, out-of-scope recall) when predictions scoring below ``threshold`` are declined."""
    inscope = [o for o in outcomes if o[0] != "oos"]
    oos = [o for o in outcomes if o[0] == "oos"]
    acc = sum(1 for g, p, s, _ in inscope if p == g and s >= threshold) / max(len(inscope), 1)
    rec = sum(1 for _, p, s, _ in oos if p is None or s < threshold) / max(len(oos), 1)
    return acc, rec


def best_threshold(outcomes: Sequence[Outcome]) -> float:
    """The threshold maximising the balanced score (mean of in-scope accuracy and OOS recall), by a sweep."""
    n_in = sum(1 for o in outcomes if o[0] != "oos") or 1
    n_oos = sum(1 for o in outcomes if o[0] == "oos") or 1
    # Raising the threshold past a score s declines that prediction: -1/n_in if it was right, +1/n_oos if OOS.
    events = sorted((s, (1 / n_oos if g == "oos" else (-1 / n_in if p == g else 0.0)))
                    for g, p, s, _ in outcomes if p is not None)
    acc, rec = rates(outcomes, -math.inf)
    best, best_t, gain = acc + rec, -math.inf, 0.0
    for i, (s, delta) in enumerate(events):
        gain += delta
        if i + 1 < len(events) and events[i + 1][0] == s:
            continue
        if acc + rec + gain > best + 1e-12:
            nxt = events[i + 1][0] if i + 1 < len(events) else s + 1.0
            best, best_t = acc + rec + gain, (s + nxt) / 2
    return best_t


def reliability(pairs: Sequence[tuple[float, bool]], bins: int = 10,
                weights: Sequence[float] | None = None) -> dict[str, Any]:
    """Expected calibration error and the reliability table (confidence vs accuracy per bin), optionally weighted."""
    ws = list(weights) if weights is not None else [1.0] * len(pairs)
    total = sum(ws) or 1.0
    table = []
    ece = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [(c, ok, w) for (c, ok), w in zip(pairs, ws) if lo <= c < hi or (b == bins - 1 and c == 1.0)]
        mass = sum(w for _, _, w in inside)
        if not mass:
            continue
        conf = sum(c * w for c, _, w in inside) / mass
        acc = sum(w for _, ok, w in inside if ok) / mass
        ece += mass / total * abs(conf - acc)
        table.append({"bin": f"{lo:.1f}-{hi:.1f}", "n": len(inside), "confidence": conf, "accuracy": acc})
    return {"ece": ece, "bins": table}


def lexical_gap(entries: dict[str, list[str]], rows: Sequence[Example],
                outcomes: Sequence[Outcome]) -> dict[str, float]:
    """How many in-scope questions share no content word (stemmed) with any phrasing of their own entry, and
    how often they are still answered right: the part of a setting no lexical matcher can be expected to get."""
    vocab = {intent: {stem(w) for t in texts for w in normalize(t).split() if w not in STOPWORDS}
             for intent, texts in entries.items()}
    apart = [o for (text, gold), o in zip(rows, outcomes) if gold != "oos"
             and not {stem(w) for w in normalize(text).split() if w not in STOPWORDS} & vocab[gold]]
    inscope = sum(1 for _, gold in rows if gold != "oos")
    return {"share": len(apart) / max(inscope, 1),
            "top1_on_them": sum(1 for g, p, _, _ in apart if p == g) / max(len(apart), 1)}


def balanced_weights(outcomes: Sequence[Outcome]) -> list[float]:
    """Weights that give out-of-scope questions half of the total, the mix the confidence is fitted for."""
    n_oos = sum(1 for o in outcomes if o[0] == "oos")
    ratio = (len(outcomes) - n_oos) / n_oos if n_oos else 1.0
    return [ratio if o[0] == "oos" else 1.0 for o in outcomes]


def evaluate(key: str, per_intent: int, data: dict[str, list[Example]], *, smoke: bool) -> dict[str, Any]:
    system = FACTORIES[key]()
    entries = intents(data["train"], per_intent)
    sample = SMOKE_PER_SPLIT.get(key, SMOKE_DEFAULT) if smoke else SAMPLES.get((key, per_intent))
    start = time.perf_counter()
    system.build(entries)
    build = time.perf_counter() - start
    val = run_system(system, queries(data, "val", sample), f"{system.name} {per_intent}/intent val")
    test_rows = queries(data, "test", sample)
    test = run_system(system, test_rows, f"{system.name} {per_intent}/intent test")
    threshold = best_threshold(val)
    acc, rec = rates(test, threshold)
    inscope = [o for o in test if o[0] != "oos"]
    result: dict[str, Any] = {
        "system": system.name, "key": key, "per_intent": per_intent, "phrasings": sum(map(len, entries.values())),
        "sample": sample, "val_queries": len(val), "test_queries": len(test),
        "top1": sum(1 for g, p, _, _ in inscope if p == g) / max(len(inscope), 1),
        "threshold": threshold, "inscope_acc": acc, "oos_recall": rec, "balanced": (acc + rec) / 2,
        "val_balanced": sum(rates(val, threshold)) / 2, "build_s": build,
        "p50_ms": percentile([o[3] for o in test], 50) * 1000, "p99_ms": percentile([o[3] for o in test], 99) * 1000,
    }
    if key == "faqbot":
        result["calibration"] = {split: reliability([(s, p == g) for g, p, s, _ in rows])
                                 for split, rows in (("val", val), ("test", test))}
        result["lexical_gap"] = lexical_gap(entries, test_rows, test)
        result["calibration_balanced"] = {
            split: reliability([(s, p == g) for g, p, s, _ in rows], weights=balanced_weights(rows))
            for split, rows in (("val", val), ("test", test))}
    return result


# --- fitting faqbot's confidence on val ------------------------------------------------------------------

def _features(engine: Any, text: str) -> list[tuple[list[float], str]]:
    """Confidence features of the top two candidates: the runner-up shows what a negative lead means."""
    rows = []
    for c in engine.rank(text, limit=2):
        parts = dict(c.why.parts)
        lead = parts["margin"] * parts["coverage"] * parts["known"]
        rows.append(([lead, parts["coverage"], parts["known"], parts["fuzzy"]], c.entry.id))
    return rows


def fit_confidence(data: dict[str, list[Example]], *, smoke: bool = False) -> EngineOptions:
    """Logistic regression of "this candidate is right" on (margin * coverage * known, coverage, known, fuzzy) for the
    top two candidates of each question, on val of both settings (see ``Engine.confidence``)."""
    xs: list[list[float]] = []
    ys: list[float] = []
    weights: list[float] = []
    for per_intent in SETTINGS:
        system = Faqbot()
        system.build(intents(data["train"], per_intent))
        rows = queries(data, "val", SMOKE_DEFAULT if smoke else None)
        n_oos = sum(1 for _, gold in rows if gold == "oos") or 1
        # In-scope and out-of-scope weigh the same in total: CLINC's val is 97% in-scope, a visitor's chat is not.
        oos_weight = (len(rows) - n_oos) / n_oos
        for text, gold in progress(rows, len(rows), f"fit features {per_intent}/intent val"):
            for x, pred in _features(system.engine, text):
                xs.append(x)
                ys.append(1.0 if pred == gold else 0.0)
                weights.append(oos_weight if gold == "oos" else 1.0)
    k = 5  # bias, lead, coverage, known, fuzzy; Newton's method on the weighted log-loss
    w = [0.0] * k
    for _ in range(25):
        grad = [0.0] * k
        hess = [[0.0] * k for _ in range(k)]
        for x, y, weight in zip(xs, ys, weights):
            v = [1.0, *x]
            p = 1 / (1 + math.exp(-max(-60.0, min(60.0, sum(a * b for a, b in zip(w, v))))))
            for i in range(k):
                grad[i] += weight * (p - y) * v[i]
                for j in range(k):
                    hess[i][j] += weight * p * (1 - p) * v[i] * v[j] + (1e-6 if i == j else 0.0)
        w = [a - b for a, b in zip(w, _solve(hess, grad))]
    return replace(EngineOptions(), confidence_bias=w[0], confidence_lead=w[1], confidence_coverage=w[2],
                   confidence_known=w[3], confidence_fuzzy=w[4])


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        pivot = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[pivot] = m[pivot], m[c]
        for r in range(n):
            if r != c:
                f = m[r][c] / m[c][c]
                m[r] = [x - f * y for x, y in zip(m[r], m[c])]
    return [m[i][n] / m[i][i] for i in range(n)]


ABLATIONS: dict[str, dict[str, Any]] = {
    "faqbot as shipped": {}, "no perceptron pass (centroids only)": {"epochs": 0},
    "no character n-grams": {"chars": 0.0}, "no fuzzy and no coverage term": {"fuzzy": 0.0, "coverage": 0.0},
    "no posting pruning": {"prune": 0.0},
}


def ablate(data: dict[str, list[Example]], *, smoke: bool = False) -> list[dict[str, Any]]:
    """Val top-1 (in-scope val questions, no threshold) with one engine option changed: what each part is worth."""
    rows = data["val"][:SMOKE_DEFAULT] if smoke else data["val"]
    out = []
    for per_intent in SETTINGS[-1:] if smoke else SETTINGS:
        entries = intents(data["train"], per_intent)
        for name, change in ABLATIONS.items():
            system = Faqbot(replace(EngineOptions(), **change))
            system.build(entries)
            outcomes = run_system(system, rows, f"ablation {per_intent}/intent: {name}")
            out.append({"per_intent": per_intent, "variant": name, "change": change,
                        "val_top1": sum(1 for g, p, _, _ in outcomes if p == g) / len(outcomes),
                        "p50_ms": percentile([o[3] for o in outcomes], 50) * 1000})
            print(f"{per_intent:>3}/intent {name:<38} val top-1 {out[-1]['val_top1']:.1%}  "
                  f"p50 {out[-1]['p50_ms']:.3f} ms", flush=True)
    return out


def main(*, smoke: bool = False, systems: Sequence[str] = tuple(FACTORIES), fit: bool = False,
         ablation: bool = False) -> dict[str, Any]:
    data = load_clinc(smoke=smoke)
    if ablation:
        record = stamp("ablation", {"smoke": smoke, "results": ablate(data, smoke=smoke)})
        if not smoke:
            save(record)
        return record
    if fit:
        o = fit_confidence(data, smoke=smoke)
        print(f"confidence_bias={o.confidence_bias:.3f}, confidence_lead={o.confidence_lead:.3f}, "
              f"confidence_coverage={o.confidence_coverage:.3f}, confidence_known={o.confidence_known:.3f}, "
              f"confidence_fuzzy={o.confidence_fuzzy:.3f}")
        return {}
    results: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    for per_intent in SETTINGS[-1:] if smoke else SETTINGS:
        for key in systems:
            why = available(key)
            if why:
                skipped[key] = why
                continue
            results.append(evaluate(key, per_intent, data, smoke=smoke))
            r = results[-1]
            print(f"{per_intent:>3}/intent {r['system']:<18} top1 {r['top1']:.1%}  in-scope {r['inscope_acc']:.1%}  "
                  f"OOS {r['oos_recall']:.1%}  balanced {r['balanced']:.1%}  p50 {r['p50_ms']:.2f} ms", flush=True)
    out = stamp("quality", {"smoke": smoke, "results": results, "skipped": skipped,
                            "options": vars(EngineOptions())})
    if not smoke:
        save(merge(out, key=lambda r: (r["key"], r["per_intent"]),
                   order=lambda r: (-r["per_intent"], list(FACTORIES).index(r["key"]))))
    return out
