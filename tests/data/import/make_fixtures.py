"""Rebuild the import fixtures: the seed page as saved HTML and Markdown, and a CSV of the default KB.

Run from the repo root: python tests/data/import/make_fixtures.py [SEED_TXT]. Every word comes from the seed
page or the default KB; only markup is added (a page title, navigation and a footer, as a saved page has).
"""

from __future__ import annotations

import csv
import html
import sys
from pathlib import Path

HERE = Path(__file__).parent
REPO = HERE.parents[2]
HEADINGS = ("What is Ketamine Therapy For Addiction", "Can Ketamine Therapy Help With Addiction?",
            "But, Don’t People Abuse Ketamine?", "What Ketamine Therapy Can and Cannot Do",
            "Should I Try Ketamine Therapy for Addiction?", "Innovative Psychedelic Therapy for Addiction")


def sections(seed: str) -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    for line in seed.splitlines():
        if line.strip() in HEADINGS:
            out.append((line.strip(), []))
        elif line.strip() and out:
            out[-1][1].append(line.rstrip())
    return out


def blocks(lines: list[str]) -> list[tuple[str, list[str]]]:
    """('p', [text]) or ('ul', [items]) runs."""
    out: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.startswith("- "):
            if not out or out[-1][0] != "ul":
                out.append(("ul", []))
            out[-1][1].append(line[2:])
        else:
            out.append(("p", [line]))
    return out


def to_html(parts: list[tuple[str, list[str]]], *, details: bool) -> str:
    body = []
    for title, lines in parts:
        inner = []
        for kind, items in blocks(lines):
            if kind == "p":
                inner.append(f"  <p>{html.escape(items[0])}</p>")
            else:
                inner.append("  <ul>\n" + "\n".join(f"    <li>{html.escape(i)}</li>" for i in items) + "\n  </ul>")
        if details:
            body.append(f"<details>\n  <summary>{html.escape(title)}</summary>\n" + "\n".join(inner) + "\n</details>")
        else:
            body.append(f"<section>\n  <h2>{html.escape(title)}</h2>\n" + "\n".join(inner) + "\n</section>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<title>Ketamine Therapy For Addiction | Quest Ketamine Therapies</title>\n"
            "<style>body { font-family: sans-serif; }</style>\n<script>window.analytics = [];</script>\n</head>\n"
            "<body>\n<header><nav><a href=\"/\">Home</a> <a href=\"/contact\">Contact</a></nav></header>\n"
            "<main>\n<h1>Quest Ketamine Therapies</h1>\n" + "\n".join(body) + "\n</main>\n"
            "<footer><p>Quest Ketamine Therapies</p></footer>\n</body>\n</html>\n")


def to_markdown(parts: list[tuple[str, list[str]]]) -> str:
    out = ["# Quest Ketamine Therapies", ""]
    for title, lines in parts:
        out += [f"## {title}", ""]
        for kind, items in blocks(lines):
            out += [items[0], ""] if kind == "p" else [*(f"- {i}" for i in items), ""]
    return "\n".join(out)


def to_csv(path: Path) -> None:
    sys.path.insert(0, str(REPO))
    from faqbot.knowledge import load

    kb = load(REPO / "knowledge")
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["ID", "Topic", "Question", "Answer", "Other ways to ask", "Keywords", "See also"])
        for e in kb.entries:
            if e.kind == "answer":
                out.writerow([e.id, e.topic, e.question, e.answer, " | ".join(e.phrasings), " | ".join(e.keywords),
                              " | ".join(e.related)])


if __name__ == "__main__":
    seed = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/seed/ketamine-therapy-for-addiction.txt")
    parts = sections(seed.read_text(encoding="utf-8"))
    assert [t for t, _ in parts] == list(HEADINGS), [t for t, _ in parts]
    (HERE / "ketamine-page.html").write_text(to_html(parts, details=False), encoding="utf-8")
    (HERE / "ketamine-page-details.html").write_text(to_html(parts, details=True), encoding="utf-8")
    (HERE / "ketamine-page.md").write_text(to_markdown(parts), encoding="utf-8")
    to_csv(HERE / "default-kb.csv")
