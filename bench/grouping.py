"""Grouping logged questions by meaning: which linkage and cosine threshold put paraphrases together and keep
topics apart.

``python -m bench.grouping [--smoke]``: two stand-ins for a log, each a set of questions labelled with what they
ask: CLINC150 in-scope utterances (150 intents across many domains) and the default KB's visitor suites (one
domain, where every question shares words like "ketamine", the case a clinic's log is). Questions are grouped
with ``faqbot.grouping.group``; B-cubed precision/recall against the labels is measured on the dev sets (CLINC150
val, tests-visitors.yaml) and reported on the held-out ones (CLINC150 test, tests-holdout.yaml). Linkage and
threshold are chosen by the worse of the two dev sets' F0.5 (the setting that holds up on both kinds of log); F0.5
because a wrong merge files a visitor's question under another entry's answer, so precision weighs double.
"""

from __future__ import annotations

import argparse
import random

from faqbot.bot import load_encoder
from faqbot.grouping import group
from faqbot.suite import load_suite

from . import ROOT, load_clinc, save, stamp

THRESHOLDS = (0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)


def sample(split: list[tuple[str, str]], *, intents: int, per_intent: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    by: dict[str, list[str]] = {}
    for text, intent in split:
        if intent != "oos":
            by.setdefault(intent, []).append(text)
    chosen = rng.sample(sorted(by), min(intents, len(by)))
    return [(t, i) for i in chosen for t in rng.sample(by[i], min(per_intent, len(by[i])))]


LINKAGES = ("complete", "centroid")


def suite_questions(name: str) -> list[tuple[str, str]]:
    """The suite's one-shot cases that expect an entry (answers and declared gaps), labelled by that entry."""
    cases, _ = load_suite(ROOT / "knowledge" / f"{name}.yaml")
    types = {"fallback", "crisis", "referral", "clarify", "smalltalk", "concern", "more"}
    return [(c.question, c.expect) for c in cases if c.expect not in types and ":" not in c.expect
            and "+" not in c.expect]


def bcubed(rows: list[tuple[str, str]], encode: object, *, linkage: str = "complete",
           threshold: float | None = None) -> dict[str, float]:
    """B-cubed precision, recall, F1 and F0.5 of the groups against the labels, and the number of groups."""
    label = {" ".join(t.split()): i for t, i in rows}
    groups = group([(t, 0.0, None, None) for t, _ in rows], encode=encode if threshold else None,
                   meaning=threshold or 1.0, linkage=linkage)
    size: dict[str, int] = {}
    for _, i in rows:
        size[i] = size.get(i, 0) + 1
    precision = recall = 0.0
    n = 0
    for g in groups:
        labels = [label[t] for t, k in g.texts for _ in range(k)]
        for lab in labels:
            same = labels.count(lab)
            precision += same / len(labels)
            recall += same / size[lab]
            n += 1
    p, r = precision / n, recall / n
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r), 4),
            "f0.5": round(1.25 * p * r / (0.25 * p + r), 4), "groups": len(groups), "questions": n}


def main(*, smoke: bool = False) -> dict[str, object]:
    data = load_clinc(smoke=smoke)
    encode = load_encoder("default").encode
    size = {"intents": 10, "per_intent": 8} if smoke else {"intents": 40, "per_intent": 20}
    dev = {"clinc150 val": sample(data["val"], seed=1, **size), "tests-visitors": suite_questions("tests-visitors")}
    held = {"clinc150 test": sample(data["test"], seed=2, **size), "tests-holdout": suite_questions("tests-holdout")}
    result: dict[str, object] = {"clinc_sample": size, "dev": {}, "holdout": {}}
    worst: dict[str, float] = {}
    for name, rows in dev.items():
        runs = {"spelling only": bcubed(rows, encode)}
        for linkage in LINKAGES:
            for t in THRESHOLDS:
                key = f"{linkage} {t}"
                runs[key] = bcubed(rows, encode, linkage=linkage, threshold=t)
                worst[key] = min(worst.get(key, 1.0), runs[key]["f0.5"])
        result["dev"][name] = runs  # type: ignore[index]
        for key, score in runs.items():
            print(f"dev  {name:<15} {key:<15} {score}")
    best = max(worst, key=lambda k: worst[k])
    linkage, threshold = best.split()
    result["chosen"] = {"linkage": linkage, "threshold": float(threshold), "worst_dev_f0.5": round(worst[best], 4)}
    print("chosen:", result["chosen"])
    for name, rows in held.items():
        runs = {"spelling only": bcubed(rows, encode),
                best: bcubed(rows, encode, linkage=linkage, threshold=float(threshold))}
        result["holdout"][name] = runs  # type: ignore[index]
        for key, score in runs.items():
            print(f"held {name:<15} {key:<15} {score}")
    if not smoke:
        save(stamp("grouping", result))
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="python -m bench.grouping", description=__doc__)
    ap.add_argument("--smoke", action="store_true")
    main(smoke=ap.parse_args().smoke)
