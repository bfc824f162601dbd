"""Conversation quality as a visitor sees it in the widget, on the bundled clinic KB with the real encoder: two
questions in one message get a section each, a declared gap says so plainly and hands over to the team, and a
follow-up the KB cannot answer does not bring back the previous answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from conftest import LiveServer, ServerFactory
from test_widget_browser import DESKTOP, WAIT, Visit

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def clinic(module_live_server: ServerFactory) -> LiveServer:
    return module_live_server()


@pytest.fixture
def visit(browser: Browser, clinic: Any) -> Iterator[Visit]:
    context = browser.new_context(viewport=DESKTOP)
    v = Visit(context.new_page(), clinic.url)
    yield v
    context.close()


def _replies(v: Visit) -> list[dict[str, Any]]:
    return [f["reply"] for f in v.received if f.get("type") == "reply"]


def test_two_questions_in_one_message_get_a_section_each(visit: Visit) -> None:
    visit.goto()
    visit.open()
    bubble = visit.ask("does it work for alcohol addiction, and how do i book the free consultation")
    reply = _replies(visit)[-1]
    assert len(reply["parts"]) == 2, reply
    for entry in reply["parts"]:
        assert entry in ("alcohol-results", "consultation")
    expect(bubble).to_contain_text("65.8%", timeout=WAIT)
    expect(bubble).to_contain_text("(425) 654-5433")


def test_a_declared_gap_says_so_and_hands_over(visit: Visit) -> None:
    visit.goto()
    visit.open()
    visit.ask("how do i book")
    bubble = visit.ask("ok and how much does it cost")
    expect(bubble).to_have_attribute("data-type", "gap", timeout=WAIT)
    expect(bubble).to_have_attribute("data-entry", "gap-cost")
    expect(bubble).to_contain_text("(425) 654-5433")
    assert not any(ch.isdigit() and "$" in bubble.inner_text() for ch in "0123456789")  # no price invented
    booking, cost = _replies(visit)[-2:]
    assert cost["text"] != booking["text"]
