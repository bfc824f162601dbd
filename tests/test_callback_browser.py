"""The callback form in the widget, in headless Chromium against a real server that mails a real local SMTP
server (aiosmtpd) and posts to a real loopback webhook receiver."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ServerFactory
from playwright.sync_api import expect
from test_callback_server import Hooks, Mailbox, hooks, mailbox, notifying, wait_for  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

WAIT = 10_000
PHONE = {"width": 375, "height": 667}


def open_chat(page: Any, url: str) -> None:
    page.goto(url + "/")
    page.locator("faqbot-widget .launcher").click()
    expect(page.locator("faqbot-widget .greeting")).to_be_visible(timeout=WAIT)


def start_form(page: Any) -> Any:
    page.locator("faqbot-widget #faqbot-input").fill("Request a callback")
    page.locator("faqbot-widget #faqbot-input").press("Enter")
    form = page.locator("faqbot-widget form.cb")
    expect(form).to_be_visible(timeout=WAIT)
    return form


def test_widget_form_sends_one_email_and_one_webhook(browser: Any, live_server: ServerFactory,
                                                      mailbox: tuple[Mailbox, int], hooks: Hooks) -> None:  # noqa: F811
    server = notifying(live_server, mailbox, hooks)
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()
    try:
        open_chat(page, server.url)
        form = start_form(page)
        name = form.get_by_label("Your name")
        expect(name).to_be_focused()
        expect(form).to_contain_text("We will use this only to contact you about a consultation")
        assert name.bounding_box()["height"] >= 44  # a finger-sized target on a phone
        # Wrong first: an invalid phone and no consent, each error tied to its field.
        name.fill("Ann Lee")
        contact = form.get_by_label("Phone or email")
        contact.fill("12")
        form.get_by_label("Best time(s) to reach you").fill("weekday mornings")
        form.get_by_role("button", name="Send request").click()
        expect(contact).to_have_attribute("aria-invalid", "true", timeout=WAIT)
        error_id = contact.get_attribute("aria-describedby")
        expect(form.locator(f"#{error_id}")).to_be_visible()
        expect(form.locator(f"#{error_id}")).not_to_be_empty()
        expect(contact).to_be_focused()
        consent = form.get_by_label("We will use this only to contact you about a consultation")
        expect(consent).to_have_attribute("aria-invalid", "true")
        assert mailbox[0].messages == [] and hooks.received == []
        # Then right, with the keyboard only.
        contact.fill("(425) 654-5433")
        consent.focus()
        page.keyboard.press("Space")
        expect(consent).to_be_checked()
        contact.press("Enter")
        expect(form).to_have_count(0, timeout=WAIT)
        expect(page.locator("faqbot-widget li.msg.bot").last).to_contain_text("Thank you", timeout=WAIT)
        expect(page.locator("faqbot-widget #faqbot-input")).to_be_visible()
        wait_for(lambda: mailbox[0].messages and hooks.received)
        time.sleep(0.5)
        assert len(mailbox[0].messages) == 1 and len(hooks.received) == 1
        sent = json.loads(hooks.received[0][1])
        assert (sent["name"], sent["phone"], sent["best_time"], sent["channel"]) == (
            "Ann Lee", "+14256545433", "weekday mornings", "ws")
        body = mailbox[0].messages[0].content.decode()
        assert "Ann Lee" in body and "+14256545433" in body and "weekday mornings" in body
        # The widget's saved conversation holds none of it.
        saved = page.evaluate("() => JSON.stringify({...localStorage}) + JSON.stringify({...sessionStorage})")
        assert "654-5433" not in saved and "Ann Lee" not in saved
    finally:
        context.close()


def test_cancel_closes_the_form_and_ends_the_request(browser: Any, live_server: ServerFactory) -> None:
    server = live_server()
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        open_chat(page, server.url)
        form = start_form(page)
        form.get_by_label("Your name").fill("Ann Lee")
        form.get_by_role("button", name="Cancel").click()
        expect(form).to_have_count(0)
        expect(page.locator("faqbot-widget li.msg.bot").last).to_contain_text("not kept anything", timeout=WAIT)
        expect(page.locator("faqbot-widget #faqbot-input")).to_be_focused()
    finally:
        context.close()


AXE = Path(os.environ.get("FAQBOT_AXE", Path(__file__).resolve().parent / ".axe" / "node_modules" / "axe-core"
                          / "axe.min.js"))
AXE_RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}));
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violations_in_the_form_with_its_errors(browser: Any, live_server: ServerFactory,
                                                              scheme: str) -> None:
    if not AXE.is_file():
        pytest.fail(f"axe-core not found at {AXE}: run tests/run.sh (or set FAQBOT_AXE)", pytrace=False)
    server = live_server()
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, bypass_csp=True,
                                  color_scheme=scheme)
    page = context.new_page()
    try:
        open_chat(page, server.url)
        form = start_form(page)
        form.get_by_role("button", name="Send request").click()
        expect(form.get_by_label("Your name")).to_have_attribute("aria-invalid", "true", timeout=WAIT)
        page.evaluate(AXE.read_text(encoding="utf-8"))
        assert page.evaluate(AXE_RUN) == []
    finally:
        context.close()
