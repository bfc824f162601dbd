"""Safety triage: crisis recall and false alarms per category, rules vs classifier vs both, tuning vs holdout.

``python -m bench safety`` evaluates the shipped policy; ``--fit`` first trains the risk classifier on
tests/data/safety_train.yaml, safety_train2.yaml and safety_train4.yaml, the older tests/data/safety_cases.yaml,
everyday CLINC150 *train* sentences and the KB's and the visitor dev split's questions, chooses its thresholds on
5-fold cross-validated predictions of that training data (recall first), and writes faqbot/data/risk-model.json;
``--fit --line`` does the same without safety_train4.yaml and writes the line-only second opinion,
faqbot/data/risk-model-line.json; ``--fit --referral`` the main recipe with ``REFERRAL_TRAINING`` added, for the
referral opinion, faqbot/data/risk-model-referral.json (only its referral score is read). The main model also trains on the old holdouts read as dev since (``RETIRED``);
the holdouts (``HOLDOUTS``, each written blind before a round of tuning or its check) are never used to fit or choose
anything.
"""

from __future__ import annotations

import random
import time
import zlib
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from faqbot.analysis import Analysis, Analyzer
from faqbot.classifier import (CHAR_BUCKETS, CLASSES, DEFAULT_MODEL, LINE_MODEL, REFERRAL_MODEL, CharModel,
                               RiskClassifier, char_grams)
from faqbot.encoder import Encoder
from faqbot.knowledge import bundled_path, load
from faqbot.safety import Risk, RiskPolicy, Verdict
from faqbot.semantic import VectorCache
from faqbot.suite import load_suite

from . import ROOT, load_clinc, percentile, save, stamp
from .fusion import CACHE

DATA = ROOT / "tests" / "data"
TRAIN = DATA / "safety_train.yaml"
# Round four, written by a helper who saw no rule and no holdout. Its second file, safety_train3.yaml (discouraged
# visitors' questions, crises that ask a question), is not read: a refit with it was measured on holdout 5 and not
# shipped (docs/safety.md).
TRAIN2 = DATA / "safety_train2.yaml"
# Round five: contrast pairs, a crisis and an ordinary message sharing their alarming words ("my allergy pills before
# the pharmacy closes tonight"), by a helper who read no project file. The main model is fitted with them; the line
# model (``--fit --line``, the fourth model) without them, since alone the main one let a few crisis lines go.
TRAIN4 = DATA / "safety_train4.yaml"
# Round six: ordinary messages of the kinds the classifier read as a crisis (discouraged questions, their short
# clauses on their own, idioms, grief as background, goodbyes) and crises beside a clinic question, by a helper who
# read no project file. With ``beside_questions`` and the word runs of the spelling view (docs/safety.md).
TRAIN5 = DATA / "safety_train5.yaml"
# Round six too: ordinary clinic questions and crises in fourteen languages besides English and Spanish (the English
# encoder read "wie lange dauert das ganze?" as a plea), by a helper who read no project file.
MULTILINGUAL = DATA / "safety_multilingual.yaml"
# Round seven: ordinary talk of time ("who won the football last night", "the big day"), everyday sentences with
# alarming words, plans and goodbyes, and crises that name a time or a plan in the same registers, by a helper who
# read no project file, after the seventh model (trained on the retired holdouts' timing crises) read ordinary talk of
# last night as a crisis. Not read: a refit with it was measured on holdout 13 and not shipped, and one with only its
# ordinary messages and the visitor holdouts' questions on holdout 15, not shipped either (docs/safety.md).
TRAIN6 = DATA / "safety_train6.yaml"
OLD = DATA / "safety_cases.yaml"
VISITORS = ROOT / "knowledge" / "tests-visitors.yaml"
# Never fitted on nor used to choose anything; each written blind (by someone who read no project file) before the
# round of tuning or the check it measures.
HOLDOUTS = {"holdout16": DATA / "safety_holdout16.yaml",  # the eighth model's check
            "holdout17": DATA / "safety_holdout17.yaml",  # the check of its rejected refit (R9, docs/safety.md)
            "referral3": DATA / "referral_holdout3.yaml",  # medical questions: the same refit's referral check
            "referral4": DATA / "referral_holdout4.yaml",  # and the referral opinion's
            "referral_es": DATA / "referral_holdout_es.yaml"}  # Spanish medical questions: the Spanish change's
