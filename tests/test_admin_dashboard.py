"""The dashboard served at /admin in Chromium: the token form, the page, and an Accept button that writes the
phrasing into the served KB (guarded by lint and the answer suite, as `faqbot accept` is) and reloads it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from conftest import SMALL_KB, ServerFactory
from faqbot.models import Option, Reply, ReplyType
from faqbot.recorder import Recorder

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]
TOKEN = "dashboard-admin-token"
QUESTION = "how long r the sessions"


def _log(path: Path) -> None:
    """A visitor who got a clarification for QUESTION and picked the session-length entry."""
    clarify = Reply(ReplyType.CLARIFY, "Did you mean one of these?", confidence=0.5,
                    options=(Option("session-length", "a"), Option("effects-length", "b")))
    picked = Reply(ReplyType.ANSWER, "About an hour.", entry="session-length", confidence=1.0)
    with Recorder(path) as rec:
        rec.record_turn("session-0001-xxxxxxxx", "t0", QUESTION, clarify, "test")
        rec.record_turn("session-0001-xxxxxxxx", "t1", "the first one", picked, "test")


def test_sign_in_see_the_rates_and_accept_a_suggestion(browser: Browser, live_server: ServerFactory,
                                                       tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "faq.yaml").write_text(SMALL_KB, encoding="utf-8")
    db = tmp_path / "log.sqlite3"
    _log(db)
    srv = live_server(kb, logging=True, log_db=str(db), admin_token=TOKEN)
    assert httpx.get(srv.url + "/admin/report").status_code == 401

    page = browser.new_page()
    page.goto(srv.url + "/admin")
    expect(page.get_by_label("Admin token")).to_be_visible()
    page.get_by_label("Admin token").fill("wrong")
    page.get_by_role("button", name="Open the dashboard").click()
    expect(page.get_by_role("alert")).to_contain_text("not the admin token")

    page.get_by_label("Admin token").fill(TOKEN)
    page.get_by_role("button", name="Open the dashboard").click()
    expect(page.get_by_role("heading", name="faqbot dashboard")).to_be_visible()
    assert page.locator("svg").count() >= 1  # the rates per day, drawn inline
    expect(page.locator(".tile").first).to_be_visible()
    row = page.locator("table.proposals tr", has_text=QUESTION)
    expect(row).to_be_visible()
    row.get_by_role("button", name="Accept into session-length").click()
    expect(page.get_by_role("status")).to_contain_text("added 1 phrasing")
    assert QUESTION in (kb / "faq.yaml").read_text(encoding="utf-8")
    reply = httpx.post(srv.url + "/api/ask", json={"text": QUESTION}).json()["reply"]
    assert (reply["type"], reply["entry"]) == ("answer", "session-length")  # the reload took it
    cookie = [c for c in page.context.cookies() if c["name"] == "faqbot_admin"][0]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and TOKEN not in cookie["value"]
    page.close()


def test_a_post_from_another_origin_is_refused(live_server: ServerFactory, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "faq.yaml").write_text(SMALL_KB, encoding="utf-8")
    srv = live_server(kb, logging=True, log_db=str(tmp_path / "log.sqlite3"), admin_token=TOKEN)
    refused = httpx.post(srv.url + "/admin/accept", data={"id": "x"}, headers={
        "authorization": f"Bearer {TOKEN}", "origin": "https://evil.example"}, follow_redirects=False)
    assert refused.status_code == 403
    assert httpx.get(srv.url + "/admin", follow_redirects=False).status_code == 200  # the token form, no data
    assert "Admin token" in httpx.get(srv.url + "/admin").text
