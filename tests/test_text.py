"""Normalisation is the first step of every comparison; these pin its behaviour."""

from faqbot.text import abbreviated, apply_synonyms, char_ngrams, normalize, stem


def test_normalize_folds_case_accents_punctuation_and_contractions() -> None:
    assert normalize("Isn't KETAMINE  addictive?!") == "is not ketamine addictive"
    assert normalize("Café’s don’t") == "cafe do not"
    assert normalize("65.8% sober") == "65.8 sober"


def test_normalize_of_punctuation_only_is_empty() -> None:
    assert normalize("?????") == ""
    assert normalize("") == ""


def test_stem_meets_plural_and_verb_forms() -> None:
    assert stem("cravings") == stem("craving")
    assert stem("doses") == stem("dose")
    assert stem("studies") == "study"
    assert stem("this") == "this" and stem("stress") == "stress"


def test_synonyms_replace_multiword_variants_first() -> None:
    table = {("special", "k"): "ketamine", ("k",): "ketamine", ("booze",): "alcohol"}
    assert apply_synonyms("is special k ok with booze".split(), table) == "is ketamine ok with alcohol".split()


def test_char_ngrams_mark_word_boundaries() -> None:
    assert char_ngrams("opioid") == ["<op", "opi", "pio", "ioi", "oid", "id>"]
    assert char_ngrams("k") == ["<k>"]


def test_chat_abbreviations_are_spelled_out_even_beside_punctuation() -> None:
    assert normalize("any appts this wknd?") == "any appointments this weekend"
    assert normalize("can u help w/ that, thx") == "can you help with that thanks"
    assert normalize("(hrs)") == "hours"
    assert abbreviated("open 2moro? hrs?") and not abbreviated("what are your hours")