# The referral opinion (``--fit --referral``, faqbot/data/risk-model-referral.json) is the main recipe fitted with these
# too: holdout 16 and the first two referral holdouts, read as dev or checks in the eighth round.
REFERRAL_TRAINING = {"holdout16": DATA / "safety_holdout16.yaml", "referral": DATA / "referral_holdout.yaml",
                     "referral2": DATA / "referral_holdout2.yaml"}
# Sets written blind as holdouts, then read as dev in the rounds after theirs (their misses were looked at, bars were
# chosen on them): since the seventh round the main model trains on them (docs/safety.md), so they are reported with
# the training data, never as holdouts. dev3 was a dev set from the start; holdouts 10 and 11 hold one- and two-word
# messages, 14 one to four words. Holdouts 8-15 joined in the eighth round.
RETIRED = {"holdout": DATA / "safety_holdout.yaml", "holdout2": DATA / "safety_holdout2.yaml",
           "holdout3": DATA / "safety_holdout3.yaml", "holdout4": DATA / "safety_holdout4.yaml",
           "holdout5": DATA / "safety_holdout5.yaml", "holdout6": DATA / "safety_holdout6.yaml",
           "holdout7": DATA / "safety_holdout7.yaml", "holdout10": DATA / "safety_holdout10.yaml",
           "dev3": DATA / "safety_dev3.yaml",
           **{f"holdout{n}": DATA / f"safety_holdout{n}.yaml" for n in (8, 9, 11, 12, 13, 14, 15)}}
EVERYDAY_TRAIN = 3000
EVERYDAY_EVAL = 2000
CRISIS_BUDGET = 0.01  # everyday sentences the classifier alone may send a crisis reply (cross-validated)
CONCERN_BUDGET = 0.10  # everyday sentences that may get the crisis line attached to their answer
IMMINENT = ("plan", "means", "timing", "overdose-in-progress")
Item = tuple[str, str, str]  # text, label (crisis, concern, negative, referral), category


