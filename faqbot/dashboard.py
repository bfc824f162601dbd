"""The at-a-glance page: reply rates per day as inline SVG, votes, and the top suggestions with an accept action.

``faqbot report --format html`` writes it. One self-contained HTML document (no script or style from elsewhere, no framework), drawn from a ``Report`` and
the suggestion ``Proposal`` list (``from_log`` reads both). Rates, not sums: each day's bar shows what share of its turns was answered,
clarified, unanswered, referred or crisis, so a busy day and a quiet one compare. No web stack: a server route only sends the string.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .bot import Bot
    from .report import DayCounts, Report
    from .suggest import Proposal

# (field of DayCounts, label, colour): colours readable on white and for the common colour-vision deficiencies.
SERIES = (("answer", "answered", "#1b7837"), ("clarify", "clarified", "#5aae61"), ("fallback", "unanswered", "#d6604d"),
          ("referral", "referred", "#4393c3"), ("crisis", "crisis", "#762a83"), ("smalltalk", "small talk", "#bababa"),
          ("other", "declared gap or concern", "#e0e0e0"))
DAYS_SHOWN = 30
BAR_W, GAP, CHART_H, VOTES_H = 18, 4, 160, 70


def rate(part: int, whole: int) -> float:
    """``part`` as a share of ``whole`` (0 when there is nothing to share)."""
    return part / whole if whole else 0.0


def rates(day: DayCounts) -> dict[str, float]:
    """The day's reply rates (share of its turns) and thumbs-up rate (share of its votes)."""
    out = {name: rate(_count(day, name), day.turns) for name, _, _ in SERIES}
    out["up"] = rate(day.up, day.up + day.down)
    return out


def from_log(path: str | Path, bot: Bot, *, days: int | None = None, accept_url: str = "", notice: str = "") -> str:
    """The page for the log at ``path``, questions grouped by meaning when the bot has an encoder (the one call
    a command or an admin route makes; ``accept_url`` and ``notice`` as in ``render``)."""
    from . import report as reports
    from .suggest import proposals

    encode = bot.engine.encode
    result = reports.build(path, days=days, bot=bot, encode=encode)
    return render(result, proposals(path, bot, days=days, encode=encode), kb_version=bot.kb.version,
                  accept_url=accept_url, notice=notice)


def _count(day: DayCounts, name: str) -> int:
    """Turns of one series on ``day``; "other" is what no series counts (declared gaps, concern replies)."""
    if name == "other":
        return day.turns - sum(int(getattr(day, n)) for n, _, _ in SERIES if n != "other")
    return int(getattr(day, name))


def render(report: Report, proposals: Sequence[Proposal] = (), *, kb_version: str = "", top: int = 10,
           accept_url: str = "", notice: str = "") -> str:
    """The dashboard page; each suggestion shows the ``faqbot accept`` command that applies it, or, with
    ``accept_url`` (the server's admin page), an Accept button that posts its id there."""
    days = report.days[-DAYS_SHOWN:]
    turns = sum(d.turns for d in report.days)
    totals = {name: sum(_count(d, name) for d in report.days) for name, _, _ in SERIES}
    up, down = sum(d.up for d in report.days), sum(d.down for d in report.days)
    tiles = "".join(
        f'<div class="tile" data-rate="{name}"><b>{rate(totals[name], turns):.0%}</b><span>{label}</span></div>'
        for name, label, _ in SERIES)
    tiles += (f'<div class="tile" data-rate="up"><b>{rate(up, up + down):.0%}</b>'
              f"<span>thumbs up ({up} up, {down} down)</span></div>")
    body = [
        f"<header><h1>faqbot dashboard</h1><p>{turns} turns"
        + (f", {escape(report.days[0].day)} to {escape(report.days[-1].day)} (UTC)" if report.days else "")
        + (f' · knowledge base <code class="kb-version">{escape(kb_version)}</code>' if kb_version else "")
        + f" · generated {escape(report.generated)} UTC</p></header>",
        (f'<p class="notice" role="status">{escape(notice)}</p>' if notice else ""),
        f'<section class="tiles" aria-label="rates over the whole period">{tiles}</section>',
        "<section><h2>Replies per day, as a share of that day's turns</h2>",
        _legend(), _rate_chart(days), "</section>",
        "<section><h2>Thumbs up, as a share of that day's votes</h2>", _vote_chart(days), "</section>",
        "<section><h2>Top suggestions</h2>", _proposals(list(proposals)[:top], accept_url), "</section>",
        "<section><h2>Unanswered questions</h2>", _groups(report), "</section>",
        "<footer>Crisis messages are counted, never recorded as text.</footer>",
    ]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>faqbot dashboard</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>'
            f'<body>{"".join(body)}</body></html>')


def _legend() -> str:
    items = "".join(f'<span><i style="background:{c}"></i>{label}</span>' for _, label, c in SERIES)
    return f'<p class="legend">{items}</p>'


