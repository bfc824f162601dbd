"""Loading and validation of knowledge files: every error names file, line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from faqbot import KnowledgeBase, KnowledgeError, load
from faqbot.models import Entry

GOOD_ENTRY = """
  - id: misuse
    question: Is ketamine addictive?
    answer: People do misuse ketamine sometimes.
    phrasings: [can people abuse ketamine, will i get hooked]
    related: [setting]
  - id: setting
    question: Where is the treatment given?
    answer: In an outpatient clinic.
    phrasings: [where do i go for treatment]
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> KnowledgeError:
    write(tmp_path, "faq.yaml", text)
    with pytest.raises(KnowledgeError) as info:
        load(tmp_path)
    return info.value


def test_loads_entries_settings_synonyms_and_smalltalk(tmp_path: Path) -> None:
    write(tmp_path, "faq.yaml", "entries:" + GOOD_ENTRY)
    write(tmp_path, "settings.yaml", """
        settings:
          name: Clinic bot
          greeting: Hi, I am an automated assistant.
          thresholds: {answer: 0.6, clarify: 0.3, margin: 0.1}
        synonyms:
          ketamine: [k, special k]
        smalltalk:
          - id: thanks
            phrasings: [thanks, thank you]
            answer: You're welcome.
        """)
    kb = load(tmp_path)
    assert [e.id for e in kb.entries] == ["misuse", "setting"]
    assert kb.settings.name == "Clinic bot"
    assert kb.settings.thresholds.answer == 0.6
    assert kb.synonyms[("special", "k")] == "ketamine"
    assert kb.smalltalk[0].id == "thanks"
    assert kb.entry("misuse").file.endswith("faq.yaml") and kb.entry("misuse").line == 2


def test_test_files_are_not_part_of_the_kb(tmp_path: Path) -> None:
    write(tmp_path, "faq.yaml", "entries:" + GOOD_ENTRY)
    write(tmp_path, "tests.yaml", "cases:\n  - {q: hi, expect: misuse}\n")
    assert len(load(tmp_path).entries) == 2


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    err = load_error(tmp_path, "entries:\n  - id: a\n    question: [unclosed\n    answer: x\n")
    assert err.file and err.file.endswith("faq.yaml")
    assert err.line is not None and err.line >= 3
    assert "invalid YAML" in str(err)


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    err = load_error(tmp_path, "entries:\n  - id: a\n    question: Q?\n    anwser: x\n")
    message = str(err)
    assert "faq.yaml:4" in message
    assert "unknown key 'anwser'" in message and "did you mean 'answer'" in message


def test_missing_answer_is_reported_with_field(tmp_path: Path) -> None:
    err = load_error(tmp_path, "entries:\n  - id: a\n    question: Q?\n")
    assert "missing 'answer'" in str(err)
    assert err.field == "answer"


def test_duplicate_id_points_at_both_places(tmp_path: Path) -> None:
    err = load_error(tmp_path, "entries:\n  - {id: a, question: Q, answer: x}\n  - {id: a, question: R, answer: y}\n")
    assert "duplicate entry id 'a'" in str(err)
    assert "faq.yaml:2" in str(err) and err.line == 3


def test_related_must_name_an_entry(tmp_path: Path) -> None:
    err = load_error(tmp_path, "entries:\n  - {id: misuse, question: Q, answer: x, related: [misues]}\n")
    assert "'related' names 'misues'" in str(err) and "did you mean 'misuse'" in str(err)


def test_empty_phrasing_is_located(tmp_path: Path) -> None:
    err = load_error(tmp_path, "entries:\n  - id: a\n    question: Q?\n    answer: x\n    phrasings:\n      - ok\n      -\n")
    assert "empty or non-text item 2 in 'phrasings'" in str(err)
    assert err.line == 7


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    err = load_error(tmp_path, "entries:\n  - id: a\n    question: Q?\n    answer: x\n    answer: y\n")
    assert "duplicate key 'answer'" in str(err)


def test_several_errors_are_reported_together(tmp_path: Path) -> None:
    err = load_error(tmp_path, "entries:\n  - {id: a, question: Q}\n  - {id: b, answer: x}\n")
    assert "missing 'answer'" in str(err) and "missing 'question'" in str(err)


def test_threshold_out_of_range(tmp_path: Path) -> None:
    write(tmp_path, "faq.yaml", "entries:" + GOOD_ENTRY)
    err = load_error_file(tmp_path, "settings.yaml", "settings:\n  thresholds: {answer: 3}\n")
    assert "between 0 and 1" in str(err) and err.line == 2


def load_error_file(tmp_path: Path, name: str, text: str) -> KnowledgeError:
    write(tmp_path, name, text)
    with pytest.raises(KnowledgeError) as info:
        load(tmp_path)
    return info.value


def test_missing_directory_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="--knowledge"):
        load(tmp_path / "nope")


def test_from_entries_without_yaml() -> None:
    kb = KnowledgeBase.from_entries([{"id": "a", "phrasings": ["hello there"], "answer": "x"},
                                     Entry(id="b", question="Q?", answer="y")])
    assert kb.entry("a").question == "hello there"
    assert kb.has("b") and kb.version


def test_bundled_kb_loads() -> None:
    kb = load()
    assert len(kb.entries) >= 20
    assert all(len(e.phrasings) >= 8 for e in kb.entries)