def read(path: Path) -> list[Item]:
    """A safety YAML file as (text, label, category); the older file's keys are mapped onto today's labels."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    label_of = {"crisis": "crisis", "concern": "concern", "negative": "negative", "referral": "referral",
                "near_miss": "negative", "general": "negative", "spanish-negative": "negative",
                "fragment-negative": "negative"}
    out = []
    for key, items in doc.items():
        for item in items or []:
            text, category = (item["text"], item.get("category", key)) if isinstance(item, dict) else (item, key)
            if key in label_of:
                out.append((str(text), label_of[key], str(category)))
    return out


def everyday(split: str, n: int) -> list[Item]:
    rows = load_clinc()[split]
    return [(t, "negative", "everyday-clinc") for t, _ in random.Random(0).sample(rows, n)]


# Written negatives whose every clause is ordinary too: a history ("i tried to end it in 2015"), grief or statistics
# may hold a clause that alone reads as danger, so they are not cut up or joined to a question.
ORDINARY = frozenset(("idiom", "everyday", "pleasantries-and-farewells", "everyday-alarming", "discouraged-question",
                      "family-distress", "medical-routine", "everyday-time", "spanish-everyday",
                      "other-language-negative", "relapse-talk", "pleasantries"))
BESIDE = 400  # crisis and ordinary messages each joined to a clinic question
QUESTION_PAIRS = 400  # messages of two or three clinic questions


def beside_questions(items: Sequence[Item]) -> list[Item]:
    """Crisis and ordinary messages each joined to one of the KB's questions, before or after it: a visitor writes
    "how much is it. i wont be here by friday" and "how much is it. sick of being sick", and the meaning of the whole
    must still tell them apart (a question beside a crisis pulls a message's vector towards the ordinary). The same
    every run."""
    rng = random.Random(1)
    questions = [t for t, _, category in items if category == "kb-question"]
    crisis = [t for t, label, category in items if label == "crisis" and category != "spanish"]
    ordinary = [t for t, label, category in items if label == "negative" and category in ORDINARY]
    out: list[Item] = []
    for pool, label in ((crisis, "crisis"), (ordinary, "negative")):
        for text in rng.sample(pool, min(BESIDE, len(pool))):
            question = rng.choice(questions)
            out.append((f"{question} {text}" if rng.random() < 0.5 else f"{text}. {question}", label, "beside-question"))
    # Two or three questions in one message are ordinary too: without them, any message of several sentences with a
    # question in it leans to the crisis side ("who gives it? and can i text you to book").
    joins = ("? ", ". ", " and ", ", also ", "? and ", " + ", ". oh and ")
    for _ in range(QUESTION_PAIRS):
        parts = rng.sample(questions, rng.choice((2, 2, 3)))
        out.append((rng.choice(joins).join(parts), "negative", "beside-question"))
    return out


def training_items(kb: Any, *, smoke: bool = False, line: bool = False, referral: bool = False) -> list[Item]:
    """What the classifier is fitted on (``line``: the fourth model's recipe, for the line-only second opinion;
    ``referral``: the main recipe with more personal medical questions, for the referral opinion)."""
    train = (read(TRAIN) + read(TRAIN2) + read(OLD) + ([] if line else read(TRAIN4))
             + everyday("train", 200 if smoke else EVERYDAY_TRAIN) + kb_questions(kb) + visitor_questions())
    if not line:
        train += read(TRAIN5) + beside_questions(train)
        train += read(MULTILINGUAL)
        train += [item for path in RETIRED.values() for item in read(path)]
    if referral:
        train += [item for path in REFERRAL_TRAINING.values() for item in read(path)]
    return train


def kb_questions(kb: Any) -> list[Item]:
    """The questions a clinic's FAQ is asked, as ordinary messages: talk of addiction is not distress."""
    questions = [t for e in kb.entries for t in e.texts] + [t for item in kb.smalltalk for t in item.phrasings]
    return [(t, "negative", "kb-question") for t in questions]


def visitor_questions() -> list[Item]:
    """The visitor dev split (knowledge/tests-visitors.yaml), labelled by what it expects: how visitors word their
    questions about the treatment, which the classifier must not read as a crisis or a medical question. Never the
    answer suite (tests.yaml) nor a holdout."""
    cases, conversations = load_suite(VISITORS)
    label = {"crisis": "crisis", "concern": "concern", "referral": "referral"}
    return [(c.question, label.get(c.expect, "negative"), "kb-question" if c.expect not in label else "visitor")
            for c in [*cases, *(t for turns in conversations for t in turns)]]


def analyse(encoder: Encoder, cache: VectorCache, items: Sequence[Item]) -> list[Analysis]:
    plain = Analyzer()
    vectors = cache.embed(encoder, [t.strip().lower() for t, _, _ in items])
    cache.save()
    out = []
    for (text, _, _), vec in zip(items, vectors):
        a = plain.analyze(text)
        out.append(Analysis(a.text, a.folded, a.norm, a.words, a.language, vec))
    return out


HIDDEN_UNITS = 256  # a small ReLU layer: cross-validated on the training data it beat the linear model's recall
                   # at the same everyday false-alarm budget (see docs/safety.md)
CLASS_WEIGHTS = {0: 1.0, 1: 1.5, 2: 3.0, 3: 1.5}  # crisis errors are the costly ones: the boundary leans to recall
LABELS = {"crisis": 2, "concern": 1, "referral": 3}  # everything else is 0, none
WORD_RUNS = 3  # the spelling view of ``+words`` counts runs of two and three words too ("bit the bullet")
REFERRAL_BUDGET = 0.01  # everyday sentences and KB questions the classifier alone may send to a clinician


def fit_model(x: Any, y: Sequence[int], *, kind: str = "mlp") -> dict[str, Any]:
    """The classifier's parameters (``weights``, ``bias`` and, for ``mlp``, ``hidden``) fitted on ``x``, ``y``."""
    ya = np.asarray(y)
    if kind == "linear":
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=4.0, max_iter=3000, class_weight=CLASS_WEIGHTS).fit(x, ya)
        return {"weights": model.coef_, "bias": model.intercept_, "hidden": None}
    from sklearn.neural_network import MLPClassifier

    mlp = MLPClassifier(hidden_layer_sizes=(HIDDEN_UNITS,), alpha=1e-2, max_iter=300, early_stopping=True,
                        random_state=0)
    mlp.fit(x, ya, sample_weight=np.vectorize(CLASS_WEIGHTS.get)(ya).astype(float))
    return {"weights": mlp.coefs_[1].T, "bias": mlp.intercepts_[1],
            "hidden": (mlp.coefs_[0].T, mlp.intercepts_[0])}


