"""The faqbot command, run as a real subprocess the way scripts and people use it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from faqbot.knowledge import bundled_path

REPO = Path(__file__).resolve().parent.parent


def faqbot(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "faqbot", *args], input=stdin, capture_output=True, text=True,
                          env=full_env, timeout=120)


def test_ask_json_answers_from_the_misuse_entry() -> None:
    result = faqbot("ask", "is ketamine addictive?", "--json")
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["type"] == "answer" and reply["entry"] == "misuse"


def test_ask_json_declines_the_weather() -> None:
    reply = json.loads(faqbot("ask", "what's the weather", "--json").stdout)
    assert reply["type"] == "fallback" and reply["entry"] is None


def test_ask_readable_output_shows_text_and_tag() -> None:
    out = faqbot("ask", "is ketamine addictive?").stdout
    assert "[answer · misuse" in out


def test_ask_explain_lists_candidates() -> None:
    data = json.loads(faqbot("ask", "alchol results", "--json", "--explain").stdout)
    assert data["explain"][0]["entry"] == "alcohol-results"
    assert {"score", "confidence", "terms", "phrasing"} <= set(data["explain"][0])


def test_ask_batch_answers_each_line_independently_in_order() -> None:
    lines = "does ketamine work for alcohol addiction?\nwhat about opioids?\nwhat's the weather\n"
    result = faqbot("ask", "--json", "-", stdin=lines)
    replies = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(replies) == 3
    assert replies[0]["entry"] == "alcohol-results"
    assert replies[2]["type"] == "fallback"


def test_chat_json_keeps_one_conversation() -> None:
    lines = "what is ketamine therapy?\nhow does it work?\nthanks\n"
    replies = [json.loads(line) for line in faqbot("chat", "--json", stdin=lines).stdout.splitlines()]
    assert [r["entry"] for r in replies] == ["what-is-ketamine-therapy", "how-it-works", "thanks"]


def test_chat_json_crisis_mid_conversation() -> None:
    lines = "is ketamine addictive?\nhonestly i want to die\nhow do i book?\n"
    replies = [json.loads(line) for line in faqbot("chat", "--json", stdin=lines).stdout.splitlines()]
    assert [r["type"] for r in replies] == ["answer", "crisis", "answer"]


def test_chat_shows_a_multi_question_answer_with_a_section_each() -> None:
    out = faqbot("chat", stdin="would it ease my cravings and my anxiety\ncost & parking?\n").stdout
    assert "**Does ketamine therapy reduce cravings?**" in out
    assert "**Does ketamine therapy help with depression and anxiety?**" in out
    assert "[answer · cravings + mood-depression-anxiety" in out
    assert "[gap · gap-cost + gap-location]" in out


def test_chat_plain_prints_the_greeting() -> None:
    out = faqbot("chat", stdin="hello\n").stdout
    assert "automated" in out.lower().split("\n")[0]


def test_test_command_meets_the_shipped_floor_and_says_so() -> None:
    # The floor tests/run.sh uses; the misses are listed, not hidden.
    result = faqbot("test", "--min-accuracy", "0.93")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "floor 93% met" in result.stdout
    assert faqbot("test", "--min-accuracy", "1.0").returncode == (0 if " 0 failed" in result.stdout else 1)


def test_test_command_fails_and_names_the_thief(tmp_path: Path) -> None:
    suite = tmp_path / "tests.yaml"
    suite.write_text("cases:\n  - {q: is ketamine addictive, expect: consultation}\n  - {q: hello, expect: smalltalk}\n")
    result = faqbot("test", str(suite))
    assert result.returncode == 1
    assert "consultation -> misuse: 1" in result.stdout
    assert "1 passed, 1 failed" in result.stdout


def test_test_command_rejects_unknown_expectations(tmp_path: Path) -> None:
    suite = tmp_path / "tests.yaml"
    suite.write_text("cases:\n  - {q: is ketamine addictive, expect: misuses}\n")
    result = faqbot("test", str(suite))
    assert result.returncode == 2 and "misuses" in result.stdout


def test_lint_is_clean_on_the_default_kb() -> None:
    result = faqbot("lint", "--strict")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 warning(s)" in result.stdout


def test_lint_reports_shadowed_phrasings(tmp_path: Path) -> None:
    (tmp_path / "faq.yaml").write_text(
        "entries:\n"
        "  - {id: a, question: How do I book a consultation, answer: x, phrasings: [book a consultation]}\n"
        "  - {id: b, question: What is the phone number, answer: y,"
        " phrasings: [phone number, how do i book a consultation]}\n")
    out = faqbot("lint", "--knowledge", str(tmp_path)).stdout
    assert "entry 'b'" in out and "how do i book a consultation" in out
    assert "only 2 phrasings" in out


def test_lint_reports_repeated_phrasings(tmp_path: Path) -> None:
    (tmp_path / "faq.yaml").write_text(
        "entries:\n"
        "  - {id: a, question: How do I book, answer: x, phrasings: [book a slot, Book a slot!, price list]}\n"
        "  - {id: b, question: What does it cost, answer: y, phrasings: [price list, cost]}\n")
    out = faqbot("lint", "--knowledge", str(tmp_path)).stdout
    assert "'Book a slot!' is repeated" in out
    assert "entry 'b'" in out and "'price list' is also in 'a'" in out


def test_knowledge_flag_and_env_pick_another_kb(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "faq.yaml").write_text("entries:\n  - {id: hours, question: When are you open, answer: 9 to 5,"
                                 " phrasings: [opening hours, what time do you open]}\n")
    assert json.loads(faqbot("ask", "opening hours?", "--json", "--knowledge", str(kb)).stdout)["entry"] == "hours"
    env_reply = faqbot("ask", "opening hours?", "--json", env={"FAQBOT_KNOWLEDGE": str(kb)})
    assert json.loads(env_reply.stdout)["entry"] == "hours"


def test_broken_kb_gives_file_and_line_and_exit_2(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    shutil.copytree(bundled_path(), kb)
    faq = next(p for p in kb.glob("*.yaml") if "entries:" in p.read_text())
    faq.write_text(faq.read_text().replace("answer:", "anwser:", 1))
    result = faqbot("ask", "hello", "--knowledge", str(kb))
    assert result.returncode == 2
    assert f"{faq}:" in result.stderr and "did you mean 'answer'" in result.stderr


@pytest.mark.parametrize("command", ["ask", "chat", "test", "lint", "serve"])
def test_every_command_has_help(command: str) -> None:
    result = faqbot(command, "--help")
    assert result.returncode == 0 and "--knowledge" in result.stdout
