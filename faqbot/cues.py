"""Cues in a message's wording that the dialog acts on: asking for more or for a repeat, leaning on what came
before (a pronoun, "what about ..."), a question of small words only, a personal story.

Pure functions of the normalised text, kept apart from ``dialog`` (which decides what to do about them).
"""

from __future__ import annotations

import re

from .text import STOPWORDS

__all__ = ["about", "asks_more", "asks_repeat", "is_contentless", "is_elliptical", "is_story"]

_MORE = re.compile(r"^(?:(?:ok|okay|and|so|yes|please|pls)\s+)*(?:tell me more|more|go on|continue|keep going|"
                   r"more details?|more info(?:rmation)?|elaborate|explain more|say more|anything else|"
                   r"tell me more about (?:it|that|this)|more about (?:it|that|this)|details)(?:\s+please)?$")
_REPEAT = re.compile(r"^(?:(?:can|could) you )?(?:repeat(?: that| it)?|say (?:that|it) again|again|come again"
                     r"|what did you say)(?:\s+please)?$")
# Words that make a short question lean on what came before ("how does *it* work?", "what about opioids?").
_ANAPHORA = frozenset("it that this they them those these there then instead also too".split())
_QUESTION_WORDS = frozenset("what who how where when why which".split())
# Words typed around a question that add nothing to it ("ok so whats this exactly").
_FILLERS = frozenset("so ok okay um uh umm hmm exactly even actually again like just really".split())
_ELLIPSIS_LEADS = ("what about", "how about", "and for", "and what about", "what if", "and", "so", "but")
# A personal story, about oneself or someone close: it deserves a word of acknowledgement before the facts.
_RELATIVE = re.compile(r"\bmy (?:\w+ )?(?:son|daughter|husband|wife|partner|brother|sister|mom|mother|dad|father"
                       r"|boyfriend|girlfriend|fiance|fiancee|friend|kid|kids|child|children|cousin|uncle|aunt"
                       r"|family|grandson|granddaughter)\b")
_FIRST_PERSON = re.compile(r"\b(?:i am|i have|i was|i have been|i had|i keep|i tried|i relapsed|i started|i lost)\b")
STORY_WORDS = 12


def asks_more(norm: str) -> bool:
    """A request to go on: "tell me more", "go on", "more details please"."""
    return bool(_MORE.match(norm))


def asks_repeat(norm: str) -> bool:
    """A request to hear the last answer again: "repeat that", "say it again", "what did you say"."""
    return bool(_REPEAT.match(norm))


def is_elliptical(norm: str) -> bool:
    """A short message that leans on context: a pronoun, a "what about ..." lead, or almost no content words."""
    words = norm.split()
    content = [w for w in words if w not in STOPWORDS]
    if any(norm == lead or norm.startswith(lead + " ") for lead in _ELLIPSIS_LEADS):
        return True
    return len(content) <= 3 and any(w in _ANAPHORA for w in words)


def is_contentless(norm: str) -> bool:
    """Nothing but function and question words ("what is it", "who does that"): only a subject gives it sense."""
    return all(w in STOPWORDS or w in _QUESTION_WORDS or w in _FILLERS for w in norm.split())


def asks_what(norm: str) -> bool:
    """Only "what is it" and the like: nothing but function words, led by "what" (not "who does it")."""
    words = [w for w in norm.split() if w not in _FILLERS]
    return bool(words) and words[0] in ("what", "whats") and is_contentless(norm) and not (
        _QUESTION_WORDS & set(words[1:]))


def about(norm: str, subject: str) -> str:
    """The message with its first pronoun read as the subject ("what is it" -> "what is ketamine therapy")."""
    words = norm.split()
    for i, w in enumerate(words):
        if w in _ANAPHORA:
            return " ".join([*words[:i], subject, *words[i + 1:]])
    return f"{norm} {subject}"


def is_story(norm: str) -> bool:
    """Someone close is named, or the visitor tells of themselves at some length."""
    return bool(_RELATIVE.search(norm)) or (len(norm.split()) >= STORY_WORDS and bool(_FIRST_PERSON.search(norm)))
