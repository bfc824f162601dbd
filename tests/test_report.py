"""The learning loop's read side: ``faqbot report`` groups what the bot could not answer and suggests phrasings."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml

from faqbot import Bot, Recorder, report
from faqbot.exceptions import ConfigError
from faqbot.models import Option, Reply, ReplyType

from conftest import REPO, SMALL_KB

FALLBACK = Reply(ReplyType.FALLBACK, "Sorry, I don't know that one.")


def answer(entry: str, confidence: float = 0.9) -> Reply:
    return Reply(ReplyType.ANSWER, "...", entry=entry, confidence=confidence)


def clarify(*entries: str) -> Reply:
    return Reply(ReplyType.CLARIFY, "Did you mean one of these?", confidence=0.5,
                 options=tuple(Option(e, e) for e in entries))


def log(path: Path, *sessions: Iterable[tuple[str, Reply]], votes: Iterable[tuple[int, int, str]] = ()) -> Path:
    """Record each session's (text, reply) turns as turns t0, t1, ...; votes are (session, turn, vote)."""
    with Recorder(path) as rec:
        for s, turns in enumerate(sessions):
            for t, (text, reply) in enumerate(turns):
                rec.record_turn(f"session-{s:04d}-xxxxxxxx", f"t{t}", text, reply, "test")
        for s, t, vote in votes:
            rec.record_feedback(f"session-{s:04d}-xxxxxxxx", f"t{t}", vote)
    return path


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Bot:
    kb = tmp_path_factory.mktemp("kb")
    (kb / "faq.yaml").write_text(SMALL_KB, encoding="utf-8")
    return Bot.load(kb)


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    """A small but complete log: unanswered, low confidence, votes, a clarification with a pick, a crisis."""
    return log(tmp_path / "log.sqlite3",
               [("how much does it cost", FALLBACK), ("how much does it cost?", FALLBACK)],
               [("How much does it cost??", FALLBACK), ("can I bring my dog", FALLBACK)],
               [("how long r the sessions", clarify("session-length", "effects-length")),
                ("the first one", answer("session-length", 1.0))],
               [("how long", clarify("session-length", "effects-length")),
                ("How long do the effects last?", answer("effects-length", 1.0))],
               [("help with addiction", answer("alcohol", 0.38)), ("booking", answer("booking", 1.0))],
               [("I want to end my life", Reply(ReplyType.CRISIS, "Call 988.", confidence=1.0))],
               votes=[(4, 1, "up"), (4, 1, "down"), (3, 1, "up")])


# --- grouping ------------------------------------------------------------------------------------------


def test_near_identical_unanswered_questions_are_one_group(filled: Path) -> None:
    groups = report.build(filled).unanswered
    assert [(g.text.lower().rstrip("?"), g.count) for g in groups] == [("how much does it cost", 3),
                                                                       ("can i bring my dog", 1)]
    assert set(groups[0].examples) == {"how much does it cost", "how much does it cost?", "How much does it cost??"}


def test_typos_and_small_rewordings_join_the_group(tmp_path: Path) -> None:
    path = log(tmp_path / "log.sqlite3", [("how much does it cost", FALLBACK), ("how mcuh does it cost", FALLBACK),
                                          ("How much does this cost?", FALLBACK), ("cost it does how much", FALLBACK),
                                          ("how much does it cost", FALLBACK)])
    [group] = report.build(path).unanswered
    assert (group.text, group.count, len(group.examples)) == ("how much does it cost", 5, 3)


def test_different_questions_on_one_subject_stay_apart(tmp_path: Path) -> None:
    path = log(tmp_path / "log.sqlite3", [("how much does it cost", FALLBACK), ("does insurance cover the cost", FALLBACK),
                                          ("cost", FALLBACK), ("How much does it cost?", FALLBACK)])
    groups = report.build(path).unanswered
    assert sorted(g.count for g in groups) == [1, 1, 2]


