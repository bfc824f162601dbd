"""The lexical tier: rare words, typos, synonyms, bigrams, learned weights, confidence and its explanation."""

from __future__ import annotations

import math

import pytest

from faqbot import Bot, Entry
from faqbot.lexical import Evidence, Lexical as Engine, LexicalOptions as EngineOptions, _postings

FAQ = [
    Entry(id="alcohol", question="Does ketamine therapy work for alcohol addiction?", answer="65.8% stayed sober.",
          phrasings=("ketamine for alcohol", "can it help me stop drinking alcohol", "alcohol results")),
    Entry(id="opioid", question="Does ketamine therapy work for opioid addiction?", answer="Twice as likely.",
          phrasings=("ketamine for opioids", "can it help me quit opioids", "opioid results")),
    Entry(id="what", question="What is ketamine therapy?", answer="A treatment.",
          phrasings=("explain ketamine therapy", "ketamine therapy meaning", "tell me about ketamine therapy")),
    Entry(id="hours", question="When are you open?", answer="9 to 5.",
          phrasings=("opening hours", "what time do you open", "are you open on weekends")),
]
SYNONYMS = {("booze",): "alcohol", ("heroin",): "opioid"}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(FAQ, synonyms=SYNONYMS)


def top(engine: Engine, text: str) -> str:
    ranked = engine.rank(text, limit=3)
    return ranked[0].entry.id if ranked else ""


def test_rare_word_outweighs_a_common_one(engine: Engine) -> None:
    assert top(engine, "ketamine ketamine alcohol") == "alcohol"


def test_typos_fold_to_known_words(engine: Engine) -> None:
    assert top(engine, "ketamin for alchol") == "alcohol"
    assert top(engine, "opiod adiction") == "opioid"


def test_synonyms_map_slang_to_the_entry_terms(engine: Engine) -> None:
    assert top(engine, "does it help with booze") == "alcohol"
    assert top(engine, "heroin") == "opioid"


def test_candidates_come_best_first_within_the_limit(engine: Engine) -> None:
    ranked = engine.rank("ketamine therapy for addiction", limit=2)
    assert len(ranked) == 2
    assert ranked[0].score >= ranked[1].score
    assert ranked[0].confidence >= ranked[1].confidence


def test_explanation_names_the_shared_terms_and_the_closest_phrasing(engine: Engine) -> None:
    best = engine.rank("what time do you open on sunday")[0]
    assert best.entry.id == "hours"
    assert "open" in best.why.terms
    assert best.why.phrasing in FAQ[3].texts
    assert {"words", "chars", "fuzzy", "coverage", "margin", "known"} <= dict(best.why.parts).keys()


def test_nothing_shared_means_no_candidates(engine: Engine) -> None:
    assert engine.rank("?????") == []
    assert engine.rank("") == []


def test_out_of_scope_questions_get_low_confidence(engine: Engine) -> None:
    for text in ("write me a poem about the sea", "what's the weather tomorrow", "asdkjhasd qwpoe"):
        ranked = engine.rank(text)
        assert not ranked or ranked[0].confidence < 0.35, text


def test_a_clear_match_gets_high_confidence(engine: Engine) -> None:
    assert engine.rank("does ketamine therapy work for alcohol addiction")[0].confidence > 0.8


def test_confidence_grows_with_lead_coverage_and_known_words(engine: Engine) -> None:
    def c(*, margin: float, coverage: float = 1.0, known: float = 1.0) -> float:
        return engine.confidence(Evidence(0, margin=margin, coverage=coverage, known=known))

    assert c(margin=0.1) < c(margin=0.5)
    assert c(margin=0.3, coverage=0.5) < c(margin=0.3, coverage=1.0)
    assert c(margin=0.3, known=0.5) < c(margin=0.3, known=1.0)
    assert all(0.0 <= c(margin=m, coverage=v) <= 1.0 for m in (-50, 0, 50) for v in (0, 1))


def test_learned_weights_separate_entries_that_share_most_words() -> None:
    """Centroids alone confuse near-identical entries; the perceptron pass learns the word that tells them apart."""
    entries = [Entry(id=f"e{i}", question=f"how do i reset my {thing} password", answer="-",
                     phrasings=tuple(f"{verb} my {thing} password" for verb in ("reset", "change", "recover")))
               for i, thing in enumerate(("email", "bank", "phone", "wifi"))]
    engine = Engine(entries)
    for i, thing in enumerate(("email", "bank", "phone", "wifi")):
        assert top(engine, f"forgot the {thing} password") == f"e{i}"


def test_build_is_deterministic() -> None:
    a, b = Engine(FAQ), Engine(FAQ)
    for text in ("alcohol", "opening times", "what is it"):
        assert [(c.entry.id, c.score) for c in a.rank(text)] == [(c.entry.id, c.score) for c in b.rank(text)]


def test_an_empty_or_single_entry_kb_still_ranks() -> None:
    assert Engine([]).rank("anything") == []
    only = Engine(FAQ[:1])
    assert top(only, "alcohol") == "alcohol"


def test_training_can_be_switched_off() -> None:
    plain = Engine(FAQ, options=EngineOptions(epochs=0))
    assert top(plain, "ketamine for alcohol") == "alcohol"


def test_postings_drop_weights_under_the_prune_threshold() -> None:
    postings = _postings([{"a": 0.5, "b": 0.01}, {"a": -0.3}], prune=0.02)
    assert postings == {"a": ((0, 1), (0.5, -0.3))}


def test_default_kb_routes_substances_by_their_rare_word() -> None:
    bot = Bot.load(encoder="off")
    assert bot.engine.rank("does ketamine work for alcohol")[0].entry.id == "alcohol-results"
    assert bot.engine.rank("does ketamine work for opioids")[0].entry.id == "opioid-results"


def test_logistic_is_symmetric_around_its_midpoint(engine: Engine) -> None:
    o = engine.options
    # With no lead, full coverage and every word known, z = bias + coverage + known weights.
    z = o.confidence_bias + o.confidence_coverage + o.confidence_known
    assert engine.confidence(Evidence(0, coverage=1.0, known=1.0)) == pytest.approx(1 / (1 + math.exp(-z)))
