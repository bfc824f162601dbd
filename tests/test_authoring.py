"""The authoring loop: import an existing FAQ, turn the conversation log into accepted phrasings, see it at a glance."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from faqbot import Bot, Recorder
from faqbot import knowledge as kb_loader
from faqbot.accept import Session, apply_phrasings
from faqbot.cli import main
from faqbot.exceptions import ConfigError
from faqbot.grouping import group
from faqbot.models import Option, Reply, ReplyType
from faqbot.sources import Columns, read, read_html, read_markdown

DATA = REPO / "tests" / "data" / "import"
SEED_HEADINGS = ["What is Ketamine Therapy For Addiction", "Can Ketamine Therapy Help With Addiction?",
                 "But, Don’t People Abuse Ketamine?", "What Ketamine Therapy Can and Cannot Do",
                 "Should I Try Ketamine Therapy for Addiction?", "Innovative Psychedelic Therapy for Addiction"]
CSV_FLAGS = ["--question", "Question", "--answer", "Answer", "--phrasings", "Other ways to ask", "--id-column", "ID",
             "--topic", "Topic", "--keywords", "Keywords", "--related", "See also"]


def run(*argv: str) -> tuple[int, str]:
    import io

    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


# --- import: sources --------------------------------------------------------------------------------------


def test_html_page_headings_become_questions_and_page_chrome_is_dropped() -> None:
    pairs = read(DATA / "ketamine-page.html")
    assert [p.question for p in pairs] == SEED_HEADINGS
    first = pairs[0].answer
    assert "- Happens in a comfortable outpatient clinic setting\n- Must be administered" in first
    assert first.startswith("Ketamine therapy, also known as ketamine infusion therapy")
    assert not any(word in p.answer for p in pairs for word in ("Home", "analytics", "font-family"))


def test_details_page_gives_the_same_pairs_as_the_headings_page() -> None:
    details = read(DATA / "ketamine-page-details.html")
    headings = read(DATA / "ketamine-page.html")
    assert [(p.question, p.answer) for p in details] == [(p.question, p.answer) for p in headings]


def test_markdown_headings_become_questions_under_a_lone_title() -> None:
    pairs = read(DATA / "ketamine-page.md")
    assert [p.question for p in pairs] == SEED_HEADINGS
    assert [p.answer for p in pairs] == [p.answer for p in read(DATA / "ketamine-page.html")]


def test_definition_list_terms_are_questions_and_bold_and_links_survive() -> None:
    page = ("<dl><dt>How do I book?</dt><dd><p>Call <strong>us</strong> or "
            "<a href='https://example.org/book'>book online</a>.</p></dd>"
            "<dt>Is it free?</dt><dd>The first call is.</dd></dl>")
    pairs = read_html(page)
    assert [(p.question, p.answer) for p in pairs] == [
        ("How do I book?", "Call **us** or [book online](https://example.org/book)."),
        ("Is it free?", "The first call is.")]


def test_sub_headings_stay_in_the_answer_as_bold_lines() -> None:
    page = ("<h1>FAQ</h1><h2>How does it work?</h2><p>In two steps.</p><h3>Step one</h3><p>Call us.</p>"
            "<h2>Is it free?</h2><p>The first call is.</p>")
    expected = [("How does it work?", "In two steps.\n\n**Step one**\n\nCall us."),
                ("Is it free?", "The first call is.")]
    assert [(p.question, p.answer) for p in read_html(page)] == expected
    md = ("# FAQ\n\n## How does it work?\n\nIn two steps.\n\n### Step one\n\nCall us.\n\n"
          "## Is it free?\n\nThe first call is.\n")
    assert [(p.question, p.answer) for p in read_markdown(md)] == expected


def test_csv_columns_are_mapped_by_name_and_phrasings_split() -> None:
    pairs = read(DATA / "default-kb.csv", columns=Columns(question="Question", answer="Answer",
                                                           phrasings="Other ways to ask", id="ID", topic="Topic",
                                                           keywords="Keywords", related="See also"))
    kb = kb_loader.load(REPO / "knowledge")
    by_id = {e.id: e for e in kb.entries}
    assert len(pairs) == sum(1 for e in kb.entries if e.kind == "answer")
    for p in pairs:
        assert p.phrasings == by_id[p.id].phrasings and p.answer == by_id[p.id].answer
        assert p.keywords == by_id[p.id].keywords and p.related == by_id[p.id].related


def test_a_missing_column_names_the_columns_there_are(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no column 'Frage'.*Question.*--question"):
        read(DATA / "default-kb.csv", columns=Columns(question="Frage"))


def test_xlsx_columns_by_number(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "FAQ"
    sheet.append(["Frage", "Q", "A"])
    sheet.append(["x", "How do I book?", "Call us."])
    sheet.append(["y", "", "a row without a question is skipped"])
    sheet.append(["z", "Is it free?", "The first call is."])
    book.save(tmp_path / "faq.xlsx")
    pairs = read(tmp_path / "faq.xlsx", columns=Columns(question="2", answer="3"), sheet="FAQ")
    assert [(p.question, p.answer) for p in pairs] == [("How do I book?", "Call us."), ("Is it free?",
                                                                                        "The first call is.")]


# --- import: the command ----------------------------------------------------------------------------------


def test_import_writes_a_kb_that_loads_lints_and_answers(tmp_path: Path) -> None:
    code, out = run("import", str(DATA / "ketamine-page.html"), "--out", str(tmp_path / "kb"), "--owner", "web-team")
    assert code == 0, out
    kb = kb_loader.load(tmp_path / "kb")
    assert [e.question for e in kb.entries] == SEED_HEADINGS
    assert kb.entries[0].id == "what-is-ketamine-therapy-for-addiction"
    assert all(e.owner == "web-team" and e.reviewed and e.source for e in kb.entries)
    assert "lint:" in out and "entries with too few phrasings" in out
    reply = Bot(kb).ask("dont people abuse ketamine")
    assert reply.type is ReplyType.ANSWER and reply.entry == "but-dont-people-abuse-ketamine"


def test_import_reports_near_duplicates_against_the_existing_kb(tmp_path: Path) -> None:
    target = tmp_path / "kb"
    shutil.copytree(REPO / "knowledge", target)
    code, out = run("import", str(DATA / "ketamine-page.md"), "--out", str(target), "--json")
    assert code == 0
    result = json.loads(out)
    against_existing = {(d["entry"], d["other"]) for d in result["duplicates"] if d["existing"]}
    assert ("but-dont-people-abuse-ketamine", "misuse") in against_existing


def test_import_never_overwrites_without_force(tmp_path: Path) -> None:
    assert run("import", str(DATA / "ketamine-page.md"), "--out", str(tmp_path))[0] == 0
    before = (tmp_path / "imported.yaml").read_text()
    assert run("import", str(DATA / "ketamine-page.html"), "--out", str(tmp_path))[0] == 2
    assert (tmp_path / "imported.yaml").read_text() == before
    assert run("import", str(DATA / "ketamine-page.html"), "--out", str(tmp_path), "--force")[0] == 0


def test_imported_spreadsheet_answers_the_suite_like_the_hand_written_kb(tmp_path: Path) -> None:
    # The default KB's spreadsheet (answer entries) with its other files (settings, gaps, small talk, ...).
    target = tmp_path / "kb"
    shutil.copytree(REPO / "knowledge", target)
    (target / "faq.yaml").unlink()
    (target / "contact.yaml").unlink()
    assert run("import", str(DATA / "default-kb.csv"), "--out", str(target), *CSV_FLAGS)[0] == 0
    _, hand = run("test", "-k", str(REPO / "knowledge"))
    _, imported = run("test", "-k", str(target), str(REPO / "knowledge" / "tests.yaml"))
    passed = [int(text.strip().splitlines()[-1].split()[0]) for text in (hand, imported)]
    assert passed[1] >= passed[0] - 2, (hand[-400:], imported[-400:])


# --- suggestions ------------------------------------------------------------------------------------------

FALLBACK = Reply(ReplyType.FALLBACK, "Sorry.")

KB = """\
# The test clinic's FAQ. Comments like this one must survive `faqbot accept`.
entries:
  - id: booking
    question: How do I book a consultation?
    answer: Call us to book a free consultation.
    phrasings:
      - book an appointment  # the commonest way people ask
      - schedule a visit
  - id: cost
    question: How much does the treatment cost?
    answer: Ask our team for a quote.
    phrasings:
      - what are the fees
  - id: session-length
    question: How long does a session last?
    answer: About an hour.
    phrasings:
      - how long is a session
  - id: effects-length
    question: How long do the effects last?
    answer: Several weeks.
    phrasings:
      - how long does it last after
