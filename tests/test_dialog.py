"""Conversation behaviour through the Python API: follow-ups, more, clarification, small talk, safety."""

from __future__ import annotations

import re

import pytest

import faqbot
from faqbot import Bot, ReplyType
from faqbot.dialog import MAX_RECENT, ConversationState


@pytest.fixture(scope="module")
def bot() -> Bot:
    return Bot.load()


def turns(bot: Bot, *messages: str) -> list[faqbot.Reply]:
    conv = bot.conversation()
    return [conv.ask(m) for m in messages]


def test_follow_up_what_about_opioids(bot: Bot) -> None:
    first, second = turns(bot, "does ketamine work for alcohol addiction?", "what about opioids?")
    assert first.entry == "alcohol-results"
    assert second.entry == "opioid-results"


def test_follow_up_and_for_alcohol(bot: Bot) -> None:
    first, second = turns(bot, "does it help people addicted to opioids?", "and for alcohol?")
    assert first.entry == "opioid-results"
    assert second.entry == "alcohol-results"


def test_follow_up_how_does_it_work(bot: Bot) -> None:
    first, second = turns(bot, "what is ketamine therapy?", "how does it work?")
    assert first.entry == "what-is-ketamine-therapy"
    assert second.entry == "how-it-works"


def test_follow_up_so_is_it_safe_then(bot: Bot) -> None:
    first, second = turns(bot, "don't people abuse ketamine?", "so is it safe then?")
    assert first.entry == "misuse"
    assert second.entry == "safety-in-clinic"


def test_follow_up_can_i_just_text_instead(bot: Bot) -> None:
    first, second = turns(bot, "how do I book the free consultation?", "can I just text instead?")
    assert first.entry == "consultation"
    assert second.entry == "text-us"


def test_complete_new_question_is_not_pulled_to_the_old_topic(bot: Bot) -> None:
    _, second = turns(bot, "does ketamine work for alcohol addiction?", "can ketamine cure addiction?")
    assert second.entry == "cannot-cure"


@pytest.mark.parametrize("more", ["tell me more", "go on", "more details", "Tell me more please"])
def test_tell_me_more_continues_without_repeating(bot: Bot, more: str) -> None:
    first, second = turns(bot, "is ketamine addictive?", more)
    assert second.type is ReplyType.ANSWER
    assert second.entry != first.entry
    assert second.text != first.text
    assert second.entry in bot.kb.entry("misuse").related or bot.kb.entry(second.entry).topic == "misuse"


def test_tell_me_more_twice_shows_new_material_each_time(bot: Bot) -> None:
    replies = turns(bot, "is ketamine addictive?", "tell me more", "tell me more")
    assert len({r.text for r in replies}) == 3


def test_every_answer_carries_two_or_three_suggestions(bot: Bot) -> None:
    for entry in bot.kb.entries:
        reply = bot.conversation().pick(entry.id)
        assert 2 <= len(reply.suggestions) <= 3, entry.id
        assert all(any(s == e.question for e in bot.kb.entries) for s in reply.suggestions)


CLOSE = [
    {"id": "opioid", "question": "What are the results for opioid addiction?", "answer": "Opioid figures.",
     "phrasings": ["opioid results", "ketamine results for opioid users", "results opioids"]},
    {"id": "alcohol", "question": "What are the results for alcohol addiction?", "answer": "Alcohol figures.",
     "phrasings": ["alcohol results", "ketamine results for drinkers", "results alcohol"]},
    {"id": "booking", "question": "How do I book?", "answer": "Call us.", "phrasings": ["appointment", "book a call"]},
]


@pytest.fixture()
def close_bot() -> Bot:
    return Bot.from_entries(CLOSE)


def test_close_candidates_give_clarify_with_options(close_bot: Bot) -> None:
    reply = close_bot.ask("what are the results for addiction")
    assert reply.type is ReplyType.CLARIFY
    assert {o.entry for o in reply.options} == {"opioid", "alcohol"}


@pytest.mark.parametrize("pick", ["2", "the second one", "option 2", "second"])
def test_clarify_pick_by_number(close_bot: Bot, pick: str) -> None:
    conv = close_bot.conversation()
    clarify = conv.ask("what are the results for addiction")
    reply = conv.ask(pick)
    assert reply.type is ReplyType.ANSWER and reply.entry == clarify.options[1].entry


def test_clarify_pick_by_click(close_bot: Bot) -> None:
    conv = close_bot.conversation()
    clarify = conv.ask("what are the results for addiction")
    assert conv.pick(clarify.options[0].entry).entry == clarify.options[0].entry


def test_clarify_pick_by_retyping(close_bot: Bot) -> None:
    conv = close_bot.conversation()
    conv.ask("what are the results for addiction")
    assert conv.ask("What are the results for alcohol addiction?").entry == "alcohol"


def test_number_without_pending_clarification_is_not_a_pick(close_bot: Bot) -> None:
    assert close_bot.conversation().ask("2").type is ReplyType.FALLBACK


