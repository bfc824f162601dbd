"""Text normalisation: pure functions shared by the engine, safety checks and dialog."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})

# Contractions expand before punctuation is stripped, so "don't" keeps its negation as a word.
_CONTRACTIONS: dict[str, str] = {
    "won't": "will not", "can't": "can not", "cannot": "can not", "shan't": "shall not",
    "ain't": "is not", "let's": "let us", "y'all": "you all", "gonna": "going to",
    "wanna": "want to", "gotta": "got to", "dunno": "do not know", "kinda": "kind of",
    "u": "you", "ur": "your", "r": "are", "pls": "please", "plz": "please", "thx": "thanks",
    "ty": "thank you", "im": "i am", "dont": "do not", "doesnt": "does not", "didnt": "did not",
    "isnt": "is not", "wont": "will not", "cant": "can not", "whats": "what is",
    "hows": "how is", "wheres": "where is", "whos": "who is", "ive": "i have", "youre": "you are",
    # chat spelling
    "wat": "what", "wut": "what", "wats": "what is", "wuts": "what is", "hw": "how", "wrk": "work",
    "abt": "about", "bc": "because", "cuz": "because", "coz": "because", "tho": "though", "rn": "right now",
    "idk": "i do not know", "wht": "what", "shd": "should",
}
# Chat abbreviations of the words visitors ask with ("what r ur hrs", "any appts this wknd", "help w that"): the
# encoder reads them far from the words they stand for, so a message with one is also encoded spelled out. Not words
# or slang that mean something else here: "addy" (Adderall), "bout" (a bout of flu), "min" (minimum).
ABBREVIATIONS: dict[str, str] = {
    "hrs": "hours", "hr": "hour", "mins": "minutes", "appt": "appointment", "appts": "appointments",
    "addr": "address", "wk": "week", "wks": "weeks", "wknd": "weekend", "wkend": "weekend",
    "wknds": "weekends", "wkends": "weekends", "yr": "year", "yrs": "years", "tmrw": "tomorrow", "tmr": "tomorrow",
    "thru": "through", "sesh": "session", "seshes": "sessions", "ppl": "people", "b4": "before",
    "dr": "doctor", "drs": "doctors", "msg": "message", "w": "with", "w/": "with", "w/o": "without",
    "some1": "someone", "sum1": "someone", "any1": "anyone", "ne1": "anyone", "every1": "everyone",
}
_CONTRACTIONS.update(ABBREVIATIONS)
_SUFFIX_CONTRACTIONS = (("n't", " not"), ("'re", " are"), ("'ve", " have"), ("'ll", " will"),
                        ("'d", " would"), ("'m", " am"), ("'s", ""))

_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
_SPACE = re.compile(r"\s+")
_EDGES = ".,;:!?()[]{}\"*~"  # punctuation around a word ("hrs?", "(u)"), stripped before it is spelled out

STOPWORDS: frozenset[str] = frozenset("""
a an the and or but if of to in on at by for with about as into from up down out over so than too very
is am are was were be been being do does did doing have has had having will would shall should can could
may might must i me my mine we us our you your yours he him his she her it its they them their this that
these those there here which whom whose just also any some such then
please tell know want like get got let
""".split())


# Everyday words that are not stopwords but say little about which entry a question wants ("i get *really bad*
# cravings"): they still count as features, but weigh less when judging how much of a question an entry covers.
COMMON_WORDS: frozenset[str] = frozenset("""
really even actually still ever never always forever already again anyway maybe probably basically literally totally
quite pretty much many more most lot lots few little bit kind sort way thing things stuff something anything
bad good great better best worse worst big small real right sure okay ok yes yeah no not now today soon later
all every each one two other another same new old own whole
go goes going went gone come comes coming came back make makes made take takes took give gives given gave
put say says said see look find think feel feels felt try need needs use used using work works working keep
start starts started stop stops stopped
people person someone somebody anyone everyone guy guys time times day days year years thanks thank hi hey
nah yep nope lol lmao omg btw hmm um uh
""".split())


def fold(text: str) -> str:
    """Lower-case, strip accents and unify apostrophes: the first step of every comparison."""
    text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.lower()


def _expand(word: str) -> str:
    if word in _CONTRACTIONS:
        return _CONTRACTIONS[word]
    for suffix, replacement in _SUFFIX_CONTRACTIONS:
        if word.endswith(suffix) and len(word) > len(suffix):
            return word[: -len(suffix)] + replacement
    return word


def normalize(text: str) -> str:
    """Folded text with contractions expanded and punctuation removed, words joined by one space."""
    words = [_expand(w) for w in _tokens(text)]
    return " ".join(_WORD.findall(" ".join(words)))


def _tokens(text: str) -> list[str]:
    """The folded words of ``text`` as typed, punctuation around each stripped: what ``normalize`` spells out."""
    return [w.strip(_EDGES) for w in _SPACE.split(fold(text)) if w]


def abbreviated(text: str) -> bool:
    """Whether a message uses a chat abbreviation (``ABBREVIATIONS``) that ``normalize`` spells out."""
    return any(w in ABBREVIATIONS for w in _tokens(text))


def words(text: str) -> list[str]:
    """The normalised words of ``text``, stopwords kept (safety and dialog need them)."""
    return normalize(text).split()


def stem(word: str) -> str:
    """A light suffix stripper: enough to meet "cravings"/"craving" and "helps"/"help" without a lexicon."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith(("sses", "xes", "ches", "shes", "zzes")):
        return word[:-2]
    for suffix, keep in (("ies", "y"), ("ings", ""), ("ing", ""), ("ed", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith(("ss", "us", "is")):
            return word[: -len(suffix)] + keep
    return word


def apply_synonyms(tokens: Iterable[str], synonyms: Mapping[tuple[str, ...], str]) -> list[str]:
    """Replace variant phrases (one or more words) by their canonical term, longest phrase first."""
    toks = list(tokens)
    if not synonyms:
        return toks
    longest = max(len(k) for k in synonyms)
    out: list[str] = []
    i = 0
    while i < len(toks):
        for n in range(min(longest, len(toks) - i), 0, -1):
            canon = synonyms.get(tuple(toks[i : i + n]))
            if canon is not None:
                out.extend(canon.split())
                i += n
                break
        else:
            out.append(toks[i])
            i += 1
    return out


def char_ngrams(word: str, n: int = 3) -> list[str]:
    """Character n-grams of one word with boundary marks, for typo and morphology tolerance."""
    padded = f"<{word}>"
    if len(padded) <= n:
        return [padded]
    return [padded[i : i + n] for i in range(len(padded) - n + 1)]
