"""A message read as the questions it asks: split at question boundaries, and a predicate shared by two topics
("does it help with cravings and anxiety") distributed over them.

These are only readings; the dialog keeps a distribution when the engine finds each reading its own entry, so a
single question that merely contains "and" ("drugs and alcohol", "pros and cons") stays whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .text import STOPWORDS, normalize

__all__ = ["MAX_CLAUSES", "Coordination", "clauses", "coordination", "listed"]

MAX_CLAUSES = 6  # clauses of one message read on their own: a bound on the work (and encoding) a long message costs
# Words that open a question ("whats" and "r u" as typed). A conjunction followed by one starts a new question.
_OPENER = (r"(?:how|hows|what|whats|when|where|wheres|who|whos|why|which|is|are|am|do|does|did|can|could|will"
           r"|would|should|any|its|it is|if|whether|r u|r you)\b")
# Question boundaries: sentence ends, semicolons, or a conjunction ("and", "n", "also", "plus", "btw", "but",
# "as well as", "then": "first ... then ...") followed by a new question. Not a bare comma: "for someone on methadone, how fast does it work" is
# one question with a preface (see ``_comma_questions`` for commas between questions).
_SPLIT = re.compile(r"(?<=[?!.])\s+|\?+\s*|\s*;\s*|\s*(?:,\s*|\s+-+\s*)?\b(?:and also|oh and|and then|and|n|also|plus|btw|but"
                    r"|as well as|then)\s+(?=" + _OPENER + ")", re.IGNORECASE)
_COMMA = re.compile(r",\s*(?=" + _OPENER + ")", re.IGNORECASE)
_OPENS = re.compile(_OPENER, re.IGNORECASE)
# "&" and "+" between words join like "and"; normalising would drop them.
_SYMBOL = re.compile(r"\s+[&+]\s+|(?<=\w)\s*&\s*(?=\w)")
_CONJUNCTIONS = frozenset(("and", "n", "plus"))
_ALSO = frozenset(("also", "then", "even"))  # after a conjunction, adds nothing to what the second conjunct is
# Past this many words after the conjunction it joins two clauses ("and my wife left me"), not two topics.
MAX_CONJUNCT = 3
_DETERMINERS = frozenset("a an the my your his her their our its".split())
_PREPOSITIONS = frozenset("with for about on of in".split())
# A list piece that names a person ("i tried suboxone", "my son") is part of a story, not a topic asked about ("id":
# "i'd" as typed).
_PERSONS = frozenset("i id me my we us our he him his she her they them their you your".split())
_EXAMPLES = re.compile(r"(?:like|such as|including|e\.?g)\b", re.IGNORECASE)  # "like meth, benzos": examples
# "anxiety and cravings, does it help both": two topics named first, then a question about both ("both", "either",
# "them"); without such a word the question may be about one ("ptsd + addiction, does it help with the memories").
_TOPICS_FIRST = re.compile(r"^\s*(?P<x>[^,]+?)\s+(?:and|n|plus)\s+(?P<y>[^,]+?)\s*,\s*(?P<q>.+?)"
                           r"\s+(?:with\s+|for\s+)?(?:both|either|them|those|these|each)(?:\s+of\s+them)?"
                           r"\s*[?.!]*\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Coordination:
    """A clause "P X and Y": ``first`` is "P X" and ``seconds`` the readings of "P Y", longest predicate first;
    ``conjuncts`` are X (each place it may start: a guess the engine settles) and Y on their own; ``listed`` says
    Y opens with a determiner."""

    first: str
    seconds: tuple[str, ...]
    conjuncts: tuple[tuple[str, ...], str]
    listed: bool = False  # Y opens with a determiner ("... and the hours"): an item of a list, maybe a new question


def clauses(text: str) -> list[str]:
    """The message cut at question boundaries (sentence ends, question marks, "and how ...", "is it safe, how
    many sessions")."""
    text = _SYMBOL.sub(" and ", text)
    parts = [p for p in (s.strip(" ,;-") for s in _SPLIT.split(text) if s) if normalize(p)]
    return [q for p in parts for q in _comma_questions(p)]


def _comma_questions(clause: str) -> list[str]:
    """A clause of questions listed with commas ("where r u, what time do u open, how much") as its questions: a
    comma ends a question only when what comes before it is a question too, so a preface ("for someone on
    methadone, how fast ...") stays with its question."""
    pieces = _COMMA.split(clause)
    if len(pieces) < 2 or not _OPENS.match(pieces[0].strip()):
        return [clause]
    return [p.strip() for p in pieces if normalize(p)]


_LIST = re.compile(r"\s*,\s*(?:and\s+)?", re.IGNORECASE)
# A list is a list of questions only when it opens as a question or a request; a story's commas are not a list.
_ASKS = re.compile(_OPENER + r"|(?:please\s+)?(?:explain|tell me|describe|what about|info on|questions? about)\b",
                   re.IGNORECASE)


def listed(clause: str) -> list[str]:
    """The items of a list with commas ("explain how it works, the safety side, and the number of sessions"), or
    nothing: a list opens as a question, a request or a short topic, and has three items or more, or two when the
    second opens with "and" or both are short topics ("hrs, age limit"). Only a reading: the dialog keeps it when
    the items are answered outright by different entries."""
    pieces = [p for p in (q.strip(" .") for q in _LIST.split(clause)) if normalize(p)]
    if not pieces:
        return []
    if _ASKS.match(pieces[0]):
        if len(pieces) >= 3 or len(pieces) == 2 and re.search(r",\s*and\s", clause, re.IGNORECASE):
            return pieces
        return []
    # Or a list of short topics ("hrs, age limit"), the last of three or more maybe a question ("cost, hours, and
    # whether insurance covers it"); not examples ("like meth, benzos"), nor a story's parts ("im 45, been drinking
    # since college"), nor a preface ("on methadone, how fast does it work").
    if _EXAMPLES.match(pieces[0]) or not all(_topic(p) for p in pieces[:-1]):
        return []
    if len(pieces) >= 2 and _topic(pieces[-1]) or len(pieces) >= 3 and _ASKS.match(pieces[-1]):
        return pieces
    return []


def _topic(piece: str) -> bool:
    """A short topic named on its own ("hrs", "age limit"): a few words, one of them not a function word, and no
    person."""
    words = normalize(piece).split()
    return (len(words) <= MAX_CONJUNCT and any(w not in STOPWORDS for w in words)
            and not any(w in _PERSONS for w in words))


def coordination(clause: str) -> Coordination | None:
    """A clause ending in "X and Y" with a short Y, read as two questions sharing what comes before X; or naming
    "X and Y" first and asking about both after a comma."""
    clause = _SYMBOL.sub(" and ", clause)
    m = _TOPICS_FIRST.match(clause)
    if m and _OPENS.match(m["q"]) and all(len(normalize(m[k]).split()) <= MAX_CONJUNCT for k in "xy"):
        x, y, q = (" ".join(_content(normalize(m[k]).split())) for k in "xyq")
        if x and y and q:
            return Coordination(first=f"{q} {x}", seconds=(f"{q} {y}", y), conjuncts=((x,), y))
    words = normalize(clause).split()
    for i in range(len(words) - 2, 0, -1):
        if words[i] not in _CONJUNCTIONS:
            continue
        right = words[i + 1:]
        if right and right[0] in _ALSO:  # "and also with her depression"
            right = right[1:]
        if not right or len(right) > MAX_CONJUNCT or right[0] in _CONJUNCTIONS:
            return None
        left = words[:i]
        # The first conjunct: content words back from the conjunction (at most as many as the second has, plus
        # one), and the determiner before them ("my drinking and my anxiety").
        starts: list[int] = []
        j = i
        while j > 0 and len(starts) < MAX_CONJUNCT and left[j - 1] not in STOPWORDS:
            j -= 1
            starts.append(j)
            if j > 0 and left[j - 1] in _DETERMINERS:
                starts.append(j - 1)
                break
        if not starts:
            return None
        if right[0] in _PREPOSITIONS and right[0] in left:
            # "help with the drinking and with her depression": the second conjunct repeats the preposition, so it
            # takes the first's place after the same preposition.
            k = len(left) - 1 - left[::-1].index(right[0])
            starts = [k]
        elif right[0] in _DETERMINERS:  # "the price and the address": one determiner, the second conjunct's
            starts = [s - 1 if s > 0 and left[s - 1] in _DETERMINERS else s for s in starts]
        # The second conjunct may also be a short question of its own ("book a consult + open weekends").
        seconds = tuple(dict.fromkeys([*(" ".join(left[:s] + right) for s in starts), " ".join(right)]))
        # On their own, without determiners: "his depression" says less than "depression".
        firsts = tuple(dict.fromkeys(" ".join(_content(left[s:])) for s in starts if _content(left[s:])))
        own = " ".join(_content(right))
        if not firsts or not own:
            return None
        return Coordination(first=" ".join(left), seconds=seconds, conjuncts=(firsts, own),
                            listed=right[0] in _DETERMINERS)
    return None


def _content(words: list[str]) -> list[str]:
    while words and (words[0] in _DETERMINERS or words[0] in _PREPOSITIONS):
        words = words[1:]
    return words
