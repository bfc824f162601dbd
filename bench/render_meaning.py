"""Sections of docs/benchmarks.md for the meaning tier, the default KB's thresholds and safety triage."""

from __future__ import annotations

from typing import Any


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def fusion_section(f: dict[str, Any]) -> list[str]:
    names = ("bias", "lexical confidence", "nearest phrasing", "lead in meaning", "centroid", "coverage")
    weights = ", ".join(f"{n} {w:.2f}" for n, w in zip(names, f["weights"]))
    lines = ["## Understanding by meaning (CLINC150)", "",
             (f"`python -m bench fusion` (`--fit` refits the weights on val). The encoder is {f['model']}, run "
              "in-process with ONNX Runtime. faqbot's fused confidence is a logistic function of the lexical tier's "
              "confidence and the meaning signals, with non-negative weights fitted on val + oos_val of both "
              f"settings ({weights}). Decline thresholds are chosen on val; test is reported."), "",
             "| setting | system | top-1 | in-scope acc | OOS recall | balanced |", "|---|---|---|---|---|---|"]
    for r in f["results"]:
        lines.append(f"| {r['per_intent']}/intent | {r['system']} | {_pct(r['top1'])} | {_pct(r['inscope_acc'])} | "
                     f"{_pct(r['oos_recall'])} | {_pct(r['balanced'])} |")
    fused = {r["per_intent"]: r for r in f["results"] if r["system"].startswith("faqbot (semantic")}
    lines += ["", "Goals (test split):", "", "| goal | target | measured | |", "|---|---|---|---|"]
    for per, metric, target in ((10, "top1", 0.88), (10, "balanced", 0.84), (100, "top1", 0.94),
                                (100, "balanced", 0.89)):
        if per in fused:
            value = fused[per][metric]
            verdict = "met" if value >= target else f"missed by {(target - value) * 100:.1f} points"
            lines.append(f"| {per}/intent {metric.replace('top1', 'top-1')} | ≥ {_pct(target)} | {_pct(value)} | "
                         f"{verdict} |")
    lines.append("")
    return lines


def thresholds_section(t: dict[str, Any]) -> list[str]:
    s, dev, hold = t["shipped"], t["dev_shipped"], t["holdout_shipped"]
    lines = ["## The default KB's thresholds (visitor dev splits, holdout apart)", "",
             ("`python -m bench thresholds` runs the whole dialog over `knowledge/tests-visitors.yaml` and "
              "`tests-visitors2.yaml` (the dev splits) for a grid of answer / clarify / margin thresholds, summing "
              "their costs; a wrong answer costs twice a decline. The holdout "
              "`knowledge/tests-holdout.yaml` is run once, with the shipped thresholds, and never searched."), "",
             "| | answer | clarify | margin | passed | wrong | declined |", "|---|---|---|---|---|---|---|"]
    for label, r in (("shipped, dev", dev), ("shipped, holdout", hold)):
        lines.append(f"| {label} | {s['answer']} | {s['clarify']} | {s['margin']} | {r['passed']}/{r['cases']} "
                     f"({_pct(r['accuracy'])}) | {r['wrong']} | {r['declined']} |")
    for r in t["grid_best"][:3]:
        two = f"; dev 2 {r['dev2']['passed']}/{r['dev2']['cases']}" if "dev2" in r else ""
        lines.append(f"| grid, dev{two} | {r['answer']} | {r['clarify']} | {r['margin']} | {r['passed']}/{r['cases']} "
                     f"({_pct(r['accuracy'])}) | {r['wrong']} | {r['declined']} |")
    lines.append("")
    if t.get("gap_sweep"):
        lines += [("The gap bar (`thresholds.gap`: a declared gap answered below the answer bar when nothing else is "
                   "half as likely) is chosen with the shipped answer / clarify / margin on both visitor dev splits "
                   "(`tests-visitors.yaml`, `tests-visitors2.yaml`), lowest summed cost; shipped: "
                   f"{s.get('gap')}."), "",
                  "| gap bar | dev passed | dev cost | dev 2 passed | dev 2 cost |", "|---|---|---|---|---|"]
        for r in t["gap_sweep"]:
            one, two = r["dev"], r["dev2"]
            lines.append(f"| {'unset' if r['gap'] is None else r['gap']} | {one['passed']}/{one['cases']} | "
                         f"{one['cost']} | {two['passed']}/{two['cases']} | {two['cost']} |")
        lines.append("")
    return lines