"""
TESTS = """\
cases:
  - {q: "can i book an appointment", expect: booking}
  - {q: "how long is one session", expect: session-length}
  - {q: "what does it cost", expect: cost}
"""


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    d = tmp_path / "kb"
    d.mkdir()
    (d / "faq.yaml").write_text(KB, encoding="utf-8")
    (d / "tests.yaml").write_text(TESTS, encoding="utf-8")
    return d


def record(path: Path, sessions: list[list[tuple[str, Reply]]], votes: list[tuple[int, int, str]] = ()) -> Path:
    with Recorder(path) as rec:
        for s, turns in enumerate(sessions):
            for t, (text, reply) in enumerate(turns):
                rec.record_turn(f"session-{s:04d}-xxxxxxxx", f"t{t}", text, reply, "test")
        for s, t, vote in votes:
            rec.record_feedback(f"session-{s:04d}-xxxxxxxx", f"t{t}", vote)
    return path


def test_questions_that_mean_the_same_join_one_group_with_the_encoder() -> None:
    bot = Bot.from_entries([{"id": "x", "phrasings": ["x"], "answer": "x"}])
    encode = bot.engine.semantic.encoder.encode
    rows = [(t, 0.0, None, None) for t in ("how much does it cost", "how much does it cost", "what does it cost",
                                           "how much is it", "price?", "can I bring my dog")]
    by_spelling = {g.text: g.count for g in group(rows)}
    by_meaning = {g.text: {t for t, _ in g.texts} for g in group(rows, encode=encode)}
    assert len(by_spelling) == 5  # spelling alone joins none of these
    assert by_meaning["how much does it cost"] == {"how much does it cost", "what does it cost"}
    assert by_meaning["how much is it"] == {"how much is it", "price?"}
    assert by_meaning["can I bring my dog"] == {"can I bring my dog"}


def test_suggestions_propose_the_picked_entry_the_nearest_entry_or_a_new_one(kb: Path, tmp_path: Path) -> None:
    clarify = Reply(ReplyType.CLARIFY, "Which?", confidence=0.5,
                    options=(Option("session-length", "a"), Option("effects-length", "b")))
    log = record(tmp_path / "log.sqlite3", [
        [("how long r the sessions", clarify), ("the first", Reply(ReplyType.ANSWER, "..", entry="session-length",
                                                                  confidence=1.0))],
        [("whats the price", FALLBACK), ("how much is it", FALLBACK)],
        [("can I bring my dog", FALLBACK)],
    ])
    found = {p.phrasings[0]: p for p in Session.open(kb, log_db=log).proposals()}
    assert found["how long r the sessions"].target == "session-length"
    assert "picked after a clarification" in found["how long r the sessions"].signals
    price = next(p for p in found.values() if "whats the price" in p.phrasings)
    assert price.target == "cost" and set(price.phrasings) == {"whats the price", "how much is it"}
    assert found["can I bring my dog"].target is None


def test_thumbs_down_proposes_another_entry_than_the_one_voted_down(kb: Path, tmp_path: Path) -> None:
    wrong = Reply(ReplyType.ANSWER, "..", entry="effects-length", confidence=0.9)
    log = record(tmp_path / "log.sqlite3", [[("how long do sessions take", wrong)]], votes=[(0, 0, "down")])
    [p] = Session.open(kb, log_db=log).proposals()
    assert p.signals == ("thumbs down",) and p.target == "session-length"


def test_report_suggest_lists_ids_as_comments_above_valid_yaml(kb: Path, tmp_path: Path) -> None:
    log = record(tmp_path / "log.sqlite3", [[("whats the price", FALLBACK)]])
    code, out = run("report", "--db", str(log), "-k", str(kb), "--suggest")
    assert code == 0 and "# [" in out and "whats the price" in out
    yaml.safe_load(out)
    code, out = run("report", "--db", str(log), "-k", str(kb), "--suggest", "--format", "json")
    assert json.loads(out)[0]["target"] == "cost"


# --- accept -----------------------------------------------------------------------------------------------


def test_accept_by_id_adds_phrasings_and_keeps_comments(kb: Path, tmp_path: Path) -> None:
    log = record(tmp_path / "log.sqlite3", [[("whats the price", FALLBACK), ("how much is it", FALLBACK)]])
    [p] = Session.open(kb, log_db=log).proposals()
    code, out = run("accept", p.id, "-k", str(kb), "--db", str(log))
    assert code == 0, out
    text = (kb / "faq.yaml").read_text()
    assert text.startswith("# The test clinic's FAQ.") and "book an appointment  # the commonest way" in text
    assert set(kb_loader.load(kb).entry("cost").phrasings) == {"what are the fees", "whats the price", "how much is it"}
    assert "answer suite 3/3 passed" in out
    # Nothing else moved: the new file is the old one plus the added lines.
    assert sorted(line for line in text.splitlines() if line not in KB.splitlines()) == [
        "      - how much is it", "      - whats the price"]


def test_accept_rolls_back_a_change_that_breaks_a_passing_case(kb: Path) -> None:
    before = (kb / "faq.yaml").read_bytes()
    outcome = apply_phrasings(kb, {"effects-length": ["how long is one session", "one session"]},
                              tests=kb / "tests.yaml")
    assert not outcome.kept and any("how long is one session" in b for b in outcome.broken)
    assert (kb / "faq.yaml").read_bytes() == before


def test_accept_without_ids_outside_a_terminal_changes_nothing_unless_yes(kb: Path, tmp_path: Path) -> None:
    log = record(tmp_path / "log.sqlite3", [[("whats the price", FALLBACK)], [("can I bring my dog", FALLBACK)]])
    before = (kb / "faq.yaml").read_bytes()
    result = subprocess.run([sys.executable, "-m", "faqbot", "accept", "-k", str(kb), "--db", str(log)],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    assert result.returncode == 2 and "--yes" in result.stdout and (kb / "faq.yaml").read_bytes() == before
    code, out = run("accept", "--yes", "-k", str(kb), "--db", str(log))
    assert code == 0 and "cost: 'whats the price'" in out  # the dog question fits no entry: left for a person


def test_accept_to_another_entry_and_refuses_unknown_ids(kb: Path, tmp_path: Path) -> None:
    log = record(tmp_path / "log.sqlite3", [[("can I bring my dog", FALLBACK)]])
    [p] = Session.open(kb, log_db=log).proposals()
    assert run("accept", p.id, "-k", str(kb), "--db", str(log))[0] == 2  # fits no entry: needs --to
    assert run("accept", "nope00", "-k", str(kb), "--db", str(log))[0] == 2
    code, _ = run("accept", p.id, "--to", "booking", "-k", str(kb), "--db", str(log))
    assert code == 0 and "can I bring my dog" in kb_loader.load(kb).entry("booking").phrasings


def test_accept_new_makes_a_declared_gap_that_hands_the_question_over(kb: Path, tmp_path: Path) -> None:
    log = record(tmp_path / "log.sqlite3", [[("can I bring my dog", FALLBACK)], [("are dogs allowed", FALLBACK)]])
    ids = [p.id for p in Session.open(kb, log_db=log).proposals()]
    code, out = run("accept", ids[0], "--new", "pets", "--question", "Can I bring my pet?", "-k", str(kb),
                    "--db", str(log))
    assert code == 0, out
    text = (kb / "accepted.yaml").read_text()
    assert text.startswith("# Entries made by `faqbot accept --new`") and "  - id: pets\n    kind: gap\n" in text
    reply = Bot.load(kb).ask("can i bring my pet")
    assert reply.type is ReplyType.GAP and reply.entry == "pets"
    assert run("accept", ids[0], "--new", "pets", "-k", str(kb), "--db", str(log))[0] == 2  # exists already


def test_accept_in_a_terminal_asks_for_each_suggestion(kb: Path, tmp_path: Path) -> None:
    log = record(tmp_path / "log.sqlite3", [[("whats the price", FALLBACK)], [("how long r the sessions", FALLBACK)],
                                            [("can I bring my dog", FALLBACK)]])
    pid, fd = pty.fork()
    if pid == 0:  # the child: faqbot accept on a real terminal
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        os.execve(sys.executable, [sys.executable, "-m", "faqbot", "accept", "-k", str(kb), "--db", str(log)], env)
    seen = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if not select.select([fd], [], [], 1.0)[0]:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if seen.count(b"accept? [y]es") > seen.count(b"\x00") and seen.endswith(b"[q]uit: "):
            last = seen[seen.rfind(b"\x00") + 1:]
            os.write(fd, b"y\n" if b"whats the price" in last else b"n\n")
            seen += b"\x00"  # marks the prompt answered
        elif seen.endswith(b"n[e]w entry / [n]o / [q]uit: "):  # the dog question fits no entry
            os.write(fd, b"e\npets\nCan I bring my pet?\n")
            seen += b"\x01"
    else:
        os.kill(pid, 9)
    os.waitpid(pid, 0)
    text = seen.decode(errors="replace")
    assert text.count("accept? [y]es") == 2 and "added 1 phrasing(s) to 1 entry; answer suite 3/3 passed" in text
    assert "no entry fits" in text
    phrasings = kb_loader.load(kb)
    assert phrasings.entry("pets").question == "Can I bring my pet?" and phrasings.entry("pets").is_gap
    assert "whats the price" in phrasings.entry("cost").phrasings
    assert "how long r the sessions" not in phrasings.entry("session-length").phrasings


# --- dashboard --------------------------------------------------------------------------------------------


def test_dashboard_shows_rates_not_sums(kb: Path, tmp_path: Path) -> None:
    answer = Reply(ReplyType.ANSWER, "..", entry="booking", confidence=1.0)
    gap = Reply(ReplyType.GAP, "Our team can tell you.", entry="cost", confidence=0.9)
    log = record(tmp_path / "log.sqlite3", [[("book", answer), ("book again", answer), ("??", FALLBACK),
                                             ("whats the price", gap)]], votes=[(0, 0, "up"), (0, 1, "down")])
    code, page = run("report", "--db", str(log), "-k", str(kb), "--format", "html")
    assert code == 0
    assert '<div class="tile" data-rate="answer"><b>50%</b>' in page
    assert '<div class="tile" data-rate="up"><b>50%</b>' in page
    assert '<div class="tile" data-rate="fallback"><b>25%</b>' in page
    assert '<div class="tile" data-rate="other"><b>25%</b>' in page  # the declared gap
    assert "http://" not in page and "https://" not in page and "<script" not in page  # self-contained
    assert "faqbot accept " in page and "test" not in page.split("kb-version")[0][-5:]