def test_low_confidence_answers_are_listed_with_their_entry(filled: Path, bot: Bot) -> None:
    result = report.build(filled, bot=bot)
    assert result.low_confidence_below == pytest.approx(bot.kb.settings.thresholds.answer + 0.15)
    assert [(g.text, g.entries, g.confidence) for g in result.low_confidence] == [
        ("help with addiction", ("alcohol",), 0.38)]


# --- votes and clarifications -------------------------------------------------------------------------


def test_entries_with_most_thumbs_down_come_first_and_a_changed_vote_counts_once(tmp_path: Path, bot: Bot) -> None:
    path = log(tmp_path / "log.sqlite3",
               [("book?", answer("booking")), ("alcohol?", answer("alcohol")), ("again", answer("alcohol"))],
               [("heroin", answer("opioids")), ("alcohol", answer("alcohol"))],
               votes=[(0, 0, "down"), (0, 1, "down"), (0, 2, "down"), (1, 0, "up"), (1, 1, "up"), (1, 1, "down")])
    votes = report.build(path, bot=bot).thumbs_down
    assert [(e.entry, e.down, e.up, e.answers) for e in votes] == [("alcohol", 3, 0, 3), ("booking", 1, 0, 1)]
    assert votes[0].question == "Does ketamine therapy help with alcohol addiction?"
    assert [(d.up, d.down) for d in report.build(path).days] == [(1, 4)]


def test_clarification_shows_the_options_and_what_people_picked(filled: Path) -> None:
    [c] = report.build(filled).clarifications
    assert c.options == ("effects-length", "session-length") and c.offered == 2 and c.neither == 0
    assert dict(c.picked) == {"session-length": 1, "effects-length": 1}


def test_a_clarification_followed_by_something_else_picked_neither(tmp_path: Path) -> None:
    path = log(tmp_path / "log.sqlite3", [("how long", clarify("session-length", "effects-length")),
                                          ("how do i book", answer("booking"))])
    [c] = report.build(path).clarifications
    assert c.neither == 1 and dict(c.picked) == {"session-length": 0, "effects-length": 0}


def test_a_real_conversation_pick_is_tracked(tmp_path: Path, bot: Bot) -> None:
    conv = bot.conversation()
    path = log(tmp_path / "log.sqlite3", [(q, conv.ask(q)) for q in ("how long", "the second one")])
    [c] = report.build(path).clarifications
    second = json.loads(sqlite3.connect(path).execute("SELECT options FROM turns WHERE type = 'clarify'")
                        .fetchone()[0])[1]
    assert dict(c.picked)[second] == 1


# --- privacy and windows -------------------------------------------------------------------------------


def test_crisis_turns_are_counted_never_shown(filled: Path) -> None:
    result = report.build(filled)
    assert sum(d.crisis for d in result.days) == 1
    for rendered in (json.dumps(result.to_dict()), result.to_csv(), result.to_table()):
        assert "end my life" not in rendered


def test_days_limits_the_report_to_recent_turns(filled: Path) -> None:
    with sqlite3.connect(filled) as db:
        db.execute("UPDATE turns SET ts = ? WHERE text = 'can I bring my dog'", (time.time() - 10 * 86_400,))
    assert report.build(filled).turns == 11
    recent = report.build(filled, days=7)
    assert recent.turns == 10 and len(recent.days) == 1
    assert [g.count for g in recent.unanswered] == [3]


# --- rendering -----------------------------------------------------------------------------------------


def test_table_is_aligned_and_fits_100_columns(filled: Path, bot: Bot) -> None:
    table = report.build(filled, bot=bot).to_table()
    assert max(len(line) for line in table.splitlines()) <= 100
    assert "Unanswered questions" in table and "Most thumbs down" in table and "Clarifications" in table
    assert "    3  " in table  # the count column, right-aligned


def test_json_and_csv_carry_the_same_sections(filled: Path) -> None:
    result = report.build(filled)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["unanswered"][0]["count"] == 3 and data["turns"] == 11
    assert data["clarifications"][0]["picked"] == {"session-length": 1, "effects-length": 1}
    sections = [row["section"] for row in csv.DictReader(io.StringIO(result.to_csv()))]
    assert set(sections) == {"day", "unanswered", "low_confidence", "thumbs_down", "clarification"}


