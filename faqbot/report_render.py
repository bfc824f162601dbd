"""A ``Report`` as a terminal table, a JSON-ready dict or one CSV: presentation only, no log reading."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from .logstore import KINDS

if TYPE_CHECKING:
    from .grouping import QuestionGroup
    from .report import DayCounts, Report

TABLE_DAYS = 14
WIDTH = 100
CSV_COLUMNS = ["section", "day", "text", "entry", "options", "count", "turns", *KINDS, "up", "down", "answers",
               "question", "confidence", "picked", "neither", "examples", "last_seen"]


def to_dict(r: Report) -> dict[str, Any]:
    return {
        "source": r.source, "generated": r.generated, "since": r.since, "turns": r.turns,
        "low_confidence_below": r.low_confidence_below,
        "days": [vars(d) for d in r.days],
        "unanswered": [g.to_dict() for g in r.unanswered],
        "low_confidence": [g.to_dict() for g in r.low_confidence],
        "thumbs_down": [vars(e) for e in r.thumbs_down],
        "clarifications": [{"options": list(c.options), "offered": c.offered, "picked": dict(c.picked),
                            "neither": c.neither, "examples": list(c.examples)} for c in r.clarifications],
    }


def to_csv(r: Report) -> str:
    """One CSV for spreadsheets: a ``section`` column, and the columns that section uses."""
    buf = io.StringIO()
    out = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    out.writeheader()
    for d in r.days:
        out.writerow({"section": "day", **vars(d)})
    for name, groups in (("unanswered", r.unanswered), ("low_confidence", r.low_confidence)):
        for g in groups:
            out.writerow({"section": name, "text": g.text, "count": g.count, "last_seen": g.last_seen,
                          "examples": " | ".join(g.examples), "entry": " ".join(g.entries),
                          "confidence": "" if g.confidence is None else round(g.confidence, 2)})
    for e in r.thumbs_down:
        out.writerow({"section": "thumbs_down", **vars(e)})
    for c in r.clarifications:
        out.writerow({"section": "clarification", "options": " ".join(c.options), "count": c.offered,
                      "picked": " ".join(f"{k}={n}" for k, n in c.picked), "neither": c.neither,
                      "examples": " | ".join(c.examples)})
    return buf.getvalue()


def to_table(r: Report) -> str:
    """Plain aligned text for a terminal, at most 100 columns wide."""
    span = f"{r.days[0].day} to {r.days[-1].day} (UTC)" if r.days else "no turns yet"
    source = r.source if len(r.source) < WIDTH - 15 else "…" + r.source[-(WIDTH - 16):]
    lines = [f"faqbot report on {source}", f"{r.turns} turns, {span}"]
    lines += _table_days(r.days)
    lines += _heading("Unanswered questions (fallback), similar ones grouped")
    lines += _table_groups(r.unanswered, with_entry=False)
    lines += _heading(f"Low-confidence answers (below {r.low_confidence_below:.2f})")
    lines += _table_groups(r.low_confidence, with_entry=True)
    lines += _heading("Most thumbs down")
    if r.thumbs_down:
        lines.append(f"{'down':>4}  {'up':>4}  {'answers':>7}  {'entry':<28}  question")
        for e in r.thumbs_down:
            lines.append(fit(f"{e.down:>4}  {e.up:>4}  {e.answers:>7}  {fit(e.entry, 28):<28}  {e.question}"))
    else:
        lines.append("(no thumbs down)")
    lines += _heading("Clarifications: options offered, then what people picked")
    for c in r.clarifications:
        picks = ", ".join(f"{k} {n}" for k, n in c.picked)
        lines.append(fit(f"{c.offered:>4}x  offered {', '.join(c.options)}  ->  picked {picks}, neither {c.neither}"))
        if c.examples:
            lines.append(fit("       e.g. " + " · ".join(f'"{x}"' for x in c.examples)))
    if not r.clarifications:
        lines.append("(no clarifications)")
    lines += ["", "Crisis messages are counted, never recorded as text."]
    return "\n".join(lines) + "\n"


def fit(text: str, width: int = WIDTH) -> str:
    """``text`` cut to ``width`` characters with an ellipsis."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _heading(title: str) -> list[str]:
    return ["", title, "-" * len(title)]


def _table_days(days: tuple[DayCounts, ...]) -> list[str]:
    lines = _heading("Turns per day")
    cols = ("turns", *KINDS, "up", "down")
    widths = [max(len(c), 5) for c in cols]
    lines.append(f"{'day':<10}" + "".join(f"  {c:>{w}}" for c, w in zip(cols, widths)))
    shown = days[-TABLE_DAYS:]
    if len(days) > len(shown):
        lines.append(f"({len(days) - len(shown)} earlier days in --format json or csv)")
    for d in shown:
        lines.append(f"{d.day:<10}" + "".join(f"  {getattr(d, c):>{w}}" for c, w in zip(cols, widths)))
    lines.append(f"{'total':<10}" + "".join(f"  {sum(getattr(d, c) for d in days):>{w}}" for c, w in zip(cols, widths)))
    return lines


def _table_groups(groups: tuple[QuestionGroup, ...], *, with_entry: bool) -> list[str]:
    if not groups:
        return ["(none)"]
    lines = [f"{'count':>5}  {'last seen':<16}  " + (f"{'conf':>4}  {'entry':<24}  " if with_entry else "")
             + "question"]
    for g in groups:
        lead = f"{g.count:>5}  {g.last_seen:<16}  "
        if with_entry:
            lead += f"{g.confidence or 0:>4.2f}  {fit(', '.join(g.entries), 24):<24}  "
        lines.append(fit(lead + g.text))
        others = [x for x in g.examples if x != g.text]
        if others:
            lines.append(fit(" " * len(lead) + "also: " + " · ".join(f'"{x}"' for x in others)))
    return lines