def fit_chars(texts: Sequence[str], y: Sequence[int], *, words: int = 1) -> CharModel:
    """The spelling view: logistic regression on the tf-idf of each message's ``char_grams``, weighted as at run
    time by ``CharModel.weighted`` (the same function, so fitting and answering cannot drift apart)."""
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    grams = [char_grams(t, words=words) for t in texts]
    df = np.zeros(CHAR_BUCKETS)
    for g in grams:
        df[list(g)] += 1
    idf = (np.log((1 + len(grams)) / (1 + df)) + 1).astype(np.float32)
    rows, cols, vals = [], [], []
    for r, g in enumerate(grams):
        index, values = CharModel.weighted(g, idf)
        rows += [r] * len(index)
        cols += index
        vals += values.tolist()
    x = csr_matrix((vals, (rows, cols)), shape=(len(grams), CHAR_BUCKETS))
    model = LogisticRegression(C=10.0, max_iter=3000, class_weight=CLASS_WEIGHTS).fit(x, np.asarray(y))
    return CharModel(weights=model.coef_, bias=model.intercept_, idf=idf, words=words)


def _probabilities(params: dict[str, Any], x: Any, texts: Sequence[str] | None = None) -> Any:
    return RiskClassifier(encoder_id="", crisis=1, foreign_crisis=1, concern=1, concern_from_crisis=1,
                          **params).probabilities(x, texts)


def fit_all(x: Any, y: Sequence[int], texts: Sequence[str], *, kind: str) -> dict[str, Any]:
    """The classifier's parameters: the meaning view (``mlp`` or ``linear``), and with ``+chars`` the spelling view
    (``+chars+words``: with runs of up to ``WORD_RUNS`` words beside the letters)."""
    meaning, _, spelling = kind.partition("+")
    params = fit_model(x, y, kind=meaning)
    if spelling:
        params["chars"] = fit_chars(texts, y, words=WORD_RUNS if spelling.endswith("+words") else 1)
    return params


def cross_validated(x: Any, y: Sequence[int], texts: Sequence[str], *, kind: str = "mlp+chars", folds: int = 5,
                    groups: Sequence[int] | None = None) -> Any:
    """Out-of-fold class probabilities; items of one group (a message and its misspelt copy) share a fold, so a
    copy never tells the model the answer for its own original."""
    ya = np.asarray(y)
    g = np.arange(len(ya)) if groups is None else np.asarray(groups)
    order = np.arange(int(g.max()) + 1)
    np.random.default_rng(0).shuffle(order)
    fold_of = np.empty_like(order)
    fold_of[order] = np.arange(len(order)) % folds
    probs = np.zeros((len(ya), len(CLASSES)))
    for k in range(folds):
        test = np.flatnonzero(fold_of[g] == k)
        train = np.flatnonzero(fold_of[g] != k)
        params = fit_all(x[train], ya[train], [texts[i] for i in train], kind=kind)
        probs[test] = _probabilities(params, x[test], [texts[i] for i in test])
    return probs


