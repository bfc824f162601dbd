"""The chat widget in a real browser (Debian's chromium through Playwright) against the real server.

These tests never skip: without chromium or Playwright they fail, naming what to install.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conftest import free_port

if TYPE_CHECKING:
    from conftest import LiveServer, ServerFactory

try:
    from playwright.sync_api import Browser, ConsoleMessage, Page, WebSocket, expect
except ImportError:  # pragma: no cover - the failure itself is the message
    pytest.fail("Playwright for Python is required for the widget tests: pip install playwright", pytrace=False)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parent.parent
DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 375, "height": 667}
WAIT = 10_000  # ms: generous for a loaded CI machine; a passing run never waits this long

# A tiny KB whose behaviour the tests can rely on: two parking entries that differ by one word guarantee a
# clarify for a question that leaves that word out.
TEST_KB = textwrap.dedent("""\
    settings:
      name: Test Clinic helper
      greeting: "Hello from the **test clinic**. Ask about parking or hours."
      suggestions: ["When are you open?", "Where do I park at the clinic?"]
      safety:
        crisis: |
          You may be in danger right now. People can help:

          - **Call 911** in an emergency.
          - **Call or text 988**, the Suicide & Crisis Lifeline.
    entries:
      - id: hours
        question: When are you open?
        answer: "We are open **9 to 5**, Monday to Friday. Call (425) 654-5433 or text (206) 589-5958."
        phrasings: [opening hours, what time do you open, when are you open, are you open on weekdays]
        related: [parking-north, parking-south]
      - id: parking-north
        question: Where do I park at the north clinic?
        answer: "Park in the **north garage**, level 2: see [the map](https://example.org/map) or ask front@example.org."
        phrasings: [parking at the north clinic, north clinic parking, where to park north clinic]
        related: [hours]
      - id: parking-south
        question: Where do I park at the south clinic?
        answer: "Park in the **south lot**, behind the building. [Details](javascript:alert(1))"
        phrasings: [parking at the south clinic, south clinic parking, where to park south clinic]
        related: [hours]
    """)
XSS = "<img src=x onerror=alert(1)>"


# ------------------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def test_kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    kb = tmp_path_factory.mktemp("kb")
    (kb / "kb.yaml").write_text(TEST_KB, encoding="utf-8")
    return kb


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, port: int) -> Path:
    """The widget directory the test servers serve: the real widget files plus host pages written for tests.

    Host pages come from the server itself, not from Playwright's request interception: Chromium's local
    network access checks refuse a websocket to 127.0.0.1 from a page that has no address of its own.
    """
    root = tmp_path_factory.mktemp("widget")
    for name in ("faqbot.js", "demo.html"):
        shutil.copyfile(ROOT / "widget" / name, root / name)  # copies: the static route refuses symlinks
    for name, body in HOST_PAGES.items():
        (root / name).write_text(body.replace("{ws}", f"ws://127.0.0.1:{port}/ws"), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def kb_server(module_live_server: ServerFactory, test_kb: Path, site: Path, port: int) -> LiveServer:
    """One server on the test KB for the module; tests that stop it use their own (``own_server``)."""
    return module_live_server(test_kb, port=port, widget_dir=str(site))


@pytest.fixture
def own_server(live_server: ServerFactory, test_kb: Path, site: Path) -> LiveServer:
    return live_server(test_kb, widget_dir=str(site))


@pytest.fixture(scope="module")
def default_server(module_live_server: ServerFactory) -> LiveServer:
    """The bundled clinic KB, for the documentation screenshots."""
    return module_live_server()


class Visit:
    """One browser tab on the demo page, with what it saw: console, dialogs, websocket frames."""

    def __init__(self, page: Page, base: str) -> None:
        self.page = page
        self.base = base
        self.console: list[ConsoleMessage] = []
        self.dialogs: list[str] = []
        self.sent: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        self.sockets: list[str] = []
        page.on("console", lambda message: self.console.append(message))
        page.on("dialog", self._dialog)
        page.on("websocket", self._socket)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _socket(self, ws: WebSocket) -> None:
        self.sockets.append(ws.url)
        ws.on("framesent", lambda payload: self.sent.append(_json(payload)))
        ws.on("framereceived", lambda payload: self.received.append(_json(payload)))

    def goto(self, path: str = "/") -> None:
        self.page.goto(self.base + path)
        expect(self.launcher).to_be_visible()

    @property
    def launcher(self) -> Any:
        return self.page.locator("faqbot-widget .launcher")

    @property
    def panel(self) -> Any:
        return self.page.locator("faqbot-widget .panel")

    @property
    def input(self) -> Any:
        return self.page.locator("faqbot-widget input")

    def bot(self, nth: int = -1) -> Any:
        return self.page.locator("faqbot-widget li.msg.bot").nth(nth)

    def user(self, nth: int = -1) -> Any:
        return self.page.locator("faqbot-widget li.msg.user").nth(nth)

    def open(self) -> None:
        self.launcher.click()
        expect(self.panel).to_be_visible()
        expect(self.page.locator("faqbot-widget .greeting")).to_be_visible(timeout=WAIT)

    def ask(self, text: str) -> Any:
        """Type and send ``text``; the reply bubble that answers it."""
        answered = self.page.locator("faqbot-widget li.msg.bot").count()
        self.input.fill(text)
        self.input.press("Enter")
        reply = self.page.locator("faqbot-widget li.msg.bot").nth(answered)
        expect(reply).to_be_visible(timeout=WAIT)
        return reply

    def frames(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.sent if f.get("type") == kind]

    def csp_errors(self) -> list[str]:
        return [m.text for m in self.console if "Content Security Policy" in m.text or "Refused to" in m.text]


def _json(payload: str | bytes) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@pytest.fixture
def visit(browser: Browser, kb_server: Any) -> Iterator[Visit]:
    context = browser.new_context(viewport=DESKTOP)
    v = Visit(context.new_page(), kb_server.url)
    yield v
    context.close()


STRINGS_ES = json.dumps({"send": "Enviar", "placeholder": "Escribe tu pregunta"}).replace('"', "&quot;")
HOST_PAGES = {
    "twice.html": '<!doctype html><html lang="en"><body><h1>Twice</h1>'
                  '<script src="/widget/faqbot.js" defer></script>'
                  '<script src="/widget/faqbot.js?again" defer></script></body></html>',
    "configured.html": '<!doctype html><html lang="en"><body><h1>Configured</h1>'
                       '<script src="/widget/faqbot.js" data-server="{ws}" data-title="Ask Quest" data-color="#ffd000"'
                       ' data-position="bottom-left" data-open data-greeting="Hola, **bienvenido**." data-lang="es"'
                       f' data-strings="{STRINGS_ES}" defer></script></body></html>',
}


# ---------------------------------------------------------------------------------------------- tests

def test_open_shows_name_greeting_and_starter_suggestions(visit: Visit) -> None:
    visit.goto()
    expect(visit.panel).to_be_hidden()
    visit.open()
    expect(visit.page.locator("faqbot-widget h2")).to_have_text("Test Clinic helper")
    expect(visit.page.locator("faqbot-widget .greeting strong")).to_have_text("test clinic")
    starters = visit.page.locator("faqbot-widget .intro .chip")
    expect(starters).to_have_text(["When are you open?", "Where do I park at the clinic?"])
    expect(visit.input).to_be_focused()


def test_ask_shows_answer_with_links_and_suggestions(visit: Visit) -> None:
    visit.goto()
    visit.open()
    reply = visit.ask("what time do you open")
    expect(reply).to_have_attribute("data-entry", "hours")
    expect(reply.locator("strong")).to_have_text("9 to 5")
    expect(reply.locator('a[href="tel:+14256545433"]')).to_have_text("(425) 654-5433")
    expect(reply.locator('a[href="sms:+12065895958"]')).to_have_text("(206) 589-5958")
    expect(reply.locator(".chip")).to_have_text(["Where do I park at the north clinic?",
                                                 "Where do I park at the south clinic?"])
    expect(visit.page.locator("faqbot-widget .intro .chip").first).to_be_hidden()  # starters give way


def test_click_suggestion_asks_it(visit: Visit) -> None:
    visit.goto()
    visit.open()
    visit.page.locator("faqbot-widget .intro .chip", has_text="When are you open?").click()
    expect(visit.user()).to_contain_text("When are you open?")
    expect(visit.bot()).to_have_attribute("data-entry", "hours", timeout=WAIT)
    visit.bot().locator(".chip", has_text="south clinic").click()
    expect(visit.page.locator('faqbot-widget li.msg.bot[data-entry="parking-south"]')).to_contain_text("south lot",
                                                                                                       timeout=WAIT)


def test_clarify_option_click_sends_pick(visit: Visit) -> None:
    visit.goto()
    visit.open()
    reply = visit.ask("where do i park at the clinic")
    expect(reply).to_have_attribute("data-type", "clarify")
    options = reply.locator(".chip[data-entry]")
    expect(options).to_have_count(2)
    options.filter(has_text="north clinic").click()
    answer = visit.page.locator('faqbot-widget li.msg.bot[data-entry="parking-north"]')
    expect(answer).to_contain_text("north garage", timeout=WAIT)
    assert visit.frames("pick")[-1]["entry"] == "parking-north"


def test_typing_indicator_shows_until_the_reply_arrives(visit: Visit) -> None:
    held: list[str | bytes] = []
    pages: list[Any] = []

    def hold_replies(ws: Any) -> None:
        # Sits between the widget and the real server: the reply frames wait until the test lets them through.
        server = ws.connect_to_server()
        pages.append(ws)
        server.on_message(lambda m: held.append(m) if '"reply"' in str(m) else ws.send(m))

    visit.page.route_web_socket(re.compile(r".*/ws$"), hold_replies)
    visit.goto()
    visit.open()
    typing = visit.page.locator("faqbot-widget .typing")
    expect(typing).to_be_hidden()
    visit.input.fill("what time do you open")
    visit.input.press("Enter")
    expect(typing).to_be_visible(timeout=WAIT)
    expect(typing).to_have_attribute("role", "status")
    visit.page.wait_for_timeout(300)
    expect(typing).to_be_visible()  # still waiting: nothing has answered yet
    assert held, "the server's reply should be held by the route"
    pages[0].send(held.pop(0))
    expect(visit.bot()).to_have_attribute("data-entry", "hours", timeout=WAIT)
    expect(typing).to_be_hidden()


def test_reply_links_open_safely(visit: Visit) -> None:
    visit.goto()
    visit.open()
    north = visit.ask("north clinic parking")
    web = north.locator('a[href="https://example.org/map"]')
    expect(web).to_contain_text("the map")
    expect(web).to_have_attribute("target", "_blank")
    expect(web).to_have_attribute("rel", "noopener noreferrer")
    expect(north.locator('a[href="mailto:front@example.org"]')).to_have_text("front@example.org")
    south = visit.ask("south clinic parking")
    expect(south).to_contain_text("[Details](javascript:alert(1))")  # not a link: only http(s), mailto, tel, sms
    assert south.locator("a").count() == 0


def test_visitor_html_is_shown_as_text_and_never_run(visit: Visit) -> None:
    visit.goto()
    visit.open()
    visit.ask(XSS)
    expect(visit.user().locator(".body")).to_have_text(XSS)
    assert visit.page.locator("faqbot-widget img").count() == 0
    visit.page.wait_for_timeout(300)  # an onerror would fire by now
    assert visit.dialogs == []


def test_thumbs_up_sends_feedback_for_that_reply(visit: Visit) -> None:
    visit.goto()
    visit.open()
    reply = visit.ask("opening hours")
    up = reply.get_by_role("button", name="Helpful", exact=True)
    up.click()
    expect(up).to_have_attribute("aria-pressed", "true")
    expect(reply.locator(".thanks")).to_have_text("Thanks for your feedback.")
    asked = visit.frames("message")[-1]["id"]
    feedback = visit.frames("feedback")[-1]
    assert (feedback["reply"], feedback["vote"]) == (asked, "up")
    _wait_for(visit.page, lambda: any(f.get("type") == "ack" and f.get("id") == feedback["id"] for f in visit.received))


def test_crisis_reply_is_an_alert_that_looks_different(visit: Visit) -> None:
    visit.goto()
    visit.open()
    normal = visit.ask("opening hours")
    crisis = visit.ask("i want to kill myself")
    expect(crisis).to_have_attribute("data-type", "crisis")
    expect(crisis.locator('[role="alert"]')).to_contain_text("988")
    expect(crisis.locator('a[href="tel:911"]')).to_be_visible()  # "Call 911": tap to call
    expect(crisis.locator('a[href="tel:988"]')).to_be_visible()  # "Call or text 988": a call always works
    look = "e => { const s = getComputedStyle(e); return [s.backgroundColor, s.borderLeftWidth]; }"
    assert crisis.evaluate(look) != normal.evaluate(look)
    assert crisis.get_by_role("button", name="Helpful").count() == 0


def test_reconnects_after_restart_and_delivers_queued_message(browser: Browser, own_server: LiveServer) -> None:
    context = browser.new_context(viewport=DESKTOP)
    visit = Visit(context.new_page(), own_server.url)
    visit.goto()
    visit.open()
    visit.ask("opening hours")
    status = visit.page.locator("faqbot-widget .status")
    own_server.stop()
    try:
        expect(status).to_contain_text("Reconnecting", timeout=WAIT)
        visit.input.fill("where to park south clinic")
        visit.input.press("Enter")
        expect(visit.user()).to_contain_text("will be sent when the connection is back")
    finally:
        own_server.start()
    expect(visit.page.locator('faqbot-widget li.msg.bot[data-entry="parking-south"]')).to_be_visible(timeout=20_000)
    expect(status).to_be_hidden()
    expect(visit.user().locator(".meta")).to_be_hidden()
    context.close()


def test_reload_restores_history_and_resumes_session(visit: Visit) -> None:
    visit.goto()
    visit.open()
    visit.ask("opening hours")
    session = next(f["session"] for f in visit.received if f.get("type") == "welcome")
    visit.page.reload()
    expect(visit.panel).to_be_visible()  # it was open, so it stays open
    expect(visit.user()).to_have_text(re.compile("opening hours"))
    expect(visit.bot()).to_have_attribute("data-entry", "hours")
    _wait_for(visit.page, lambda: len([f for f in visit.received if f.get("type") == "welcome"]) == 2)
    assert f"session={session}" in visit.sockets[-1]
    welcome = [f for f in visit.received if f.get("type") == "welcome"][-1]
    assert (welcome["session"], welcome["resumed"]) == (session, True)


def test_keyboard_only(visit: Visit) -> None:
    visit.goto()
    page = visit.page
    for _ in range(40):  # Tab through the page until the launcher has focus
        page.keyboard.press("Tab")
        if visit.launcher.evaluate("e => e.getRootNode().activeElement === e"):
            break
    else:
        pytest.fail("Tab never reached the launcher")
    outline = visit.launcher.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline != "none", "focus must be visible"
    page.keyboard.press("Enter")
    expect(visit.panel).to_be_visible()
    expect(visit.input).to_be_focused()
    page.keyboard.type("opening hours")
    page.keyboard.press("Enter")
    expect(visit.bot()).to_have_attribute("data-entry", "hours", timeout=WAIT)
    for _ in range(10):  # back from the input to the reply's last suggestion
        page.keyboard.press("Shift+Tab")
        if page.evaluate("() => document.querySelector('faqbot-widget').shadowRoot.activeElement.className") == "chip":
            break
    page.keyboard.press("Enter")
    expect(visit.page.locator("faqbot-widget li.msg.user")).to_have_count(2)
    page.keyboard.press("Escape")
    expect(visit.panel).to_be_hidden()
    expect(visit.launcher).to_be_focused()


def test_full_screen_at_375x667(browser: Browser, kb_server: Any) -> None:
    context = browser.new_context(viewport=MOBILE, is_mobile=True, has_touch=True)
    try:
        v = Visit(context.new_page(), kb_server.url)
        v.goto()
        box = v.launcher.bounding_box()
        assert box and box["x"] + box["width"] <= MOBILE["width"] and box["y"] + box["height"] <= MOBILE["height"]
        v.launcher.tap()
        expect(v.panel).to_be_visible()
        assert v.panel.bounding_box() == {"x": 0, "y": 0, **MOBILE}
        expect(v.launcher).to_be_hidden()  # the panel covers it; its own close button is there
        reply = v.ask("opening hours")
        expect(reply).to_be_in_viewport()
        v.page.keyboard.press("Escape")
        expect(v.panel).to_be_hidden()
        expect(v.launcher).to_be_visible()
        expect(v.launcher).to_be_focused()
    finally:
        context.close()


def test_strict_csp_page_has_no_violations(visit: Visit) -> None:
    visit.page.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")
    response = visit.page.goto(visit.base + "/")
    assert response is not None
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp and "unsafe-inline" not in csp.split("style-src")[0]
    visit.open()
    visit.ask("opening hours")
    visit.ask("i want to kill myself")
    assert visit.page.evaluate("window.__csp") == []
    assert visit.csp_errors() == []


def test_styles_apply_without_unsafe_inline(visit: Visit) -> None:
    """A constructed stylesheet is not inline style: even ``style-src 'self'`` alone keeps the widget styled."""
    strict = "default-src 'self'; script-src 'self'; style-src 'self'"
    visit.page.route(visit.base + "/strict.html", lambda route: route.fulfill(
        status=200, content_type="text/html", headers={"Content-Security-Policy": strict},
        body='<!doctype html><html lang="en"><body><script src="/widget/faqbot.js" defer></script></body></html>'))
    visit.goto("/strict.html")
    assert visit.launcher.evaluate("e => getComputedStyle(e).position") == "fixed"
    assert visit.csp_errors() == []


def test_loading_the_script_twice_makes_one_launcher(visit: Visit) -> None:
    visit.goto("/widget/twice.html")
    visit.page.add_script_tag(url="/widget/faqbot.js?third")
    visit.page.wait_for_timeout(200)
    assert visit.page.locator("faqbot-widget").count() == 1
    assert visit.page.locator("faqbot-widget .launcher").count() == 1
    visit.open()
    _wait_for(visit.page, lambda: len(visit.sockets) >= 1)
    assert len(visit.sockets) == 1


def test_destroy_removes_everything_it_added(visit: Visit) -> None:
    visit.goto()
    visit.open()
    visit.ask("opening hours")
    visit.page.evaluate("window.Faqbot.destroy()")
    assert visit.page.locator("faqbot-widget").count() == 0
    assert visit.page.evaluate("typeof window.Faqbot") == "undefined"
    visit.page.wait_for_timeout(200)
    assert visit.page.evaluate("Object.keys(window).filter(k => /faqbot/i.test(k))") == []


def test_js_api_opens_and_asks(visit: Visit) -> None:
    visit.goto()
    visit.page.evaluate("window.Faqbot.ask('opening hours')")
    expect(visit.panel).to_be_visible()
    expect(visit.bot()).to_have_attribute("data-entry", "hours", timeout=WAIT)
    visit.page.evaluate("window.Faqbot.close()")
    expect(visit.panel).to_be_hidden()


def test_data_attributes_configure_the_widget(visit: Visit) -> None:
    visit.goto("/widget/configured.html")
    expect(visit.panel).to_be_visible()  # data-open
    expect(visit.page.locator("faqbot-widget h2")).to_have_text("Ask Quest")
    expect(visit.page.locator("faqbot-widget .greeting strong")).to_have_text("bienvenido", timeout=WAIT)
    expect(visit.page.locator("faqbot-widget .send")).to_have_attribute("aria-label", "Enviar")
    expect(visit.input).to_have_attribute("placeholder", "Escribe tu pregunta")
    expect(visit.page.locator("faqbot-widget .fb")).to_have_attribute("lang", "es")
    box = visit.launcher.bounding_box()
    assert box and box["x"] < DESKTOP["width"] / 2  # bottom-left
    # A light brand colour gets dark text on it, keeping AA contrast.
    colour = visit.launcher.evaluate("e => getComputedStyle(e).color")
    assert colour == "rgb(17, 17, 17)"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast_is_wcag_aa(browser: Browser, kb_server: Any, scheme: str) -> None:
    context = browser.new_context(viewport=DESKTOP, color_scheme=scheme)
    try:
        v = Visit(context.new_page(), kb_server.url)
        v.goto()
        v.open()
        v.ask("opening hours")
        v.ask("i want to kill myself")
        v.ask("where do i park at the clinic")
        worst = v.page.evaluate(CONTRAST_JS)
        assert worst["ratio"] >= 4.5, worst
    finally:
        context.close()


# Every text node in the widget: its colour against the first opaque background behind it.
CONTRAST_JS = """() => {
  const root = document.querySelector('faqbot-widget').shadowRoot;
  const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const lin = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = ([r, g, b]) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  const bg = e => {
    for (; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || c[3] === 1) return c;
    }
    return [255, 255, 255];
  };
  let worst = {ratio: 99};
  const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const e = n.parentElement;
    if (!n.textContent.trim() || !e || !e.checkVisibility() || e.closest('.sr')) continue;
    const fg = rgb(getComputedStyle(e).color), back = bg(e);
    const a = lum(fg), b = lum(back);
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < worst.ratio) worst = {ratio, text: n.textContent.slice(0, 40), fg, back};
  }
  return worst;
}"""


def test_widget_source_has_no_html_sinks_eval_or_cross_window_messaging() -> None:
    source = (ROOT / "widget" / "faqbot.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                 "postMessage", 'addEventListener("message"'):
        assert sink not in source, sink


def test_screenshots_for_the_docs(browser: Browser, default_server: Any, tmp_path: Path) -> None:
    """widget-desktop.png and widget-mobile.png: the open widget with a short conversation, each answered.

    Written to a temp dir; ``FAQBOT_SCREENSHOTS=docs`` writes the README's copies instead.
    """
    out = Path(os.environ.get("FAQBOT_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    for name, viewport, questions in (
        ("desktop", DESKTOP, ["is ketamine addictive?", "how do i book a consultation"]),
        ("mobile", MOBILE, ["does it work for alcohol?"]),
    ):
        context = browser.new_context(viewport=viewport, device_scale_factor=1, color_scheme="light",
                                      is_mobile=viewport is MOBILE, has_touch=viewport is MOBILE)
        try:
            v = Visit(context.new_page(), default_server.url)
            v.goto()
            v.open()
            for q in questions:
                expect(v.ask(q)).to_have_attribute("data-type", "answer")
                expect(v.bot()).to_be_in_viewport()
            v.input.blur()
            v.page.wait_for_timeout(150)
            path = out / f"widget-{name}.png"
            v.page.screenshot(path=str(path))
            header = path.read_bytes()[:24]
            assert header[:8] == b"\x89PNG\r\n\x1a\n"
            assert (int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")) == (
                viewport["width"], viewport["height"])
        finally:
            context.close()


def _wait_for(page: Page, condition: Callable[[], bool], timeout: float = WAIT / 1000) -> None:
    """Poll a Python-side condition; waiting through the page lets Playwright deliver its events meanwhile."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        page.wait_for_timeout(50)