def test_a_missing_log_says_where_to_look(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--db"):
        report.build(tmp_path / "nope.sqlite3")
    assert not (tmp_path / "nope.sqlite3").exists()


def test_reading_a_log_never_writes_to_it(filled: Path) -> None:
    before = filled.read_bytes()
    report.build(filled)
    report.suggest(filled)
    assert filled.read_bytes() == before


# --- suggestions ---------------------------------------------------------------------------------------


def test_suggest_proposes_the_clarified_question_for_the_entry_picked(filled: Path, bot: Bot) -> None:
    snippet = report.suggest(filled, bot)
    data = yaml.safe_load(snippet)
    assert data["session-length"]["phrasings"] == ["how long r the sessions"]
    assert data["alcohol"]["phrasings"] == ["help with addiction"]  # answered at low confidence
    assert snippet.startswith("# ") and "paste" in snippet


def test_suggest_skips_phrasings_the_kb_already_has(filled: Path, bot: Bot) -> None:
    # "how long" (picked: effects-length) is already a phrasing of both entries.
    assert "effects-length" not in yaml.safe_load(report.suggest(filled, bot))
    assert yaml.safe_load(report.suggest(filled))["effects-length"]["phrasings"] == ["how long"]


def test_suggest_skips_answers_voted_down_and_redacted_texts(tmp_path: Path, bot: Bot) -> None:
    path = log(tmp_path / "log.sqlite3",
               [("is this for alcoholics", answer("alcohol", 0.42)), ("dose for 80 kg", answer("alcohol", 0.42))],
               [("call me on 206-589-5958 to book", answer("booking", 0.42))],
               votes=[(0, 1, "down")])
    assert yaml.safe_load(report.suggest(path, bot)) == {"alcohol": {"phrasings": ["is this for alcoholics"]}}


def test_suggest_with_nothing_to_add_is_still_valid_yaml(tmp_path: Path, bot: Bot) -> None:
    path = log(tmp_path / "log.sqlite3", [("how much does it cost", FALLBACK)])
    assert yaml.safe_load(report.suggest(path, bot)) == {}


# --- the command ---------------------------------------------------------------------------------------


def faqbot(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAQBOT_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "faqbot", "report", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120, check=False)


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "faq.yaml").write_text(SMALL_KB, encoding="utf-8")
    return kb


def test_cli_report_json(filled: Path, kb_dir: Path) -> None:
    result = faqbot("--db", str(filled), "--format", "json", "--knowledge", str(kb_dir))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["unanswered"][0]["count"] == 3
    assert data["thumbs_down"] == [{"entry": "booking", "question": "How do I book a consultation?", "down": 1,
                                    "up": 0, "answers": 1}]


def test_cli_report_csv(filled: Path) -> None:
    result = faqbot("--db", str(filled), "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {"section": "unanswered", "count": "3"}.items() <= rows[1].items()


def test_cli_report_table_reads_the_default_log_in_the_working_directory(filled: Path) -> None:
    filled.rename(filled.parent / "faqbot-log.sqlite3")
    result = faqbot(cwd=filled.parent)
    assert result.returncode == 0, result.stderr
    assert "Unanswered questions" in result.stdout and "how much does it cost" in result.stdout


def test_cli_report_suggest(filled: Path, kb_dir: Path) -> None:
    result = faqbot("--db", str(filled), "--suggest", "-k", str(kb_dir))
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["session-length"]["phrasings"] == ["how long r the sessions"]


def test_cli_report_without_a_log_exits_2_with_a_hint(tmp_path: Path) -> None:
    result = faqbot("--db", str(tmp_path / "missing.sqlite3"))
    assert result.returncode == 2
    assert "no conversation log at" in result.stderr and "--db" in result.stderr
    assert "Traceback" not in result.stderr