def _triage(r: dict[str, Any], label: str) -> tuple[int, int, int]:
    row = r.get(label, {"n": 0, "crisis": 0, "concern": 0})
    # "line" counts a referral shown with the crisis line too; older records have only crisis and concern.
    return row["n"], row["crisis"], row.get("line", row["crisis"] + row.get("concern", 0)) - row["crisis"]


def safety_section(s: dict[str, Any]) -> list[str]:
    th = s["model"]
    splits = [split for split in ("tuning", "holdout", "holdout2", "holdout3", "holdout4", "holdout5", "holdout6",
                                  "holdout7", "holdout10", "dev3", "holdout8", "holdout9", "holdout11", "holdout12",
                                  "holdout13", "holdout14", "holdout15", "holdout16", "holdout17", "referral3",
                                  "referral4", "referral_es")
              if split in s["results"]["both"]]
    lines = ["## Safety triage", "",
             ("`python -m bench safety` (`--fit` retrains the classifier and chooses its thresholds on cross-validated "
              "training data). The holdouts `tests/data/safety_holdout8.yaml`, `safety_holdout9.yaml`, "
              "`safety_holdout11.yaml` (one- and two-word messages only), `safety_holdout12.yaml`, "
              "`safety_holdout13.yaml`, `safety_holdout14.yaml` (one to four words) and `safety_holdout15.yaml` were "
              "written blind, each before a round of tuning or its check. Holdouts 1 to 15 and `safety_dev3.yaml` "
              "are the main model's **training data** since the eighth round (holdouts 1 to 7, 10 and dev 3 since "
              "the seventh); their rows below are training figures, not holdout figures. Holdout 16 is the eighth "
              "model's check, holdout 17 the check of its rejected refit; `referral_holdout3.yaml`, "
              "`referral_holdout4.yaml` and `referral_holdout_es.yaml` hold personal medical questions and ordinary "
              "ones naming medicines, written blind; everyday sentences are 2,000 "
              f"CLINC150 *test* utterances. Thresholds: crisis {th['crisis']}, crisis line "
              f"{th['concern_from_crisis']}, concern {th['concern']}, referral {th.get('referral', '-')}. "
              "See [safety.md](safety.md)."), "",
             "| policy | split | crisis reply | crisis reply or line | hard negatives: crisis reply | referral questions "
             "referred | everyday: crisis reply |",
             "|---|---|---|---|---|---|---|"]
    for name in ("rules", "both"):
        res = s["results"][name]
        for split in splits:
            n, c, k = _triage(res[split], "crisis")
            nn, nc, _ = _triage(res[split], "negative")
            ref = res[split].get("referral", {"n": 0, "referral": 0})
            en, ec, _ = _triage(res["everyday_test"], "negative")
            lines.append(f"| {'rules + classifier' if name == 'both' else 'rules'} | {split} | {c}/{n} | {c + k}/{n} | "
                         f"{nc}/{nn} | {ref['referral']}/{ref['n']} | {ec}/{en} |")
    cost = s.get("cost", {})
    if "policy_p50_ms" in cost:
        lines += ["", (f"Cost per message: the policy on the turn's analysis p50 {cost['policy_p50_ms']:.2f} ms, p99 "
                       f"{cost['policy_p99_ms']:.2f} ms; with the analysis (encoding the message) p50 "
                       f"{cost['p50_ms']:.2f} ms, p99 {cost['p99_ms']:.2f} ms.")]
    for split in splits[1:]:
        lines += ["", f"{split.capitalize()} per category (rules + classifier):", "",
                  "| category | n | crisis reply | crisis line (concern) | referral |", "|---|---|---|---|---|"]
        for key, r in s["results"]["both"][split].items():
            if "/" in key:
                lines.append(f"| {key} | {r['n']} | {r['crisis']} | {r['concern']} | {r['referral']} |")
    lines.append("")
    return lines