def _rate_chart(days: Sequence[DayCounts]) -> str:
    if not days:
        return '<p class="empty">No turns yet.</p>'
    width = len(days) * (BAR_W + GAP) + 70  # room for the last date label
    parts = [f'<svg class="chart rates" role="img" viewBox="0 0 {width} {CHART_H + 40}" width="{width}" '
             f'height="{CHART_H + 40}" aria-label="reply rates per day">']
    parts.append(_axes(width, CHART_H))
    for i, d in enumerate(days):
        x = 40 + i * (BAR_W + GAP)
        y = CHART_H + 10.0
        r = rates(d)
        for name, label, colour in SERIES:
            h = CHART_H * r[name]
            if h <= 0:
                continue
            y -= h
            parts.append(f'<rect class="bar" data-day="{escape(d.day)}" data-series="{name}" x="{x}" y="{y:.1f}" '
                         f'width="{BAR_W}" height="{h:.1f}" fill="{colour}"><title>{escape(d.day)}: {label} '
                         f"{r[name]:.0%} ({_count(d, name)} of {d.turns})</title></rect>")
        parts.append(_day_label(i, len(days), x, CHART_H, d.day))
    parts.append("</svg>")
    return "".join(parts)


def _vote_chart(days: Sequence[DayCounts]) -> str:
    voted = [d for d in days if d.up + d.down]
    if not voted:
        return '<p class="empty">No votes yet.</p>'
    width = len(days) * (BAR_W + GAP) + 70
    height = VOTES_H
    parts = [f'<svg class="chart votes" role="img" viewBox="0 0 {width} {height + 40}" width="{width}" '
             f'height="{height + 40}" aria-label="thumbs-up rate per day">', _axes(width, height)]
    for i, d in enumerate(days):
        x = 40 + i * (BAR_W + GAP)
        parts.append(_day_label(i, len(days), x, height, d.day))
        if not d.up + d.down:
            continue
        share = rate(d.up, d.up + d.down)
        h = height * share
        parts.append(f'<rect class="bar" data-day="{escape(d.day)}" data-series="up" x="{x}" y="{height + 10 - h:.1f}" '
                     f'width="{BAR_W}" height="{h:.1f}" fill="#1b7837"><title>{escape(d.day)}: {share:.0%} up '
                     f"({d.up} up, {d.down} down)</title></rect>")
    parts.append("</svg>")
    return "".join(parts)


def _axes(width: int, height: int) -> str:
    """Grid lines at 0, 50 and 100%, the chart's plot area starting 10px from the top."""
    out = []
    for pct in (0, 50, 100):
        y = height - height * pct / 100 + 10
        out.append(f'<line x1="34" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                   f'<text x="30" y="{y + 4:.1f}" class="axis" text-anchor="end">{pct}%</text>')
    return "".join(out)


def _day_label(i: int, count: int, x: int, height: int, day: str) -> str:
    """A date under every 7th bar, and under the last one when it does not crowd the one before."""
    if i % 7 == 0 or (i == count - 1 and i % 7 >= 2):
        return f'<text x="{x}" y="{height + 28}" class="axis">{escape(day[5:])}</text>'
    return ""


def _proposals(found: list[Proposal], accept_url: str = "") -> str:
    if not found:
        return '<p class="empty">Nothing to suggest yet.</p>'
    rows = []
    for p in found:
        target = (f"<code>{escape(p.target)}</code> <small>{escape(p.question)}</small>" if p.target
                  else "<em>new entry</em>")
        phr = "".join(f"<li>{escape(x)}</li>" for x in p.phrasings)
        if p.target and accept_url:
            action = (f'<form method="post" action="{escape(accept_url)}"><input type="hidden" name="id" '
                      f'value="{escape(p.id)}"><button type="submit">Accept into {escape(p.target)}</button></form>')
        elif p.target:
            action = f'<code class="accept">faqbot accept {escape(p.id)}</code>'
        else:
            action = "<small>write an entry, or <code>faqbot accept " + escape(p.id) + " --to ENTRY</code></small>"
        rows.append(f'<tr data-id="{escape(p.id)}"><td>{p.count}</td><td><ul>{phr}</ul></td><td>{target}</td>'
                    f"<td>{escape(', '.join(p.signals))}</td><td>{action}</td></tr>")
    return ('<table class="proposals"><thead><tr><th>asked</th><th>phrasings</th><th>add to</th><th>why</th>'
            f'<th>to accept</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _groups(report: Report) -> str:
    if not report.unanswered:
        return '<p class="empty">None.</p>'
    turns = max(report.turns, 1)
    rows = "".join(f"<tr><td>{g.count}</td><td>{g.count / turns:.1%}</td><td>{escape(g.text)}</td>"
                   f"<td>{escape(g.last_seen)}</td></tr>" for g in report.unanswered)
    return ('<table class="groups"><thead><tr><th>asked</th><th>of all turns</th><th>question</th><th>last seen</th>'
            f"</tr></thead><tbody>{rows}</tbody></table>")


_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1rem 1.5rem;color:#222}
h1{margin:.2rem 0}h2{font-size:1.05rem;margin:1.6rem 0 .4rem}header p{color:#555;margin:.2rem 0}
.tiles{display:flex;flex-wrap:wrap;gap:.6rem}.tile{border:1px solid #ddd;border-radius:8px;padding:.5rem .9rem;
min-width:7rem}.tile b{display:block;font-size:1.5rem}.tile span{color:#555;font-size:.85rem}
.legend span{margin-right:1rem;font-size:.85rem}.legend i{display:inline-block;width:.8rem;height:.8rem;
margin-right:.3rem;vertical-align:-1px;border-radius:2px}svg .grid{stroke:#e3e3e3}svg .axis{font-size:10px;fill:#666}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #eee;padding:.35rem .5rem;text-align:left;
vertical-align:top}td ul{margin:0;padding-left:1rem}code.accept{white-space:nowrap;user-select:all}
.empty{color:#777}footer{margin-top:2rem;color:#777;font-size:.85rem}
"""
