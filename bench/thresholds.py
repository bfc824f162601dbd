"""Choose the default KB's answer/clarify/margin thresholds and its gap bar on both visitor dev splits; report the
holdout apart.

``python -m bench thresholds`` runs the dialog (safety, small talk, gaps, clarification: everything a visitor
meets) over ``knowledge/tests-visitors.yaml`` and ``tests-visitors2.yaml`` for each point of a small grid and
prints the best points by their summed cost. The
holdout (``knowledge/tests-holdout.yaml``) is run once, with the thresholds the KB ships, and never searched.
A wrong answer costs twice a fallback: a visitor who gets the wrong entry may believe it.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

from faqbot.bot import Bot
from faqbot.models import Thresholds
from faqbot.suite import MORE, Report, load_suite, run_suite

from . import ROOT, save, stamp

DEV = ROOT / "knowledge" / "tests-visitors.yaml"
DEV2 = ROOT / "knowledge" / "tests-visitors2.yaml"  # the second dev split (written blind), heavy in declared gaps
GAPS = (None, 0.25, 0.2, 0.15, 0.12, 0.1, 0.08, 0.05)
HOLDOUT = ROOT / "knowledge" / "tests-holdout.yaml"
DECLINES = ("fallback", "clarify", "gap", MORE)


def cost(report: Report) -> float:
    """Failures, with a wrong answer (an entry where a decline was expected, or another entry) counted twice."""
    total = 0.0
    for o in report.failures:
        declined = o.got.split("(")[0] in ("fallback", "clarify")
        total += 1.0 if declined else 2.0
    return total


def summarise(report: Report) -> dict[str, Any]:
    n = len(report.outcomes)
    fails = report.failures
    return {"cases": n, "passed": n - len(fails), "accuracy": round(report.accuracy, 3), "cost": cost(report),
            "declined": sum(o.got.split("(")[0] in ("fallback", "clarify") for o in fails),
            "wrong": sum(o.got.split("(")[0] not in ("fallback", "clarify") for o in fails)}


def with_thresholds(bot: Bot, t: Thresholds) -> Bot:
    bot.kb = replace(bot.kb, settings=replace(bot.kb.settings, thresholds=t))
    return bot


def both_splits(bot: Bot, *suites: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The summaries of the two dev splits, each given as (cases, conversations), under the bot's thresholds."""
    one, two = (summarise(run_suite(bot, cases, conversations)) for cases, conversations in suites)
    return one, two


def main(*, smoke: bool = False) -> dict[str, Any]:
    bot = Bot.load(ROOT / "knowledge")
    shipped = bot.kb.settings.thresholds
    dev_cases, dev_convs = load_suite(DEV)
    dev2_cases, dev2_convs = load_suite(DEV2)
    answers = (0.3, 0.4, 0.5) if smoke else (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6)
    clarify_gaps = (0.1,) if smoke else (0.0, 0.05, 0.1, 0.15, 0.2)
    margins = (0.1,) if smoke else (0.05, 0.1, 0.15, 0.2)
    grid = []
    # Both dev splits, summed: the second is heavy in several questions per message and in declared gaps.
    for a, g, m in itertools.product(answers, clarify_gaps, margins):
        t = Thresholds(answer=a, clarify=round(max(a - g, 0.05), 3), margin=m, gap=shipped.gap)
        with_thresholds(bot, t)
        one, two = both_splits(bot, (dev_cases, dev_convs), (dev2_cases, dev2_convs))
        grid.append({"answer": t.answer, "clarify": t.clarify, "margin": t.margin, **one, "dev2": two,
                     "cost": one["cost"] + two["cost"]})
    # On equal cost, fewer wrong answers: a visitor who gets the wrong entry may believe it.
    grid.sort(key=lambda r: (r["cost"], r["wrong"] + r["dev2"]["wrong"], -r["passed"]))
    for r in grid[:8]:
        print(f"answer={r['answer']:.2f} clarify={r['clarify']:.2f} margin={r['margin']:.2f}  "
              f"dev passed {r['passed']}/{r['cases']} wrong {r['wrong']}  dev2 passed {r['dev2']['passed']}/"
              f"{r['dev2']['cases']} wrong {r['dev2']['wrong']}  summed cost {r['cost']}")
    # The gap bar (a declared gap answered below the answer bar), with the shipped answer, clarify and margin, on
    # both dev splits: the lowest summed cost wins.
    gaps = []
    for g in GAPS[:2] if smoke else GAPS:
        with_thresholds(bot, replace(shipped, gap=g))
        one, two = both_splits(bot, (dev_cases, dev_convs), (dev2_cases, dev2_convs))
        gaps.append({"gap": g, "cost": one["cost"] + two["cost"], "dev": one, "dev2": two})
        print(f"gap={g}  dev passed {one['passed']}/{one['cases']} cost {one['cost']}  "
              f"dev2 passed {two['passed']}/{two['cases']} cost {two['cost']}")
    print(f"lowest cost: gap={min(gaps, key=lambda r: r['cost'])['gap']}")
    with_thresholds(bot, shipped)
    dev = summarise(run_suite(bot, dev_cases, dev_convs))
    hold_cases, hold_convs = load_suite(HOLDOUT)
    holdout = summarise(run_suite(bot, hold_cases, hold_convs))
    print(f"shipped {shipped}: dev {dev['passed']}/{dev['cases']} (wrong {dev['wrong']}), "
          f"holdout {holdout['passed']}/{holdout['cases']} (wrong {holdout['wrong']}, declined {holdout['declined']})")
    record = stamp("thresholds", {"smoke": smoke, "mode": bot.mode, "shipped": vars(shipped), "dev_shipped": dev,
                                  "holdout_shipped": holdout, "grid_best": grid[:10], "gap_sweep": gaps})
    if not smoke:
        save(record)
    return record