@pytest.mark.parametrize(("message", "item"), [
    ("hi there", "greeting"), ("thanks so much", "thanks"), ("bye for now", "goodbye"),
    ("are you a real person?", "human"), ("what can you do?", "help"), ("help", "help"),
    ("you are a useless bot", "insult"),
])
def test_small_talk(bot: Bot, message: str, item: str) -> None:
    reply = bot.ask(message)
    assert reply.type is ReplyType.SMALLTALK and reply.entry == item


def test_are_you_human_says_automated_assistant(bot: Bot) -> None:
    assert "automated" in bot.ask("am i talking to a human?").text.lower()


def test_greeting_says_automated_and_not_medical_advice(bot: Bot) -> None:
    greeting = bot.welcome()["greeting"].lower()
    assert "automated" in greeting and "medical advice" in greeting


def test_question_wins_over_a_leading_greeting(bot: Bot) -> None:
    assert bot.ask("hi, is ketamine addictive?").entry == "misuse"


CRISIS_AT_ANY_TURN = ["i want to kill myself", "my friend took too much and won't wake up"]


@pytest.mark.parametrize("crisis", CRISIS_AT_ANY_TURN)
def test_crisis_at_any_turn(bot: Bot, crisis: str) -> None:
    for position in range(3):
        conv = bot.conversation()
        for q in ["is ketamine addictive?", "tell me more", "how do i book"][:position]:
            conv.ask(q)
        reply = conv.ask(crisis)
        assert reply.type is ReplyType.CRISIS
        for resource in ("988", "911", "1-800-662-4357"):
            assert resource in reply.text


def test_crisis_interrupts_a_pending_clarification(close_bot: Bot) -> None:
    conv = close_bot.conversation()
    conv.ask("what are the results for addiction")
    assert conv.ask("i want to end my life").type is ReplyType.CRISIS


@pytest.mark.parametrize("question", [
    "how much ketamine should i take?", "can i drink alcohol after my infusion?",
    "is it ok while pregnant?", "should i stop taking my antidepressants?", "am i a good candidate for this?",
])
def test_medical_advice_gets_a_referral_without_a_dose(bot: Bot, question: str) -> None:
    reply = bot.ask(question)
    assert reply.type is ReplyType.REFERRAL
    assert "consultation" in reply.text.lower()
    assert not re.search(r"\b\d+(\.\d+)?\s*(mg|milligram|ml|mcg|g)\b", reply.text.lower())


def test_out_of_scope_is_declined(bot: Bot) -> None:
    for text in ["what's the weather", "write me a poem", "what's 2+2", "?????"]:
        assert bot.ask(text).type is ReplyType.FALLBACK, text
    # A keyboard mash means nothing to the classifier either; it may attach the crisis line, never an answer.
    mash = bot.ask("asdkjhasd qwpoe")
    assert mash.type in (ReplyType.FALLBACK, ReplyType.CONCERN) and mash.entry is None


def test_fallback_offers_consultation_and_contact(bot: Bot) -> None:
    text = bot.ask("do you take insurance?").text
    assert "consultation" in text.lower() and "(425) 654-5433" in text


def test_state_round_trips_through_a_dict(bot: Bot) -> None:
    conv = bot.conversation()
    conv.ask("does ketamine work for alcohol addiction?")
    resumed = bot.conversation(conv.state.to_dict())
    assert resumed.ask("what about opioids?").entry == "opioid-results"


def test_state_stays_bounded(bot: Bot) -> None:
    conv = bot.conversation()
    for entry in bot.kb.entries:
        conv.pick(entry.id)
    assert len(conv.state.recent) <= MAX_RECENT


def test_state_from_garbage_is_a_fresh_state() -> None:
    state = ConversationState.from_dict({"state": "nope", "recent": [1, None], "options": "x", "wording": "y"})
    assert state.recent == [] and state.options == [] and state.wording == -1


@pytest.mark.parametrize("message, want", [
    ("tell me how it works and the hours", ("how-it-works", "gap-hours")),
    ("tell me how it works and the risks", ("how-it-works", "safety-in-clinic")),
])
def test_a_question_about_it_and_a_listed_topic_are_both_answered(bot: Bot, message: str,
                                                                 want: tuple[str, ...]) -> None:
    """Nothing else in the message says what "it" is, so the first question leans on the KB's subject."""
    assert bot.conversation().ask(message).parts == want


@pytest.mark.parametrize(("message", "want"), [  # written for this test (seventh round): chat abbreviations
    ("wknd hrs?", ("gap-hours",)),
    ("how do i make an appt", ("consultation",)),
    ("is there a dr there during the sesh", ("who-gives-it",)),
    ("cost? open wknds?", ("gap-cost", "gap-hours")),
])
def test_chat_abbreviations_reach_the_entries_they_spell(bot: Bot, message: str, want: tuple[str, ...]) -> None:
    reply = bot.conversation().ask(message)
    assert (reply.parts or (reply.entry,)) == want