def _misspelt(text: str) -> str:
    """The message typed in a hurry: about one dropped, swapped or doubled letter in 25, the same every run."""
    rng = random.Random(zlib.crc32(text.encode("utf-8")))
    chars = list(text.lower())
    for _ in range(max(1, len(chars) // 25)):
        if len(chars) < 4:
            break
        i, op = rng.randrange(len(chars) - 1), rng.random()
        if op < 0.4:
            del chars[i]
        elif op < 0.7:
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        else:
            chars.insert(i, chars[i])
    return "".join(chars)


def misspelt_copies(items: Sequence[Item]) -> list[tuple[Item, int]]:
    """A misspelt copy of every written message (not the CLINC sentences), with the index of its original: people
    in distress type fast, and the encoder reads "kil myslef" further from "kill myself" than a reader does.
    Cross-validated, one copy each raised crisis recall at the same everyday budget (docs/safety.md)."""
    return [((_misspelt(text), label, category), i) for i, (text, label, category) in enumerate(items)
            if category != "everyday-clinc"]


def _lowest(probs: Any, everyday: Any, budget: float) -> float:
    """The lowest threshold whose false alarms on everyday sentences stay within ``budget``."""
    best = 0.99
    for t in np.arange(0.99, 0.004, -0.005):
        if float((probs[everyday] >= t).mean()) > budget:
            break
        best = float(t)
    return best


def _best_f(scores: Any, positive: Any, negative: Any, grid: Any, *, beta: float, default: float) -> float:
    """The threshold of ``grid`` (tried in its order; the first of equals wins) with the best F-beta of the
    ``positive`` messages against the ``negative`` ones."""
    b2, n = beta * beta, int(positive.sum())
    best_f, best = -1.0, default
    for t in grid:
        tp = int((scores[positive] >= t).sum())
        fp = int((scores[negative] >= t).sum())
        f = (1 + b2) * tp / max((1 + b2) * tp + fp + b2 * (n - tp), 1)
        if f > best_f:
            best_f, best = f, float(t)
    return best


def choose_thresholds(items: Sequence[Item], found: Sequence[Analysis], probs: Any,
                      rules: RiskPolicy) -> dict[str, float]:
    """Graded and recall first, on cross-validated training predictions. A crisis reply replaces the answer, so
    the classifier alone calls a crisis only where everyday sentences are rarely flagged (CRISIS_BUDGET); below
    that, down to where CONCERN_BUDGET of everyday sentences are flagged, the message gets the answer with the
    crisis line attached (a false alarm that still answers costs little). Foreign messages, which the English
    rules cannot read, get the crisis reply at the concern threshold."""
    labels = np.array([label for _, label, _ in items])
    everyday = np.array([category in ("everyday-clinc", "kb-question") for _, _, category in items])
    crisis_p = probs[:, 2]
    visitors = np.array([category == "kb-question" for _, _, category in items])
    crisis = _lowest(crisis_p, everyday, CRISIS_BUDGET)
    from_crisis = _lowest(crisis_p, everyday, CONCERN_BUDGET)
    concern_t = _best_f(probs[:, 1], labels == "concern", np.isin(labels, ("negative", "referral")),
                        np.arange(0.9, 0.09, -0.02), beta=1.0, default=0.5)
    # Referral by meaning: the best F0.5 of referral against the other non-crisis messages, within the budget on
    # everyday sentences. A referral replaces the answer, so precision weighs more than recall here (the rules
    # still refer the forms they word).
    referral_p = probs[:, 3]
    floor = _lowest(referral_p, everyday, REFERRAL_BUDGET)
    is_ref = labels == "referral"
    referral = _best_f(referral_p, is_ref, (labels != "crisis") & ~is_ref, np.arange(0.99, floor - 1e-9, -0.01),
                       beta=0.5, default=0.99)
    ruled = np.array([rules.assess(a).risk is Risk.CRISIS for a in found])
    is_crisis = labels == "crisis"
    outright = ruled | (crisis_p >= crisis)
    graded = outright | (crisis_p >= from_crisis)
    print(f"cross-validated: crisis reply for {outright[is_crisis].mean():.1%} of crisis messages, crisis reply or "
          f"crisis line for {graded[is_crisis].mean():.1%}; everyday sentences flagged "
          f"{(crisis_p[everyday] >= crisis).mean():.1%} / {(crisis_p[everyday] >= from_crisis).mean():.1%}")
    print(f"cross-validated: visitor and KB questions flagged {(crisis_p[visitors] >= crisis).mean():.2%} at the "
          f"crisis threshold {crisis:.3f}")
    hard = (labels == "negative") & ~everyday
    print(f"cross-validated: hard negatives flagged {(crisis_p[hard] >= crisis).mean():.1%}; referral by meaning "
          f"at {referral:.2f}: {(referral_p[is_ref] >= referral).mean():.1%} of referral questions, "
          f"{(referral_p[everyday] >= referral).mean():.1%} of everyday sentences")
    return {"crisis": round(crisis, 3), "foreign_crisis": round(from_crisis, 3), "concern": round(concern_t, 3),
            "concern_from_crisis": round(from_crisis, 3), "referral": round(referral, 3)}


def score(items: Sequence[Item], found: Sequence[Analysis], policy: RiskPolicy) -> dict[str, Any]:
    """Per label and category: crisis recall (crisis items), false crisis alarms (the rest), referral hits."""
    by: dict[tuple[str, str], list[Verdict]] = defaultdict(list)
    for (_, label, category), a in zip(items, found):
        by[label, category].append(policy.assess(a))
    out: dict[str, Any] = {}

    def counts(verdicts: Sequence[Verdict]) -> dict[str, Any]:
        crisis = sum(v.risk is Risk.CRISIS for v in verdicts)
        # "line": what shows the crisis line at all, the crisis reply, a concern, or a referral with the line.
        return {"n": len(verdicts), "crisis": crisis, "share_crisis": crisis / len(verdicts),
                "referral": sum(v.risk is Risk.REFERRAL for v in verdicts),
                "concern": sum(v.risk is Risk.CONCERN for v in verdicts),
                "line": sum(v.risk in (Risk.CRISIS, Risk.CONCERN) or v.line for v in verdicts)}

    for (label, category), verdicts in sorted(by.items()):
        out[f"{label}/{category}"] = counts(verdicts)
    for label in ("crisis", "concern", "negative", "referral"):
        verdicts = [v for (lab, _), vs in by.items() if lab == label for v in vs]
        if verdicts:
            out[label] = counts(verdicts)
    return out


def main(*, smoke: bool = False, do_fit: bool = False, kind: str = "", line: bool = False,
         referral: bool = False) -> dict[str, Any]:
    encoder = Encoder.load()
    cache = VectorCache(CACHE, encoder.id)
    kb = load(bundled_path())
    # The line model is the fourth model's recipe: no contrast pairs, no round-six data, letters only.
    kind = kind or ("mlp+chars" if line else "mlp+chars+words")
    train = training_items(kb, smoke=smoke, line=line, referral=referral)
    holdouts = {name: read(path) for name, path in {**RETIRED, **HOLDOUTS}.items() if path.is_file()}
    daily = everyday("test", 100 if smoke else EVERYDAY_EVAL)
    if smoke:
        train = random.Random(0).sample(train, 400)
    found_train = analyse(encoder, cache, train)
    found_holds = {name: analyse(encoder, cache, items) for name, items in holdouts.items()}
    found_daily = analyse(encoder, cache, daily)
    rules = RiskPolicy(lexicon=kb.risk, texts=kb.settings.safety)
    if do_fit:
        copies = misspelt_copies(train)
        found_copies = analyse(encoder, cache, [item for item, _ in copies])
        x = np.stack([a.vector for a in [*found_train, *found_copies]])
        y = [LABELS.get(label, 0) for _, label, _ in [*train, *(item for item, _ in copies)]]
        groups = [*range(len(train)), *(source for _, source in copies)]
        texts = [text for text, _, _ in [*train, *(item for item, _ in copies)]]
        # Thresholds are chosen on the originals' out-of-fold predictions only.
        probs = cross_validated(x, y, texts, kind=kind, groups=groups)[: len(train)]
        thresholds = choose_thresholds(train, found_train, probs, rules)
        fitted = RiskClassifier(encoder_id=encoder.id, **fit_all(x, y, texts, kind=kind), **thresholds)
        if not smoke:
            import json
            out = LINE_MODEL if line else REFERRAL_MODEL if referral else DEFAULT_MODEL
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(fitted.to_dict()) + "\n", encoding="utf-8")
        print(f"fitted; thresholds chosen on 5-fold cross-validated training predictions: {thresholds}")
    model = RiskClassifier.load(DEFAULT_MODEL, encoder_id=encoder.id)
    second = RiskClassifier.load(LINE_MODEL, encoder_id=encoder.id) if LINE_MODEL.is_file() else None
    third = RiskClassifier.load(REFERRAL_MODEL, encoder_id=encoder.id) if REFERRAL_MODEL.is_file() else None
    if do_fit and smoke:
        if referral:
            third = fitted
        else:
            model, second = (model, fitted) if line else (fitted, second)
    assert model is not None
    clauses = Analyzer(encoder=encoder).analyze_many  # a worried message read clause by clause, as in the Bot
    classifier_only = RiskPolicy(lexicon=type(kb.risk)(), texts=kb.settings.safety, classifier=model, clauses=clauses,
                                 line_classifier=second, referral_classifier=third)
    both = RiskPolicy(lexicon=kb.risk, texts=kb.settings.safety, classifier=model, clauses=clauses,
                      line_classifier=second, referral_classifier=third)
    results: dict[str, Any] = {}
    for name, policy in (("rules", rules), ("classifier", classifier_only), ("both", both)):
        results[name] = {"tuning": score(train, found_train, policy),
                         **{split: score(holdouts[split], found_holds[split], policy) for split in holdouts},
                         "everyday_test": score(daily, found_daily, policy)}
    # The cost of the step on one message: the analysis with its vector (which the turn computes once and the
    # matcher uses too), then the policy (rules and classifier) on it.
    analyzer = Analyzer(encoder=encoder)
    analysed, policy_costs = [], []
    for text, _, _ in holdouts["holdout"][:200]:
        t0 = time.perf_counter()
        a = analyzer.analyze(text + " ")  # a fresh text: the vector cache must not hide the encoder
        t1 = time.perf_counter()
        both.assess(a)
        analysed.append(t1 - t0)
        policy_costs.append(time.perf_counter() - t1)
    whole = [x + y for x, y in zip(analysed, policy_costs)]
    cost = {"p50_ms": percentile(whole, 50) * 1000, "p99_ms": percentile(whole, 99) * 1000,
            "policy_p50_ms": percentile(policy_costs, 50) * 1000, "policy_p99_ms": percentile(policy_costs, 99) * 1000}
    for name in results:
        for split in ("tuning", *holdouts, "everyday_test"):
            r = results[name][split]
            crisis = r.get("crisis", {"n": 0, "crisis": 0})
            neg = r.get("negative", {"n": 0, "crisis": 0})
            print(f"{name:<10} {split:<13} crisis recall {crisis['crisis']}/{crisis['n']} "
                  f"(reply or line {crisis.get('line', 0)})  "
                  f"false crisis alarms {neg['crisis']}/{neg['n']}")
    for split in holdouts:
        for key, r in results["both"][split].items():
            if "/" in key:
                print(f"  {split:<8} both {key:<36} n={r['n']:<4} crisis={r['crisis']:<4} concern={r['concern']:<4} "
                      f"referral={r['referral']:<4} line={r['line']}")
    print(f"cost of the safety step (analysis + policy): p50 {cost['p50_ms']:.2f} ms, p99 {cost['p99_ms']:.2f} ms; "
          f"the policy alone on the turn's analysis: p50 {cost['policy_p50_ms']:.2f} ms, "
          f"p99 {cost['policy_p99_ms']:.2f} ms")
    record = stamp("safety", {"smoke": smoke, "model": model.to_dict()["thresholds"],
                              "line_model": second.to_dict()["thresholds"] if second else None, "results": results,
                              "cost": cost, "imminent": list(IMMINENT)})
    if not smoke:
        save(record)
    return record
