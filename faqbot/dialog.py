"""Conversation: per-visitor state, safety first, small talk, follow-ups with context, clarification, gaps.

A ``Conversation`` is given the parts it needs (engine, knowledge base, small-talk matcher, risk policy) and
never reaches back into the ``Bot`` that made it.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from . import callback, cues, split
from .analysis import Analysis
from .callback import CallbackRequest, CallbackTexts, Step
from .dialog_state import MAX_OPTIONS, MAX_RECENT, ConversationState, IllegalTransition, State
from .engine import Engine
from .knowledge import KnowledgeBase
from .models import Candidate, Option, Reply, ReplyType
from .rotation import Rotation
from .safety import MEANING_ONLY, Risk, RiskPolicy, Verdict
from .smalltalk import SmallTalkMatcher
from .split import MAX_CLAUSES
from .text import normalize

__all__ = ["MAX_OPTIONS", "MAX_RECENT", "Conversation", "ConversationState", "IllegalTransition", "State"]

MAX_SUGGESTIONS = 3
SMALLTALK_CERTAIN = 0.9
# A reading of a follow-up merged with the current topic must beat the reading on its own by this much.
CONTEXT_EVIDENCE = 0.15
# Entries this sure are worth naming as suggestions (after a miss, or for a part of a multi-question message that
# cannot be answered outright): they share something with the question. Chosen on the visitor dev split.
HINT_FLOOR = 0.05
UNMATCHED = 0.10  # below this no entry reads the message at all (small talk may then match by a looser bar)
MAX_PARTS = 3
# Both conjuncts of "does it help with X and Y" must match this surely to be read as two questions.
DISTRIBUTE = 0.6

_ORDINALS = {"1": 0, "one": 0, "first": 0, "2": 1, "two": 1, "second": 1, "3": 2, "three": 2, "third": 2,
             "last": -1}
_PICK = re.compile(r"^(?:(?:option|number|no|the|i mean|i meant|it is|its)\s+)*(\w+)(?:\s+(?:one|option))?"
                   r"(?:\s+please)?$")


class Conversation:
    """One visitor's dialog; ``ask`` and ``pick`` are the only calls a transport needs."""

    def __init__(self, *, kb: KnowledgeBase, engine: Engine, smalltalk: SmallTalkMatcher, policy: RiskPolicy,
                 state: ConversationState | None = None, callbacks: CallbackTexts | None = None,
                 region: str = callback.DEFAULT_REGION, rotation: Rotation | None = None,
                 overview: str | None = None) -> None:
        self.kb = kb
        self.engine = engine
        self.smalltalk = smalltalk
        self.policy = policy
        self.state = state or ConversationState()
        self.callbacks = callbacks  # None: this deployment takes no callback requests
        self.region = region
        # Whose turn it is among the fallback wordings: the bot's, shared by its conversations, so a run spreads.
        self.rotation = rotation or Rotation()
        # The entry the KB's subject alone reads as (``Bot`` finds it once): no anchor for a message with words.
        self.overview = overview
        # Set by the turn that completes a callback request, for the transport to store; never in ``state``.
        self.submitted: CallbackRequest | None = None
        # The turn's text was an answer to a callback step (contact details): transports must not log it.
        self.private = False
        # Entries may vanish after a knowledge reload; forget them rather than fail.
        self.state.recent = [e for e in self.state.recent if kb.has(e)]
        options = [e for e in self.state.options if kb.has(e)]
        if self.state.state is State.CLARIFYING and len(options) < 2:
            self.state.enter(State.IDLE)
        elif self.state.state is State.ANSWERED and not self.state.recent:
            self.state.enter(State.IDLE)
        else:
            self.state.options = options

    # --- public --------------------------------------------------------------------------------------

    def ask(self, text: str) -> Reply:
        """Answer one visitor message in the context of this conversation."""
        a = self.engine.analyzer.analyze(text)
        verdict = self.policy.assess(a)
        # A turn that only steers ("tell me more please", "2") says nothing of its own: what the classifier alone
        # reads into it is noise, a crisis as much as a concern (below). A rule's crisis stands.
        if verdict.risk is Risk.CRISIS and verdict.reason in MEANING_ONLY and self._is_control(a):
            verdict = Verdict(Risk.CONCERN, verdict.reason)
        self.submitted, self.private = None, False
        if verdict.risk is Risk.CRISIS:
            reply = Reply(ReplyType.CRISIS, self.policy.crisis_text(a.language) or self.kb.settings.fallback,
                          confidence=1.0)
            self.state.crisis = True  # a callback being taken is dropped: ``_remember`` leaves it for idle
        elif self.state.state is State.CALLBACK and self.state.step is not None:
            reply = self._callback_step(a, text)
        elif self._starts_callback(a):
            reply = self._start_callback()
        elif verdict.risk is Risk.REFERRAL:
            reply, worried = self._referral(a)
            reply = self._with_offer(reply)
            if verdict.line or worried:
                reply = self._with_concern(reply, a.language)
        else:
            reply = self._respond(a)
            # A classifier's concern on "tell me more", "2" or "thanks" is noise: such turns carry no content.
            concern = verdict.risk is Risk.CONCERN and not self._is_control(a) and not (
                reply.type is ReplyType.SMALLTALK and reply.confidence >= SMALLTALK_CERTAIN)
            if concern:
                reply = self._with_concern(reply, a.language)
            # A person calling back is a help to someone in distress too: a concern keeps the offer.
            if (reply.type in (ReplyType.ANSWER, ReplyType.GAP) or concern and reply.entry) and (
                    callback.offers_callback(a.norm)):
                reply = self._with_offer(reply)
        return self._remember(self._with_reminder(reply))

    def submit(self, fields: Mapping[str, Any], *, channel: str = "") -> CallbackRequest:
        """A callback request from a form (the widget's): validated, or ``CallbackRejected`` with each field's
        fix. Ends a step-by-step exchange in progress; refused after a crisis turn."""
        if self.callbacks is None:
            raise callback.CallbackRejected({"form": "This service does not take callback requests."})
        if self.state.crisis:
            raise callback.CallbackRejected({"form": "Please use the crisis resources above; they can help now."})
        request = callback.validate(fields, channel=channel, region=self.region)
        if self.state.state is State.CALLBACK:
            self.state.enter(State.IDLE)
        self.submitted = request
        return request

    # --- callback requests ---------------------------------------------------------------------------

    def _starts_callback(self, a: Analysis) -> bool:
        texts = self.callbacks
        return texts is not None and not self.state.crisis and callback.wants_callback(a.norm, offer=texts.offer)

    def _start_callback(self) -> Reply:
        assert self.callbacks is not None
        self.state.enter(State.CALLBACK, step=Step.NAME)
        return Reply(ReplyType.CALLBACK, f"{self.callbacks.intro}\n\n{self.callbacks.name}", confidence=1.0)

    def _callback_step(self, a: Analysis, text: str) -> Reply:
        assert self.callbacks is not None and self.state.step is not None
        self.private = True
        if callback.is_cancel(a.norm):
            self.state.enter(State.IDLE)
            return Reply(ReplyType.SMALLTALK, self.callbacks.cancelled,
                         suggestions=self.kb.settings.suggestions[:MAX_SUGGESTIONS])
        try:
            result = callback.advance(self.state.step, self.state.draft, text, texts=self.callbacks,
                                      region=self.region)
        except callback.CallbackRejected:
            # Every step was checked on its own; a failure here means the draft was tampered with: start over.
            self.state.enter(State.CALLBACK, step=Step.NAME)
            return Reply(ReplyType.CALLBACK, self.callbacks.name, confidence=1.0)
        if result.step is None:
            self.state.enter(State.IDLE)
            self.submitted = result.request
            return Reply(ReplyType.CALLBACK, result.text, confidence=1.0)
        self.state.enter(State.CALLBACK, step=result.step, draft=result.draft)
        return Reply(ReplyType.CALLBACK, result.text, confidence=1.0)

    def _referral(self, a: Analysis) -> tuple[Reply, bool]:
        """A personal medical question goes to a clinician; the other questions of the same message that match
        clearly and are no crisis or medical question of their own are still answered, a section each, after the
        referral. Also says whether an answered part read as possible risk (the reply then shows the crisis line)."""
        text = self.kb.settings.safety.referral or self.kb.settings.fallback
        clauses = split.clauses(a.text)[:MAX_CLAUSES]
        answered: list[Candidate] = []
        offered: list[Candidate] = []  # only likely: offered first among the suggestions, so no part goes unheard
        worried = False
        if len(clauses) > 1:
            for part in self.engine.analyzer.analyze_many(clauses):
                risk = self.policy.assess(part).risk
                if risk in (Risk.CRISIS, Risk.REFERRAL):
                    continue
                ranked = self.engine.rank(part, limit=2)
                if not ranked or any(c.entry.id == ranked[0].entry.id for c in [*answered, *offered]):
                    continue
                if self._clear(ranked) and len(answered) < MAX_PARTS:
                    answered.append(ranked[0])
                    worried = worried or risk is Risk.CONCERN
                elif ranked[0].confidence >= HINT_FLOOR:
                    offered.append(ranked[0])
        sections = [_section(c) for c in answered]
        suggestions = tuple(dict.fromkeys([*(c.entry.question for c in offered), *self._handoff()]))
        return Reply(ReplyType.REFERRAL, "\n\n".join([text, *sections]), confidence=1.0,
                     suggestions=suggestions[:MAX_SUGGESTIONS], parts=tuple(c.entry.id for c in answered)), worried

    def _with_offer(self, reply: Reply) -> Reply:
        """The visitor spoke of booking or a person: the way to a callback request among the suggestions."""
        offer = self._offer()
        if not offer or offer in reply.suggestions:
            return reply
        return replace(reply, suggestions=(*reply.suggestions[:MAX_SUGGESTIONS - 1], offer))

    def _offer(self) -> str:
        return "" if self.callbacks is None or self.state.crisis else self.callbacks.offer

    def pick(self, entry_id: str) -> Reply:
        """Answer a clarification option the visitor clicked (or any entry by id)."""
        self.submitted, self.private = None, False
        if not self.kb.has(entry_id):
            return self._remember(self._fallback(None, ()))
        return self._remember(self._with_reminder(self._answer(entry_id, confidence=1.0, asked_again=True)))

    def decide(self, candidates: Sequence[Candidate], a: Analysis | None = None) -> Reply:
        """The reply ranked candidates call for: answer, clarify between close ones, or decline."""
        t = self.kb.settings.thresholds
        ranked = sorted(candidates, key=lambda c: c.confidence, reverse=True)
        if ranked and self._clear_gap(ranked):
            return self._answer(ranked[0].entry.id, confidence=ranked[0].confidence)
        if not ranked or ranked[0].confidence < t.clarify:
            return self._fallback(a, ranked)
        top = ranked[0]
        close = [c for c in ranked[1:] if c.confidence >= t.clarify and top.confidence - c.confidence < t.margin]
        # An authored phrasing typed as written (``Candidate.exact``) is answered even with a related entry near,
        # unless another entry has that phrasing too.
        exact = top.exact and not any(c.exact for c in close)
        if top.confidence >= t.answer and (not close or exact):
            return self._answer(top.entry.id, confidence=top.confidence)
        options = [top, *close][:MAX_OPTIONS]
        if len(options) >= 2:
            return self._clarify(options)
        if top.confidence >= t.answer:
            return self._answer(top.entry.id, confidence=top.confidence)
        # One unsure reading is no choice to offer: decline, and name it first among the suggestions.
        return self._fallback(a, ranked)

    # --- the turn ------------------------------------------------------------------------------------

    def _respond(self, a: Analysis) -> Reply:
        if a.empty:
            return self._fallback(a, ())
        picked = self._picked_option(a)
        if picked is not None:
            return self._answer(picked, confidence=1.0, asked_again=True)
        if cues.asks_repeat(a.norm) and self.state.recent:
            return self._answer(self.state.recent[-1], confidence=1.0, asked_again=True)
        if cues.asks_more(a.norm) and self.state.recent:
            return self._more()
        several = self._several(a)
        if several is not None:
            return several
        candidates = self._rank_in_context(a)
        top = candidates[0].confidence if candidates else 0.0
        small = self.smalltalk.match(a, unmatched=top < UNMATCHED)
        # A message that is nearly a small-talk phrase is small talk; otherwise the surer reading wins.
        if small is not None and (small.confidence >= SMALLTALK_CERTAIN or small.confidence >= top):
            item = small.item
            return Reply(ReplyType.SMALLTALK, item.answer, entry=item.id, confidence=small.confidence,
                         suggestions=item.suggestions or self.kb.settings.suggestions[:MAX_SUGGESTIONS])
        return self._acknowledged(self.decide(candidates, a), a)

    def _rank_in_context(self, a: Analysis, *, limit: int = MAX_OPTIONS + 2, whole: bool = True) -> list[Candidate]:
        """Rank alone, and for an elliptical message also with what "it" means: the current topic, or before any
        topic the KB's subject ("is it addictive" on a clinic's page asks about its treatment; in a clause of a
        longer message only when it has no words of its own, since the rest of the message says what "it" is). The merged reading must win by evidence,
        and never by landing back on the topic itself or over a declared gap."""
        alone = self.engine.rank(a, limit=limit)
        topic = self.kb.entry(self.state.recent[-1]) if self.state.recent else None
        subject = self.kb.settings.subject
        if topic is not None and cues.is_elliptical(a.norm):
            text = f"{a.text} {topic.question}"
        elif topic is None and subject and (cues.is_contentless(a.norm) or whole and cues.is_elliptical(a.norm)):
            text = cues.about(a.norm, subject)
        else:
            return alone
        alone_top = alone[0] if alone else None
        t = self.kb.settings.thresholds
        if alone_top is not None and alone_top.entry.is_gap and alone_top.confidence >= t.clarify:
            return alone
        joined = self.engine.rank(self.engine.analyzer.analyze(text), limit=limit)
        # The merged reading never lands back on the topic itself, nor on the entry the subject alone names unless
        # the message asks only what the subject is ("what is it"): in "is it hype" or "who does it" the words,
        # not the subject, must decide.
        landing = topic.id if topic is not None else None if cues.asks_what(a.norm) else self.overview
        joined = [c for c in joined if c.entry.id != landing]
        alone_conf = alone_top.confidence if alone_top else 0.0
        if not joined or joined[0].confidence < alone_conf + CONTEXT_EVIDENCE or joined[0].entry.is_gap:
            return alone
        if topic is None and len(joined) > 1 and joined[0].confidence - joined[1].confidence < t.margin:
            return alone  # the subject names the KB's overview: a reading leaning on it alone must be clear
        return joined

    def _several(self, a: Analysis) -> Reply | None:
        """Several questions in one message: answer each part that matches clearly, in one reply with a section
        each, and offer the parts that are only likely as the first suggestions, so no part goes unanswered."""
        t = self.kb.settings.thresholds
        sure: list[Candidate] = []
        likely: list[Candidate] = []
        for ranked in self._parts(a):
            if not ranked or ranked[0].confidence < HINT_FLOOR:
                continue
            top = ranked[0]
            if any(c.entry.id == top.entry.id for c in sure):
                continue
            if self._clear(ranked):  # a later, clearer question for an entry a story only hinted at
                likely = [c for c in likely if c.entry.id != top.entry.id]
                sure.append(top)
                continue
            # A part torn between two readings offers both: the visitor picks ("early in recovery" is early recovery
            # or what it helps with).
            torn = [c for c in ranked[:2] if top.confidence - c.confidence < t.margin and c.confidence >= HINT_FLOOR]
            likely += [c for c in torn if all(c.entry.id != o.entry.id for o in [*likely, *sure])]
        # The first few questions answered, the rest offered: a story before them takes no question's place.
        sure, likely = sure[:MAX_PARTS], [*sure[MAX_PARTS:], *likely]
        if not sure or len(sure) + len(likely) < 2:
            return None
        offered = [c.entry.question for c in likely]
        first = sure[0].entry
        if len(sure) == 1:
            reply = self._answer(first.id, confidence=sure[0].confidence)
            return replace(reply, suggestions=tuple(dict.fromkeys([*offered, *reply.suggestions]))[:MAX_SUGGESTIONS])
        sections = [_section(c) for c in sure]
        kind = ReplyType.GAP if all(c.entry.is_gap for c in sure) else ReplyType.ANSWER
        related = self._handoff() if first.is_gap else self._entry_questions(self._related(first.id))
        return Reply(kind, "\n\n".join(sections), entry=first.id, confidence=min(c.confidence for c in sure),
                     suggestions=tuple(dict.fromkeys([*offered, *related]))[:MAX_SUGGESTIONS],
                     parts=tuple(c.entry.id for c in sure))

    def _clear(self, ranked: Sequence[Candidate]) -> bool:
        """A part of a message answered outright: sure enough, and ahead of the next reading by half the margin."""
        t = self.kb.settings.thresholds
        return bool(ranked) and (self._clear_gap(ranked) or ranked[0].confidence >= t.answer and (
            len(ranked) < 2 or ranked[0].confidence - ranked[1].confidence >= t.margin / 2))

    def _clear_gap(self, ranked: Sequence[Candidate]) -> bool:
        """A declared gap below the answer bar but past the KB's gap bar, with no other reading half as likely."""
        t = self.kb.settings.thresholds
        top = ranked[0]
        return top.entry.is_gap and t.gap_bar <= top.confidence < t.answer and (
            len(ranked) < 2 or ranked[1].confidence <= top.confidence / 2)

    def _parts(self, a: Analysis) -> list[list[Candidate]]:
        """The ranked readings of each question in a message: its clauses, and a clause "P X and Y" as "P X" and
        "P Y" when X and Y alone each match an entry of their own (so "drugs and alcohol" stays one question)."""
        clauses = split.clauses(a.text)[:MAX_CLAUSES]
        whole = split.listed(a.text)[:MAX_CLAUSES]
        if len(whole) > len(clauses):  # "explain the fees, the parking, and what you offer": one list, not two clauses
            clauses, lists = [a.text], [whole]
        else:
            lists = [split.listed(c)[:MAX_CLAUSES] for c in clauses]
        coordinations = [split.coordination(c) for c in clauses]
        texts = list(dict.fromkeys([*clauses, *(t for co in coordinations if co for t in (
            co.first, *co.seconds, *co.conjuncts[0], co.conjuncts[1])), *(t for items in lists for t in items)]))
        if len(texts) < 2:
            return []
        readings = dict(zip(texts, self.engine.analyzer.analyze_many(texts), strict=True))

        def rank(text: str) -> list[Candidate]:
            return self.engine.rank(readings[text], limit=2)

        def best(texts: Sequence[str], *, other: list[Candidate]) -> list[Candidate]:
            ranked = [r for r in map(rank, texts) if r and (not other or r[0].entry.id != other[0].entry.id)]
            return max(ranked, key=lambda r: r[0].confidence, default=[])

        parts: list[list[Candidate]] = []
        for clause, co, items in zip(clauses, coordinations, lists, strict=True):
            if items:
                # A list of questions or topics: its items are the parts when two or more are answered outright,
                # each by an entry of its own ("explain how it works, the safety side, and the sessions").
                ranked_items = [self._rank_in_context(readings[t], limit=2, whole=False) for t in items]
                clear = {r[0].entry.id for r in ranked_items if self._clear(r)}
                if len(clear) >= 2:
                    parts += ranked_items
                    continue
            if co is not None:
                x, y = best(co.conjuncts[0], other=[]), rank(co.conjuncts[1])
                first = rank(co.first)
                second = best(co.seconds, other=first)
                tops = [r[0] for r in (x, y, first, second) if r]
                if len(tops) == 4 and x[0].entry.id != y[0].entry.id and all(
                        c.confidence >= DISTRIBUTE for c in tops):
                    parts += [first, second]
                    continue
                # No shared predicate, but a question and a listed topic of its own ("how it works and the hours"):
                # two parts when each is answered outright on its own, by different entries.
                if co.listed:
                    # "tell me how it works and the hours": nothing else in the message says what "it" is.
                    first = self._rank_in_context(readings[co.first], limit=2)
                    if self._clear(first) and self._clear(y) and first[0].entry.id != y[0].entry.id:
                        parts += [first, y]
                        continue
            # A clause alone ("what is it", "and how much") is read like a message of its own: with its context.
            parts.append(self._rank_in_context(readings[clause], limit=2, whole=False))
        return parts

    # --- replies -------------------------------------------------------------------------------------

    def _answer(self, entry_id: str, *, confidence: float, lead: str = "", asked_again: bool = False) -> Reply:
        entry = self.kb.entry(entry_id)
        if self.state.state is State.ANSWERED and self.state.recent[-1:] == [entry_id] and not asked_again:
            # The same answer twice in a row reads as a bot that did not listen: say so, and offer what is next.
            return Reply(ReplyType.ANSWER, self.kb.settings.repeat, entry=entry_id, confidence=confidence,
                         suggestions=self._entry_questions(self._related(entry_id)))
        text = f"{lead}\n\n**{entry.question}**\n\n{entry.answer}" if lead else entry.answer
        if entry.is_gap:
            return Reply(ReplyType.GAP, text, entry=entry_id, confidence=confidence, suggestions=self._handoff())
        return Reply(ReplyType.ANSWER, text, entry=entry_id, confidence=confidence,
                     suggestions=self._entry_questions(self._related(entry_id)))

    def _related(self, entry_id: str) -> list[str]:
        entry = self.kb.entry(entry_id)
        shown = {entry_id, *self.state.recent[-2:]}
        related = [r for r in entry.related if r not in shown]
        return (related + [r for r in entry.related if r in shown and r != entry_id])[:MAX_SUGGESTIONS]

    def _clarify(self, options: Sequence[Candidate]) -> Reply:
        listed = "\n".join(f"{i}. {c.entry.question}" for i, c in enumerate(options, 1))
        return Reply(ReplyType.CLARIFY, f"{self.kb.settings.clarify}\n\n{listed}", confidence=options[0].confidence,
                     options=tuple(Option(c.entry.id, c.entry.question) for c in options))

    def _more(self) -> Reply:
        """Continue with a related entry not yet shown, so the reply never repeats the last one."""
        current = self.kb.entry(self.state.recent[-1])
        seen = set(self.state.recent)
        pool = [r for r in current.related if r not in seen]
        if not pool:
            pool = [e.id for e in self.kb.entries if e.topic == current.topic and e.id not in seen and not e.is_gap]
        if not pool:
            return self._fallback(None, ())
        return self._answer(pool[0], confidence=1.0, lead=self.kb.settings.more)

    def _fallback(self, a: Analysis | None, ranked: Sequence[Candidate]) -> Reply:
        """A short, varied decline that points at what the bot can answer, starting from the words it knew."""
        s = self.kb.settings
        variants = s.fallbacks or (s.fallback,)
        self.state.wording = self.rotation.pick(len(variants), last=self.state.wording)
        text = variants[self.state.wording]
        hints = [c.entry.question for c in ranked if c.confidence >= HINT_FLOOR and not c.entry.is_gap]
        suggestions = tuple(dict.fromkeys([*hints, *s.suggestions]))[:MAX_SUGGESTIONS]
        if self.state.crisis:
            # After a crisis turn: no booking pitch, only the way back to the resources (added by the caller).
            handoff = set(self._handoff())
            return Reply(ReplyType.FALLBACK, text, suggestions=tuple(q for q in suggestions if q not in handoff))
        if s.contact and s.fallbacks:
            text = f"{text}\n\n{s.contact}"
        return self._with_offer(Reply(ReplyType.FALLBACK, text, suggestions=suggestions))

    def _with_concern(self, reply: Reply, language: str) -> Reply:
        """Distress without imminent danger: the crisis line first, then whatever the question gets."""
        line = self.policy.concern_text(language)
        if not line:
            return reply
        # An answer becomes a concern reply; a clarification or a decline keeps its type (its options, its hints).
        kind = ReplyType.CONCERN if reply.type in (ReplyType.ANSWER, ReplyType.GAP) else reply.type
        return replace(reply, type=kind, text=f"{line}\n\n{reply.text}")

    def _with_reminder(self, reply: Reply) -> Reply:
        reminder = self.kb.settings.safety.reminder
        if not self.state.crisis or reply.type is ReplyType.CRISIS or not reminder:
            return reply
        return replace(reply, text=f"{reply.text}\n\n{reminder}")

    def _acknowledged(self, reply: Reply, a: Analysis) -> Reply:
        acks = self.kb.settings.acknowledgements
        if not acks or reply.type not in (ReplyType.ANSWER, ReplyType.GAP) or not cues.is_story(a.norm):
            return reply
        ack = acks[zlib.crc32(a.norm.encode()) % len(acks)]
        return replace(reply, text=f"{ack}\n\n{reply.text}")

    def _is_control(self, a: Analysis) -> bool:
        """A turn that steers the conversation (a pick, "repeat", "more") rather than saying anything."""
        recent = bool(self.state.recent)
        return self._picked_option(a) is not None or recent and (cues.asks_repeat(a.norm) or cues.asks_more(a.norm))

    def _picked_option(self, a: Analysis) -> str | None:
        """A pick among the offered options: by number or ordinal, or by retyping the option's question."""
        if self.state.state is not State.CLARIFYING:
            return None
        options = self.state.options
        for entry_id in options:
            if normalize(self.kb.entry(entry_id).question) == a.norm or entry_id == a.norm:
                return entry_id
        m = _PICK.match(a.norm)
        if m and m.group(1) in _ORDINALS:
            i = _ORDINALS[m.group(1)]
            if -len(options) <= i < len(options):
                return options[i]
        return None

    def _remember(self, reply: Reply) -> Reply:
        st = self.state
        if reply.type is ReplyType.CALLBACK:
            return reply  # the flow set its own state
        if reply.type is ReplyType.CLARIFY:
            st.enter(State.CLARIFYING, options=[o.entry for o in reply.options])
        elif reply.entry and self.kb.has(reply.entry) and reply.type in (
                ReplyType.ANSWER, ReplyType.GAP, ReplyType.CONCERN):
            for part in reply.parts[:-1]:
                st.enter(State.ANSWERED, answered=part)
            st.enter(State.ANSWERED, answered=reply.parts[-1] if reply.parts else reply.entry)
        else:
            # Anything else (a miss, small talk, a crisis or a referral) shows no answer: the topic stays in
            # ``recent`` for follow-ups, and the options of a clarification are gone.
            st.enter(State.IDLE)
        return reply

    def _handoff(self) -> tuple[str, ...]:
        return self._entry_questions(self.kb.settings.handoff[:MAX_SUGGESTIONS])

    def _entry_questions(self, ids: Sequence[str]) -> tuple[str, ...]:
        return tuple(self.kb.entry(i).question for i in ids if self.kb.has(i))


def _section(c: Candidate) -> str:
    """One part of a reply to several questions: the entry's question as a heading, then its answer."""
    return f"**{c.entry.question}**\n\n{c.entry.answer}"
