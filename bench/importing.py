"""How well an imported KB answers the default KB's answer suites, beside the hand-written KB.

``python -m bench.importing``: imports the fixtures in tests/data/import (the seed page saved as HTML and as
Markdown, and a CSV exported from the default KB) with ``faqbot import``'s code, each beside the default KB's
other files (settings, small talk, synonyms, risk lexicon, declared gaps) so only the FAQ entries differ.

The CSV keeps the entry ids, keywords and related lists, so its suites run unchanged; it is measured written as
``imported.yaml`` (the default, which loads after ``gaps.yaml``) and as ``faq.yaml`` (which loads where the
hand-written entries do), since the engine's ties depend on entry order. A page import has one entry per page section, and the
suites name the hand-written entries, which are finer: each hand-written entry is mapped to the section whose
text holds the first sentence it quotes as ``source``, and a case passes when the reply reaches the expected
entry's section. The hand-written KB is scored the same way for comparison (section-level) and as is (exact).
Single-turn cases only (conversations need follow-up entries that a page import does not have).
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from faqbot import Bot
from faqbot.importer import to_entries, write
from faqbot.sources import Columns, read
from faqbot.suite import describe, load_suite, matches

from . import ROOT, save, stamp

DATA = ROOT / "tests" / "data" / "import"
KNOWLEDGE = ROOT / "knowledge"
SUITES = ("tests", "tests-visitors", "tests-holdout")
FAQ_FILES = ("faq.yaml", "contact.yaml")
CSV = Columns(question="Question", answer="Answer", phrasings="Other ways to ask", id="ID", topic="Topic",
              keywords="Keywords", related="See also")


def build(source: Path, into: Path, *, columns: Columns | None = None, file: str = "imported.yaml") -> Path:
    """The default KB with its FAQ files replaced by ``source`` imported."""
    shutil.copytree(KNOWLEDGE, into)
    for name in FAQ_FILES:
        (into / name).unlink()
    for test in into.glob("tests*.yaml"):
        test.unlink()
    entries, _ = to_entries(read(source, columns=columns))
    ids = {e["id"] for e in entries}
    settings_file = into / "settings.yaml"
    settings = yaml.safe_load(settings_file.read_text(encoding="utf-8"))
    # Handoff names hand-written contact entries; a page import has other ids.
    settings["settings"]["handoff"] = [h for h in settings["settings"].get("handoff", []) if h in ids]
    settings_file.write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False), encoding="utf-8")
    write(entries, into, sources=[source.name], file=file)
    return into


def _fold(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower().replace("’", "'")).strip()


def section_map(hand: Any, imported: Any) -> dict[str, str]:
    """Hand-written entry id -> the imported entry whose text holds the first sentence of its source."""
    out: dict[str, str] = {}
    bodies = {e.id: _fold(e.answer + " " + e.question) for e in imported.entries}
    for e in hand.entries:
        if e.kind != "answer" or not e.source:
            continue
        first = _fold(re.split(r"(?<=[.!?])\s", e.source.strip())[0])[:80]
        hits = [i for i, body in bodies.items() if first and first in body]
        if hits:
            out[e.id] = hits[0]
    return out


def score(bot: Bot, suite: Path, mapping: dict[str, str] | None, *, remap_reply: bool) -> tuple[int, int]:
    cases, _ = load_suite(suite)
    passed = 0
    for case in cases:
        reply = bot.ask(case.question)
        if mapping is not None and case.expect in mapping:
            got = describe(reply)
            if remap_reply:
                got = mapping.get(got, got)
            passed += got == mapping[case.expect]
        else:
            passed += matches(reply, case.expect)
    return passed, len(cases)


def main() -> dict[str, Any]:
    hand = Bot.load(KNOWLEDGE)
    result: dict[str, Any] = {"suites": {}}
    with tempfile.TemporaryDirectory() as tmp:
        kbs = {"csv": build(DATA / "default-kb.csv", Path(tmp) / "csv", columns=CSV),
               # The same entries in faq.yaml, so they load before gaps.yaml as the hand-written ones do.
               "csv-first": build(DATA / "default-kb.csv", Path(tmp) / "csv-first", columns=CSV, file="faq.yaml"),
               "html": build(DATA / "ketamine-page.html", Path(tmp) / "html"),
               "markdown": build(DATA / "ketamine-page.md", Path(tmp) / "md")}
        bots = {name: Bot.load(path) for name, path in kbs.items()}
        mapping = section_map(hand.kb, bots["html"].kb)
        md_mapping = section_map(hand.kb, bots["markdown"].kb)
        result["mapped_entries"] = {"html": len(mapping), "markdown": len(md_mapping),
                                    "hand_written_answer_entries": sum(e.kind == "answer" for e in hand.kb.entries)}
        for suite_name in SUITES:
            suite = KNOWLEDGE / f"{suite_name}.yaml"
            row = {
                "hand-written (exact)": score(hand, suite, None, remap_reply=False),
                "csv import (exact)": score(bots["csv"], suite, None, remap_reply=False),
                "csv import as faq.yaml (exact)": score(bots["csv-first"], suite, None, remap_reply=False),
                "hand-written (by section)": score(hand, suite, mapping, remap_reply=True),
                "html import (by section)": score(bots["html"], suite, mapping, remap_reply=False),
                "markdown import (by section)": score(bots["markdown"], suite, md_mapping, remap_reply=False),
            }
            result["suites"][suite_name] = {k: {"passed": p, "cases": n, "accuracy": round(p / n, 4)}
                                            for k, (p, n) in row.items()}
            for k, (p, n) in row.items():
                print(f"{suite_name:<15} {k:<32} {p:>4}/{n:<4} {p / n:.1%}")
    save(stamp("importing", result))
    return result


if __name__ == "__main__":
    argparse.ArgumentParser(prog="python -m bench.importing", description=__doc__).parse_args()
    main()
