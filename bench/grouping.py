"""Grouping logged questions by meaning: which cosine threshold puts paraphrases together and keeps topics apart.

``python -m bench.grouping [--smoke]``: CLINC150 in-scope utterances stand in for a log (each intent is one
question asked many ways). Questions are grouped with ``faqbot.grouping.group`` at each threshold; B-cubed
precision/recall/F1 against the intents is measured on val and reported on test. The threshold is chosen on val
by F0.5: a wrong merge files a visitor's question under another entry's answer, so precision weighs double.
"""

from __future__ import annotations

import argparse
import random
import time

from faqbot.bot import load_encoder
from faqbot.grouping import group

from . import load_clinc, save, stamp

THRESHOLDS = (0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)


def sample(split: list[tuple[str, str]], *, intents: int, per_intent: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    by: dict[str, list[str]] = {}
    for text, intent in split:
        if intent != "oos":
            by.setdefault(intent, []).append(text)
    chosen = rng.sample(sorted(by), min(intents, len(by)))
    return [(t, i) for i in chosen for t in rng.sample(by[i], min(per_intent, len(by[i])))]


def bcubed(rows: list[tuple[str, str]], threshold: float | None, encode: object) -> dict[str, float]:
    """B-cubed precision, recall and F1 of the groups against the intents, and the number of groups."""
    intent = {" ".join(t.split()): i for t, i in rows}
    groups = group([(t, 0.0, None, None) for t, _ in rows], encode=encode if threshold else None,
                   meaning=threshold or 1.0)
    precision = recall = 0.0
    total = {i: sum(1 for _, j in rows if j == i) for _, i in rows}
    n = 0
    for g in groups:
        labels = [intent[t] for t, k in g.texts for _ in range(k)]
        for label in labels:
            same = sum(1 for x in labels if x == label)
            precision += same / len(labels)
            recall += same / total[label]
            n += 1
    p, r = precision / n, recall / n
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r), 4),
            "f0.5": round(1.25 * p * r / (0.25 * p + r), 4),
            "groups": len(groups), "questions": n}


def main(*, smoke: bool = False) -> dict[str, object]:
    data = load_clinc(smoke=smoke)
    encoder = load_encoder("default")
    size = {"intents": 10, "per_intent": 8} if smoke else {"intents": 40, "per_intent": 20}
    val = sample(data["val"], seed=1, **size)
    test = sample(data["test"], seed=2, **size)
    result: dict[str, object] = {"sample": size, "val": {}, "test": {}}
    for t in (None, *THRESHOLDS):
        start = time.perf_counter()
        score = bcubed(val, t, encoder.encode)
        score["seconds"] = round(time.perf_counter() - start, 2)
        result["val"][str(t or "spelling only")] = score  # type: ignore[index]
        print(f"val  {str(t or 'spelling only'):>13}: {score}")
    best = max(THRESHOLDS, key=lambda t: result["val"][str(t)]["f0.5"])  # type: ignore[index]
    result["chosen"] = best
    for t in (None, best):
        score = bcubed(test, t, encoder.encode)
        result["test"][str(t or "spelling only")] = score  # type: ignore[index]
        print(f"test {str(t or 'spelling only'):>13}: {score}")
    if not smoke:
        save(stamp("grouping", result))
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="python -m bench.grouping", description=__doc__)
    ap.add_argument("--smoke", action="store_true")
    main(smoke=ap.parse_args().smoke)
