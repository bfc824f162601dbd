"""Small talk (greetings, thanks, "are you a bot?"): matched on the whole message, not on shared words.

"what can you do" is help, but "what can ketamine do" is a question: a word index cannot tell them apart, a
whole-message similarity can. With the encoder on, a short message near a small-talk phrasing in meaning
("ok thank you, that helped") is small talk too; the dialog still lets a surer entry win.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process

from .analysis import Analysis
from .models import SmallTalk
from .text import normalize

MIN_SIMILARITY = 0.82
MIN_MEANING = 0.65  # cosine to the nearest small-talk phrasing; chosen on the visitor dev split
# When no entry reads the message at all, a nearer-than-chance small-talk reading beats "I don't have an answer"
# ("thank you, very helpful"); chosen on CLINC150 val's greeting, goodbye, thanks and are-you-a-bot sentences.
MIN_MEANING_UNMATCHED = 0.55
MAX_WORDS_BY_MEANING = 8  # longer messages carry a question even when they open with thanks


def _whole_message(a: str, b: str, *, processor: object = None, score_cutoff: float | None = None) -> float:
    """Similarity of two whole messages, word order aside; short words must match nearly exactly."""
    return max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b))


@dataclass(frozen=True)
class SmallTalkMatch:
    item: SmallTalk
    confidence: float
    phrasing: str


class SmallTalkMatcher:
    """Finds the small-talk item a whole message is, if any."""

    def __init__(self, items: Sequence[SmallTalk], *, encode: Callable[[Sequence[str]], Any] | None = None) -> None:
        self._items = {s.id: s for s in items}
        self._phrasings = [(s.id, p) for s in items for p in sorted({normalize(x) for x in s.phrasings}) if p]
        self._vectors = encode([p for _, p in self._phrasings]) if encode and self._phrasings else None

    def match(self, a: Analysis, *, unmatched: bool = False) -> SmallTalkMatch | None:
        """The small-talk item ``a`` is; ``unmatched`` (no entry reads the message at all) lowers the meaning bar."""
        if not a.norm or not self._phrasings:
            return None
        best = process.extractOne(a.norm, [p for _, p in self._phrasings], scorer=_whole_message, processor=None,
                                  score_cutoff=MIN_SIMILARITY * 100)
        if best is not None:
            item_id, phrasing = self._phrasings[best[2]]
            return SmallTalkMatch(self._items[item_id], best[1] / 100.0, phrasing)
        return self._by_meaning(a, bar=MIN_MEANING_UNMATCHED if unmatched else MIN_MEANING)

    def _by_meaning(self, a: Analysis, *, bar: float) -> SmallTalkMatch | None:
        if self._vectors is None or a.vector is None or len(a.words) > MAX_WORDS_BY_MEANING:
            return None
        sims = self._vectors @ a.vector
        i = int(sims.argmax())
        if float(sims[i]) < bar:
            return None
        item_id, phrasing = self._phrasings[i]
        return SmallTalkMatch(self._items[item_id], float(sims[i]), phrasing)
