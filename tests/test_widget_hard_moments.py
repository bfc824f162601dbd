"""The widget in the hard moments (issue 16): phones, outages, misconfiguration, assistive tech.

Real Chromium (Debian's, through Playwright) against real servers; axe-core from npm (installed by
tests/run.sh into tests/.axe). Never skips: a missing browser or axe-core fails with what to install.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from conftest import free_port
from conftest import CHROMIUM, CHROMIUM_ARGS
from test_widget_browser import DESKTOP, MOBILE, TEST_KB, WAIT, Visit, _wait_for

if TYPE_CHECKING:
    from conftest import LiveServer, ServerFactory

from playwright.sync_api import Browser, BrowserContext, Playwright, expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parent.parent
AXE = Path(os.environ.get("FAQBOT_AXE", ROOT / "tests" / ".axe" / "node_modules" / "axe-core" / "axe.min.js"))
SMALL = {"width": 320, "height": 568}
ALLOWED_ORIGIN = "https://clinic.example"  # the allowlist; pages on the server's own host are allowed anyway
CONTACT = "- Call (425) 654-5433\n- Text (206) 589-5958"
VIEWPORT_META = '<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">'


def _page(body: str = "", attrs: str = "", head: str = VIEWPORT_META) -> str:
    # Enough page to be a fair host: a banner, a main landmark, links behind the widget.
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">{head}<title>Host</title></head><body>'
            '<header><a href="#a">Home</a></header><main><h1>Host page</h1>'
            f'<p><a href="#b">A page link</a> and <a href="#c">another</a>.</p>{body}</main>'
            f'<script src="/widget/faqbot.js" {attrs} defer></script></body></html>')


def _pages(port: int, dead: int) -> dict[str, str]:
    ws = f"ws://127.0.0.1:{port}/ws"
    contact = CONTACT.replace("\n", "&#10;")
    return {
        "plain.html": _page(),
        "left.html": _page(attrs='data-position="bottom-left"'),
        "dark.html": _page(attrs='data-theme="dark"'),
        "light.html": _page(attrs='data-theme="light"'),
        "open.html": _page(attrs="data-open"),
        "open-always.html": _page(attrs='data-open="always"'),
        "no-viewport.html": _page(head=""),
        "slow.html": _page(attrs='data-reply-timeout="1500"'),
        "offline.html": _page(attrs=f'data-server="ws://127.0.0.1:{dead}/ws" data-contact="{contact}"'),
        "offline-no-crisis.html": _page(attrs=f'data-server="ws://127.0.0.1:{dead}/ws" data-crisis=""'),
        "refused.html": _page(attrs=f'data-server="{ws}" data-contact="{contact}"'),
    }


# ------------------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"axe-core not found at {AXE}: run tests/run.sh, or "
                    "npm install --prefix tests/.axe --no-save axe-core@4.14.1 (or set FAQBOT_AXE)", pytrace=False)
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def test_kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    kb = tmp_path_factory.mktemp("kb")
    (kb / "kb.yaml").write_text(TEST_KB, encoding="utf-8")
    return kb


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, port: int) -> Path:
    root = tmp_path_factory.mktemp("widget")
    for name in ("faqbot.js", "demo.html"):
        shutil.copyfile(ROOT / "widget" / name, root / name)
    for name, body in _pages(port, free_port()).items():
        (root / name).write_text(body, encoding="utf-8")
    demo = (ROOT / "widget" / "demo.html").read_text(encoding="utf-8")
    left = demo.replace("<script src=", '<script data-position="bottom-left" src=')
    assert left != demo
    (root / "demo-left.html").write_text(left, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def server(module_live_server: ServerFactory, test_kb: Path, site: Path, port: int) -> LiveServer:
    return module_live_server(test_kb, port=port, widget_dir=str(site), origins=(ALLOWED_ORIGIN,))


def _context(browser: Browser, *, phone: bool = False, size: dict[str, int] | None = None,
             **options: Any) -> BrowserContext:
    viewport = size or (MOBILE if phone else DESKTOP)
    return browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone, **options)


@pytest.fixture
def desk(browser: Browser, server: LiveServer) -> Iterator[Visit]:
    context = _context(browser)
    yield Visit(context.new_page(), server.url)
    context.close()


@pytest.fixture
def phone(browser: Browser, server: LiveServer) -> Iterator[Visit]:
    context = _context(browser, phone=True)
    yield Visit(context.new_page(), server.url)
    context.close()


def _shadow(visit: Visit, js: str) -> Any:
    """Evaluate ``js`` (a function of the shadow root) in the page."""
    return visit.page.evaluate(f"() => ({js})(document.querySelector('faqbot-widget').shadowRoot)")


def _active(visit: Visit) -> dict[str, Any]:
    return visit.page.evaluate("""() => {
      const host = document.querySelector('faqbot-widget');
      const inside = document.activeElement === host;
      const el = inside ? host.shadowRoot.activeElement : document.activeElement;
      return {inside, tag: el && el.tagName, cls: el && el.className,
              outline: el ? getComputedStyle(el).outlineStyle : 'none'};
    }""")


def _errors(visit: Visit, kind: str = "error") -> list[str]:
    return [m.text for m in visit.console if m.type == kind and m.text.startswith("faqbot:")]


# ----------------------------------------------------------------------------------------------- phones

@pytest.mark.parametrize("page", ["plain.html", "left.html"])
@pytest.mark.parametrize("width", [320, 375, 430])
def test_phone_panel_fills_the_screen_in_both_positions(browser: Browser, server: LiveServer, page: str,
                                                         width: int) -> None:
    size = {"width": width, "height": 700}
    context = _context(browser, phone=True, size=size)
    try:
        v = Visit(context.new_page(), server.url)
        v.goto("/widget/" + page)
        v.launcher.tap()
        expect(v.panel).to_be_visible()
        assert v.panel.bounding_box() == {"x": 0, "y": 0, **size}
        v.ask("i want to kill myself")
        for part in ("h2", ".close", ".send", "input", "li.msg.crisis"):
            box = v.page.locator(f"faqbot-widget {part}").last.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (part, box)
        assert _shadow(v, "r => { const s = r.querySelector('.scroll'); return s.scrollWidth <= s.clientWidth; }")
    finally:
        context.close()


def test_demo_page_does_not_overflow_at_320px(browser: Browser, server: LiveServer) -> None:
    context = _context(browser, phone=True, size=SMALL)
    try:
        v = Visit(context.new_page(), server.url)
        v.goto("/")
        assert v.page.evaluate("document.scrollingElement.scrollWidth") <= SMALL["width"]
    finally:
        context.close()


def test_without_viewport_meta_a_phone_still_gets_a_full_screen_readable_panel(browser: Browser,
                                                                               server: LiveServer) -> None:
    context = _context(browser, phone=True)
    try:
        v = Visit(context.new_page(), server.url)
        v.goto("/widget/no-viewport.html")
        layout = v.page.evaluate("document.documentElement.clientWidth")
        assert layout > 900, "a page without a viewport meta is laid out desktop-wide on a phone"
        scale = MOBILE["width"] / layout  # how much the phone shrinks the page to fit the screen
        v.launcher.tap()
        expect(v.panel).to_be_visible()
        box = v.panel.bounding_box()
        assert box and box["x"] == 0 and box["y"] == 0 and abs(box["width"] - layout) < 2
        send = v.page.locator("faqbot-widget .send").bounding_box()
        assert send and send["width"] * scale >= 40, "the Send button must be finger-sized on the screen"
        font = _shadow(v, "r => parseFloat(getComputedStyle(r.querySelector('input')).fontSize)")
        zoom = float(_shadow(v, "r => r.querySelector('.fb').style.zoom || '1'"))
        assert font * zoom * scale >= 15, "text must be readable on the screen, not shrunk with the page"
    finally:
        context.close()


def test_data_open_waits_for_a_tap_on_phones_unless_always(phone: Visit, desk: Visit) -> None:
    desk.page.goto(desk.base + "/widget/open.html")
    expect(desk.panel).to_be_visible()  # on a desktop data-open opens
    phone.goto("/widget/open.html")
    phone.page.wait_for_timeout(300)
    expect(phone.panel).to_be_hidden()
    phone.page.goto(phone.base + "/widget/open-always.html")
    expect(phone.panel).to_be_visible()


def test_safe_area_insets_keep_controls_clear_of_notch_and_home_bar(phone: Visit) -> None:
    cdp = phone.page.context.new_cdp_session(phone.page)
    cdp.send("Emulation.setSafeAreaInsetsOverride", {"insets": {"top": 47, "bottom": 34, "left": 0, "right": 0}})
    phone.goto("/widget/plain.html")
    launcher = phone.launcher.bounding_box()
    assert launcher and MOBILE["height"] - (launcher["y"] + launcher["height"]) >= 20 + 34
    phone.launcher.tap()
    expect(phone.panel).to_be_visible()
    title = phone.page.locator("faqbot-widget h2").bounding_box()
    send = phone.page.locator("faqbot-widget .send").bounding_box()
    assert title and title["y"] >= 47
    assert send and send["y"] + send["height"] <= MOBILE["height"] - 34


# ------------------------------------------------------------------------------------------ focus, modal

def test_phone_panel_is_a_modal_that_keeps_focus_inside(phone: Visit) -> None:
    phone.goto("/widget/plain.html")
    phone.launcher.tap()
    expect(phone.panel).to_have_attribute("aria-modal", "true")
    assert phone.page.evaluate("document.querySelector('main').inert && document.querySelector('header').inert")
    phone.ask("opening hours")
    phone.input.focus()
    seen = set()
    for _ in range(14):
        phone.page.keyboard.press("Tab")
        active = _active(phone)
        assert active["inside"], f"Tab left the modal panel for {active}"
        assert active["outline"] != "none", f"no visible focus ring on {active}"
        seen.add(active["cls"])
    assert "close" in seen and "send" in seen, seen  # it cycles through the whole panel
    for _ in range(6):
        phone.page.keyboard.press("Shift+Tab")
        assert _active(phone)["inside"]
    phone.page.keyboard.press("Escape")
    expect(phone.panel).to_be_hidden()
    expect(phone.launcher).to_be_focused()
    assert not phone.page.evaluate("document.querySelector('main').inert")
    phone.launcher.tap()
    phone.page.locator("faqbot-widget .close").tap()
    expect(phone.launcher).to_be_focused()


def test_desktop_panel_is_not_modal(desk: Visit) -> None:
    desk.goto("/widget/plain.html")
    desk.open()
    assert desk.panel.get_attribute("aria-modal") is None
    assert not desk.page.evaluate("document.querySelector('main').inert")


# ---------------------------------------------------------------------------------------------- outages

def test_server_down_still_shows_greeting_contact_lines_and_crisis_numbers(desk: Visit) -> None:
    desk.goto("/widget/offline.html")
    desk.launcher.click()
    expect(desk.panel).to_be_visible()
    offline = desk.page.locator("faqbot-widget .offline")
    expect(offline).to_be_visible(timeout=WAIT)
    expect(desk.page.locator("faqbot-widget .greeting")).to_contain_text("Ask us a question")
    expect(offline.locator('a[href="tel:+14256545433"]')).to_be_visible()
    expect(offline.locator('a[href="sms:+12065895958"]')).to_be_visible()
    expect(offline.locator('a[href="tel:988"]')).to_be_visible()
    expect(offline.locator('a[href="sms:988"]')).to_be_visible()
    expect(offline.locator('a[href="tel:911"]')).to_be_visible()
    expect(desk.page.locator("faqbot-widget .status")).to_contain_text("Reconnecting")


def test_crisis_line_can_be_turned_off_for_the_offline_box(desk: Visit) -> None:
    desk.goto("/widget/offline-no-crisis.html")
    desk.launcher.click()
    offline = desk.page.locator("faqbot-widget .offline")
    expect(offline).to_be_visible(timeout=WAIT)
    assert offline.locator("a").count() == 0


def test_remembered_greeting_is_shown_when_the_server_goes_down(browser: Browser, server: LiveServer,
                                                                own_server: LiveServer, site: Path) -> None:
    # The page comes from one server and the chat from another, which then stops.
    (site / "elsewhere.html").write_text(_page(attrs=f'data-server="{own_server.ws_url}"'), encoding="utf-8")
    context = _context(browser)
    try:
        v = Visit(context.new_page(), server.url)
        v.goto("/widget/elsewhere.html")
        v.open()
        own_server.stop()
        v.page.evaluate("sessionStorage.clear()")  # a later visit: only the remembered greeting is left
        v.page.reload()
        v.launcher.click()
        expect(v.page.locator("faqbot-widget .offline")).to_be_visible(timeout=WAIT)
        expect(v.page.locator("faqbot-widget .greeting strong")).to_have_text("test clinic")
    finally:
        context.close()


def test_reply_that_never_comes_times_out_with_a_retry(desk: Visit) -> None:
    held: list[Any] = []
    routes: list[Any] = []

    def drop_first_reply(ws: Any) -> None:
        server = ws.connect_to_server()
        routes.append(ws)

        def on_message(m: Any) -> None:
            if '"reply"' in str(m) and not held:
                held.append(m)  # swallowed: the widget never sees this reply
            else:
                ws.send(m)
        server.on_message(on_message)

    desk.page.route_web_socket(re.compile(r".*/ws$"), drop_first_reply)
    desk.goto("/widget/slow.html")
    desk.open()
    desk.input.fill("what time do you open")
    desk.input.press("Enter")
    typing = desk.page.locator("faqbot-widget .typing")
    expect(typing).to_be_visible(timeout=WAIT)
    retry = desk.user().locator(".retry")
    expect(retry).to_be_visible(timeout=WAIT)  # 1.5 s data-reply-timeout
    expect(typing).to_be_hidden()
    expect(desk.user().locator(".meta")).to_contain_text("No answer yet")
    retry.click()
    expect(desk.bot()).to_have_attribute("data-entry", "hours", timeout=WAIT)
    expect(desk.user().locator(".meta")).to_be_hidden()
    ids = [f["id"] for f in desk.frames("message")]
    assert len(ids) == 2 and ids[0] == ids[1], "the retry sends the same question again"
    routes[0].send(held[0])  # the lost reply turns up late: shown once, not twice
    desk.page.wait_for_timeout(300)
    assert desk.page.locator("faqbot-widget li.msg.bot").count() == 1


# ------------------------------------------------------------------------------------- misconfiguration

def test_csp_blocking_the_websocket_is_loud_in_console_and_plain_to_the_visitor(desk: Visit) -> None:
    policy = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'none'"
    desk.page.route(desk.base + "/csp.html", lambda route: route.fulfill(
        status=200, content_type="text/html", headers={"Content-Security-Policy": policy},
        body=_page(attrs=f'data-contact="{CONTACT}"')))
    desk.page.goto(desk.base + "/csp.html")
    expect(desk.launcher).to_be_visible(timeout=WAIT)
    desk.launcher.click()
    expect(desk.page.locator("faqbot-widget .status")).to_contain_text("not available", timeout=WAIT)
    expect(desk.page.locator("faqbot-widget .offline a[href='tel:988']")).to_be_visible()
    _wait_for(desk.page, lambda: bool(_errors(desk)))
    message = _errors(desk)[0]
    assert "Content-Security-Policy" in message and "connect-src" in message and "ws://127.0.0.1" in message
    expect(desk.input).to_be_disabled()
    desk.page.evaluate("Faqbot.ask('opening hours')")
    assert desk.page.locator("faqbot-widget li.msg.user").count() == 0  # nothing promised "when back"


def test_report_only_csp_does_not_stop_the_chat(pw: Playwright, server: LiveServer) -> None:
    # A page fulfilled by the test has no address, so Chromium's local network access checks would refuse its
    # websocket to 127.0.0.1 for reasons of their own: this one browser runs without them.
    browser = pw.chromium.launch(executable_path=CHROMIUM,
                                 args=["--headless", *CHROMIUM_ARGS, "--disable-features=LocalNetworkAccessChecks"])
    try:
        v = Visit(browser.new_page(viewport=DESKTOP), server.url)
        v.page.route(v.base + "/report-only.html", lambda route: route.fulfill(
            status=200, content_type="text/html", headers={"Content-Security-Policy-Report-Only": "connect-src 'none'"},
            body=_page()))
        v.page.goto(v.base + "/report-only.html")
        expect(v.launcher).to_be_visible(timeout=WAIT)
        v.open()
        expect(v.ask("opening hours")).to_have_attribute("data-entry", "hours")
        assert any("report-only" in m.text for m in v.console), "the policy did report the websocket"
        assert _errors(v) == []
    finally:
        browser.close()


def test_refused_origin_hides_the_launcher_and_names_the_fix(browser: Browser, server: LiveServer) -> None:
    context = _context(browser)
    try:
        # Served from localhost, talking to 127.0.0.1: a different origin, not on the server's allowlist.
        v = Visit(context.new_page(), f"http://localhost:{server.port}")
        v.page.goto(v.base + "/widget/refused.html")
        _wait_for(v.page, lambda: bool(_errors(v)))
        message = _errors(v)[0]
        assert f"http://localhost:{server.port}" in message and "FAQBOT_ORIGINS" in message
        v.page.wait_for_timeout(3500)  # past the launcher's own fallback delay
        expect(v.launcher).to_be_hidden()
        v.page.evaluate("Faqbot.ask('opening hours'); Faqbot.open()")
        expect(v.panel).to_be_hidden()
        assert v.page.locator("faqbot-widget li.msg.user").count() == 0
        sockets = len(v.sockets)
        v.page.reload()  # remembered for the tab: no new connection, still hidden
        v.page.wait_for_timeout(500)
        expect(v.launcher).to_be_hidden()
        assert len(v.sockets) == sockets
    finally:
        context.close()


def test_unreachable_server_warns_the_developer_with_the_url(desk: Visit) -> None:
    desk.goto("/widget/offline.html")
    desk.launcher.click()
    _wait_for(desk.page, lambda: bool(_errors(desk, "warning")), timeout=20)
    message = _errors(desk, "warning")[0]
    assert "cannot reach the chat server at ws://127.0.0.1:" in message and "data-server" in message


# ------------------------------------------------------------------------------------------ accessibility

AXE_RUN = """async (skip) => {
  const rules = Object.fromEntries((skip || []).map(id => [id, {enabled: false}]));
  const r = await axe.run(document, {resultTypes: ['violations'], rules});
  return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}));
}"""


def _axe(visit: Visit, source: str, *, skip: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    visit.page.evaluate(source)
    return list(visit.page.evaluate(AXE_RUN, list(skip)))


@pytest.mark.parametrize("state", ["light", "dark", "phone", "clarify", "crisis", "crisis-dark", "crisis-later",
                                   "refused", "forced-colors"])
def test_axe_finds_no_violations(browser: Browser, server: LiveServer, axe_source: str, state: str) -> None:
    options: dict[str, Any] = {"bypass_csp": True}  # lets the test inject axe-core into the CSP'd demo page
    if state in ("dark", "crisis-dark"):
        options["color_scheme"] = "dark"
    if state == "forced-colors":
        options["forced_colors"] = "active"
    context = _context(browser, phone=state == "phone", **options)
    try:
        base = f"http://localhost:{server.port}" if state == "refused" else server.url
        v = Visit(context.new_page(), base)
        if state == "refused":
            v.page.goto(base + "/widget/refused.html")
            _wait_for(v.page, lambda: bool(_errors(v)))
        else:
            v.goto("/")
            v.open()
            question = {"clarify": "where do i park at the clinic", "crisis": "i want to kill myself",
                        "crisis-dark": "i want to kill myself", "crisis-later": "i want to kill myself"}
            v.ask(question.get(state, "opening hours"))
            if state == "crisis-later":  # the banner pinned, an ordinary answer below the crisis reply
                expect(v.ask("opening hours")).to_have_attribute("data-type", "answer")
            if state.startswith("crisis"):
                expect(v.page.locator("faqbot-widget .banner")).to_be_visible()
        # Under forced colours axe reads the author's colours, not the system colours the browser paints
        # (computed black on white, reported as the page's light-on-dark): contrast is not its to judge there.
        skip = ("color-contrast",) if state == "forced-colors" else ()
        assert _axe(v, axe_source, skip=skip) == []
    finally:
        context.close()


def test_axe_finds_no_violations_while_reconnecting(browser: Browser, own_server: LiveServer,
                                                     axe_source: str) -> None:
    context = _context(browser, bypass_csp=True)
    try:
        v = Visit(context.new_page(), own_server.url)
        v.goto("/")
        v.open()
        v.ask("opening hours")
        own_server.stop()
        expect(v.page.locator("faqbot-widget .offline")).to_be_visible(timeout=WAIT)
        assert _axe(v, axe_source) == []
    finally:
        context.close()


def test_axe_catches_a_real_violation(desk: Visit, axe_source: str) -> None:
    """The axe run above can fail: an unlabelled button in the widget is reported."""
    desk.goto("/widget/plain.html")
    desk.open()
    _shadow(desk, "r => r.querySelector('.head').appendChild(document.createElement('button'))")
    desk.page.evaluate(axe_source)
    found = [v["id"] for v in desk.page.evaluate(AXE_RUN)]
    assert "button-name" in found


def test_transcript_is_a_log_holding_a_real_list(desk: Visit) -> None:
    desk.goto("/widget/plain.html")
    desk.open()
    desk.ask("opening hours")
    roles = _shadow(desk, """r => {
      const log = r.querySelector('[role=log]');
      const list = log.querySelector('ol');
      return {logTag: log.tagName, listRole: list.getAttribute('role'),
              orphans: [...r.querySelectorAll('li')].filter(li => !['OL', 'UL'].includes(li.parentElement.tagName)).length,
              banners: r.querySelectorAll('header').length, landmarks: r.querySelectorAll('aside').length};
    }""")
    assert roles == {"logTag": "DIV", "listRole": None, "orphans": 0, "banners": 0, "landmarks": 1}


def test_forced_colors_keep_launcher_and_buttons_visible(browser: Browser, server: LiveServer) -> None:
    context = _context(browser, forced_colors="active")
    try:
        v = Visit(context.new_page(), server.url)
        v.goto("/widget/plain.html")
        v.open()
        borders = _shadow(v, """r => ['.launcher', '.send', '.close'].map(s => {
          const c = getComputedStyle(r.querySelector(s));
          return [s, c.borderTopStyle, parseFloat(c.borderTopWidth)];
        })""")
        for selector, style, width in borders:
            assert style == "solid" and width >= 1, selector
    finally:
        context.close()


def test_crisis_numbers_are_44px_targets_with_call_and_text(desk: Visit) -> None:
    desk.goto("/widget/plain.html")
    desk.open()
    crisis = desk.ask("i want to kill myself")
    expect(crisis.locator('a[href="sms:988"]')).to_have_attribute("aria-label", "Text 988")
    for link in crisis.locator("a").all():
        box = link.bounding_box()
        assert box and box["width"] >= 44 and box["height"] >= 44, (link.get_attribute("href"), box)
    hrefs = [a.get_attribute("href") for a in crisis.locator("a").all()]
    assert hrefs[:3] == ["tel:911", "tel:988", "sms:988"]


# ------------------------------------------------------------------------------ after a crisis (issue 13)

BANNER_ANNOUNCE = "The crisis numbers now stay at the top of this chat."


def _banner(visit: Visit) -> Any:
    return visit.page.locator("faqbot-widget .banner")


def _watch(visit: Visit, selector: str) -> None:
    """Count every change under ``selector`` from now on (window.__changes)."""
    _shadow(visit, f"""r => {{
      window.__changes = 0;
      new MutationObserver(ms => {{ window.__changes += ms.length; }})
        .observe(r.querySelector('{selector}'),
                 {{subtree: true, childList: true, characterData: true, attributes: true}});
    }}""")


def test_crisis_banner_appears_with_the_numbers_pinned_under_the_title(desk: Visit) -> None:
    desk.goto("/widget/plain.html")
    desk.open()
    expect(desk.ask("opening hours")).to_have_attribute("data-type", "answer")
    expect(_banner(desk)).to_be_hidden()
    expect(desk.ask("i want to kill myself")).to_have_attribute("data-type", "crisis")
    banner = _banner(desk)
    expect(banner).to_be_visible()
    hrefs = [a.get_attribute("href") for a in banner.locator("a").all()]
    assert {"tel:988", "sms:988", "tel:911"} <= set(hrefs), hrefs
    for a in banner.locator("a, button").all():
        box = a.bounding_box()
        assert box and box["width"] >= 44 and box["height"] >= 44, (a.get_attribute("href"), box)
    where = _shadow(desk, """r => {
      const b = r.querySelector('.banner'), head = r.querySelector('.head'), sc = r.querySelector('.scroll');
      const live = [];
      for (let n = b; n && n.nodeType === 1; n = n.parentElement) {
        const role = n.getAttribute('role');
        if (n.getAttribute('aria-live') || ['alert', 'status', 'log'].includes(role)) live.push(n.className);
      }
      b.querySelectorAll('[aria-live], [role]').forEach(n => live.push(n.className));
      return {underTitle: b.previousElementSibling === head,
              aboveTranscript: b.getBoundingClientRect().bottom <= sc.getBoundingClientRect().top,
              live, announced: r.querySelector('[role=status].sr').textContent};
    }""")
    assert where == {"underTitle": True, "aboveTranscript": True, "live": [], "announced": BANNER_ANNOUNCE}


def test_crisis_reply_carries_no_suggestion_chips(desk: Visit) -> None:
    desk.goto("/widget/plain.html")
    desk.open()
    crisis = desk.ask("i want to kill myself")
    expect(crisis).to_have_attribute("data-type", "crisis")
    expect(crisis.locator(".chip")).to_have_count(0)


def test_crisis_banner_stays_through_later_replies_and_is_not_announced_again(desk: Visit) -> None:
    desk.goto("/widget/plain.html")
    desk.open()
    desk.ask("i want to kill myself")
    expect(_banner(desk)).to_be_visible()
    _watch(desk, ".panel > [role=status].sr")
    _shadow(desk, "r => { window.__banner = r.querySelector('.banner'); }")
    for question in ("opening hours", "where do i park at the north clinic", "thanks"):
        desk.ask(question)
        expect(_banner(desk)).to_be_visible()
    # A long transcript scrolls; the banner does not.
    _shadow(desk, "r => { const sc = r.querySelector('.scroll'); sc.scrollTop = sc.scrollHeight; }")
    expect(_banner(desk)).to_be_in_viewport()
    assert desk.page.evaluate("window.__changes") == 0, "the announcement was made again"
    assert _shadow(desk, "r => r.querySelector('.banner') === window.__banner"), "the banner was rebuilt"


def test_crisis_banner_survives_a_reload_without_a_new_announcement(desk: Visit) -> None:
    desk.goto("/widget/plain.html")
    desk.open()
    desk.ask("i want to kill myself")
    expect(_banner(desk)).to_be_visible()
    desk.page.reload()
    expect(desk.panel).to_be_visible(timeout=WAIT)
    expect(_banner(desk)).to_be_visible()
    assert _shadow(desk, "r => r.querySelector('.panel > [role=status].sr').textContent") == ""
    hrefs = [a.get_attribute("href") for a in _banner(desk).locator("a").all()]
    assert {"tel:988", "sms:988", "tel:911"} <= set(hrefs), hrefs
    desk.page.locator("faqbot-widget .close").click()  # closed and reopened on the next page: still there
    desk.page.reload()
    desk.launcher.click()
    expect(_banner(desk)).to_be_visible()


def test_crisis_banner_collapses_but_keeps_its_bar_and_the_choice_survives_a_reload(desk: Visit) -> None:
    desk.goto("/widget/plain.html")
    desk.open()
    desk.ask("i want to kill myself")
    toggle = _banner(desk).locator("button.toggle")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(_banner(desk).locator(".lines")).to_be_hidden()
    expect(_banner(desk).locator("h3")).to_be_visible()
    expect(toggle).to_be_visible()
    desk.ask("opening hours")
    desk.page.reload()
    expect(desk.panel).to_be_visible(timeout=WAIT)
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(_banner(desk).locator(".lines")).to_be_hidden()
    toggle.click()
    expect(_banner(desk).locator(".lines")).to_be_visible()
    expect(_banner(desk).locator('a[href="tel:988"]')).to_be_visible()


def test_a_new_crisis_reply_opens_a_collapsed_banner_again(desk: Visit) -> None:
    desk.goto("/widget/plain.html")
    desk.open()
    desk.ask("i want to kill myself")
    toggle = _banner(desk).locator("button.toggle")
    toggle.click()
    expect(_banner(desk).locator(".lines")).to_be_hidden()
    expect(desk.ask("i want to kill myself")).to_have_attribute("data-type", "crisis")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(_banner(desk).locator(".lines")).to_be_visible()


def test_a_transcript_stored_before_the_banner_gets_it_on_reload(desk: Visit) -> None:
    """Widget 1.1.0 kept the crisis reply but no banner state: the reply alone brings the banner back."""
    desk.goto("/widget/plain.html")
    desk.open()
    desk.ask("i want to kill myself")
    dropped = desk.page.evaluate("""() => Object.keys(sessionStorage).filter(k => k.startsWith('faqbot:')).map(k => {
      const data = JSON.parse(sessionStorage.getItem(k));
      const had = 'crisis' in data;
      delete data.crisis;
      sessionStorage.setItem(k, JSON.stringify(data));
      return had;
    })""")
    assert dropped == [True]
    desk.page.reload()
    expect(desk.panel).to_be_visible(timeout=WAIT)
    expect(_banner(desk)).to_be_visible()


def test_crisis_banner_uses_the_data_crisis_text(browser: Browser, server: LiveServer, site: Path) -> None:
    (site / "own-crisis.html").write_text(
        _page(attrs='data-crisis="Call **988** (call or text 988) or 911 if you are hurt: call 911."'),
        encoding="utf-8")
    context = _context(browser)
    try:
        v = Visit(context.new_page(), server.url)
        v.goto("/widget/own-crisis.html")
        v.open()
        v.ask("i want to kill myself")
        expect(_banner(v).locator(".lines")).to_contain_text("if you are hurt")
    finally:
        context.close()


@pytest.fixture(scope="module")
def clinic(module_live_server: ServerFactory, site: Path) -> LiveServer:
    """The bundled clinic KB: its safety settings have the concern line and the reminder."""
    return module_live_server(widget_dir=str(site))


def _reply_frame(visit: Visit, asked: str) -> dict[str, Any]:
    sent = [f for f in visit.sent if f.get("type") == "message" and f.get("text") == asked]
    assert sent, asked
    replies = [f for f in visit.received if f.get("type") == "reply" and f.get("id") == sent[-1]["id"]]
    assert replies, asked
    return dict(replies[-1]["reply"])


def test_concern_reply_shows_the_crisis_line_as_a_marked_note_above_the_answer(browser: Browser,
                                                                               clinic: LiveServer) -> None:
    context = _context(browser)
    try:
        v = Visit(context.new_page(), clinic.url)
        v.goto("/widget/plain.html")
        v.open()
        asked = "i feel so hopeless, how long does a session take?"
        bubble = v.ask(asked)
        frame = _reply_frame(v, asked)
        assert frame["type"] == "concern", frame  # the classifier's verdict on this message, not the widget's
        expect(bubble).to_have_attribute("data-type", "concern")
        first, rest = frame["text"].split("\n\n", 1)
        note = bubble.locator(".concern-note")
        expect(note).to_have_count(1)
        shown = _shadow(v, """r => {
          const note = [...r.querySelectorAll('li.msg.bot')].pop().querySelector('.concern-note').cloneNode(true);
          note.querySelectorAll('a[href^="sms:"]').forEach(a => a.remove());  // the widget's own "Text" links
          return note.textContent.replace(/\\s+/g, ' ').trim();
        }""")
        assert shown == " ".join(first.replace("**", "").split())
        expect(note.locator('a[href="tel:988"]')).to_be_visible()
        looks = _shadow(v, """r => {
          const li = [...r.querySelectorAll('li.msg.bot')].pop(), note = li.querySelector('.concern-note');
          const live = [note, note.parentElement, ...note.querySelectorAll('*')]
            .filter(n => n.hasAttribute('role') || n.hasAttribute('aria-live'))
            .map(n => n.getAttribute('role') || 'live');
          const answer = li.querySelector('.body > p');
          return {noteBg: getComputedStyle(note).backgroundColor, bubbleBg: getComputedStyle(li).backgroundColor,
                  edge: parseFloat(getComputedStyle(note).borderLeftWidth), live,
                  after: !!answer && !!(note.compareDocumentPosition(answer) & Node.DOCUMENT_POSITION_FOLLOWING)};
        }""")
        assert looks["noteBg"] != looks["bubbleBg"] and looks["edge"] >= 3, looks
        assert looks["live"] == [] and looks["after"], looks
        expect(bubble.locator(".body > p").first).to_contain_text(rest.split("\n")[0].replace("**", "")[:30])
        expect(bubble.locator(".vote")).to_have_count(2)
        expect(_banner(v)).to_be_hidden()  # a concern is not a crisis
    finally:
        context.close()


def test_gap_reply_renders_as_an_answer_with_its_hand_off_suggestions(browser: Browser, clinic: LiveServer) -> None:
    context = _context(browser)
    try:
        v = Visit(context.new_page(), clinic.url)
        v.goto("/widget/plain.html")
        v.open()
        asked = "how much does it cost?"
        bubble = v.ask(asked)
        frame = _reply_frame(v, asked)
        assert frame["type"] == "gap", frame
        expect(bubble).to_have_attribute("data-type", "gap")
        expect(bubble.locator(".concern-note")).to_have_count(0)
        expect(bubble.locator(".chip")).to_have_text(frame["suggestions"])
        expect(bubble.locator(".vote")).to_have_count(2)
    finally:
        context.close()


def test_after_a_crisis_the_clinic_reply_keeps_the_reminder_under_the_banner(browser: Browser,
                                                                            clinic: LiveServer) -> None:
    context = _context(browser)
    try:
        v = Visit(context.new_page(), clinic.url)
        v.goto("/widget/plain.html")
        v.open()
        expect(v.ask("i want to kill myself")).to_have_attribute("data-type", "crisis")
        asked = "what is ketamine therapy?"
        later = v.ask(asked)
        reminder = _reply_frame(v, asked)["text"].split("\n\n")[-1]
        assert "988" in reminder, reminder  # the server's line; the widget makes its numbers tappable
        last = later.locator(".body > p").last
        expect(last).to_contain_text(reminder.split("988")[0].replace("**", "").strip())
        expect(last.locator('a[href="tel:988"]')).to_have_count(1)
        expect(_banner(v)).to_be_visible()
    finally:
        context.close()


# --------------------------------------------------------------------------------------------- smaller

def test_queued_answers_stay_under_their_questions_after_a_reconnect(browser: Browser,
                                                                     own_server: LiveServer) -> None:
    context = _context(browser)
    try:
        v = Visit(context.new_page(), own_server.url)
        v.goto("/widget/plain.html")
        v.open()
        v.ask("opening hours")
        own_server.stop()
        expect(v.page.locator("faqbot-widget .status")).to_contain_text("Reconnecting", timeout=WAIT)
        for q in ("where to park south clinic", "north clinic parking"):
            v.input.fill(q)
            v.input.press("Enter")
        own_server.start()
        expect(v.page.locator("faqbot-widget li.msg.bot")).to_have_count(3, timeout=20_000)
        order = _shadow(v, """r => [...r.querySelectorAll('li.msg')].map(li =>
          li.classList.contains('user') ? 'Q:' + li.querySelector('.body').textContent : 'A:' + li.dataset.entry)""")
        assert order == ["Q:opening hours", "A:hours", "Q:where to park south clinic", "A:parking-south",
                         "Q:north clinic parking", "A:parking-north"]
    finally:
        context.close()


@pytest.fixture
def own_server(live_server: ServerFactory, test_kb: Path, site: Path) -> LiveServer:
    return live_server(test_kb, widget_dir=str(site))


def test_a_send_burst_gets_one_rate_note_and_one_resend(browser: Browser, live_server: ServerFactory,
                                                        test_kb: Path, site: Path) -> None:
    server = live_server(test_kb, widget_dir=str(site), rate=1.0, burst=3)
    context = _context(browser)
    try:
        v = Visit(context.new_page(), server.url)
        v.goto("/widget/plain.html")
        v.open()
        # Six at once against a bucket of three: three are refused (two at least on a slow machine).
        v.page.evaluate("['opening hours', 'north clinic parking', 'south clinic parking', 'opening hours', "
                        "'north clinic parking', 'south clinic parking'].forEach(q => Faqbot.ask(q))")
        notes = v.page.locator("faqbot-widget li.msg.note")
        expect(notes).to_have_count(1, timeout=WAIT)
        expect(notes).to_contain_text("very fast")
        _wait_for(v.page, lambda: len([f for f in v.received if f.get("code") == "rate_limited"]) >= 2)
        v.page.wait_for_timeout(300)
        assert notes.count() == 1
        v.page.wait_for_timeout(3500)  # the bucket refills at 1 a second, up to 3
        notes.get_by_role("button", name="Send again").click()
        expect(v.page.locator("faqbot-widget li.msg.bot")).to_have_count(6, timeout=WAIT)
        expect(notes.get_by_role("button")).to_be_hidden()
    finally:
        context.close()


@pytest.mark.parametrize(("page", "scheme", "dark"), [("dark.html", "light", True), ("light.html", "dark", False),
                                                     ("plain.html", "dark", True), ("plain.html", "light", False)])
def test_data_theme_overrides_the_system_theme(browser: Browser, server: LiveServer, page: str, scheme: str,
                                               dark: bool) -> None:
    context = _context(browser, color_scheme=scheme)
    try:
        v = Visit(context.new_page(), server.url)
        v.goto("/widget/" + page)
        v.open()
        background = _shadow(v, "r => getComputedStyle(r.querySelector('.panel')).backgroundColor")
        assert (background == "rgb(24, 26, 30)") is dark, background
    finally:
        context.close()


def test_unread_count_on_the_launcher(desk: Visit) -> None:
    desk.goto("/widget/plain.html")
    desk.open()
    # Two questions asked from the page's own buttons, the panel closed before the answers arrive.
    desk.page.evaluate("Faqbot.ask('opening hours'); Faqbot.ask('north clinic parking'); Faqbot.close()")
    dot = desk.page.locator("faqbot-widget .dot")
    _wait_for(desk.page, lambda: dot.is_visible() and dot.text_content() == "2")
    expect(desk.launcher).to_have_attribute("aria-label", "Open chat (2 new replies)")
    desk.launcher.click()
    expect(dot).to_be_hidden()
    desk.page.reload()
    expect(desk.page.locator("faqbot-widget .dot")).to_be_hidden()


def test_messages_show_the_time_they_were_sent_and_answered(desk: Visit) -> None:
    desk.goto("/widget/plain.html")
    desk.open()
    reply = desk.ask("opening hours")
    for message in (desk.user(), reply):
        stamp = message.locator("time.stamp")
        expect(stamp).to_have_text(re.compile(r"^\d{1,2}:\d{2}"))
        when = stamp.get_attribute("datetime")
        assert when and abs(desk.page.evaluate(f"Date.now() - Date.parse('{when}')")) < 60_000


def test_script_is_compressed_and_long_cached_under_its_version(server: LiveServer) -> None:
    source = (ROOT / "widget" / "faqbot.js").read_text(encoding="utf-8")
    version = re.search(r'var VERSION = "([^"]+)"', source)
    assert version
    demo = (ROOT / "widget" / "demo.html").read_text(encoding="utf-8")
    assert f"/widget/faqbot.js?v={version.group(1)}" in demo, "the demo page embeds the current version"
    url = f"{server.url}/widget/faqbot.js"
    with httpx.Client() as client:
        plain = client.get(url, headers={"Accept-Encoding": "identity"})
        assert plain.headers["cache-control"] == "no-cache" and "content-encoding" not in plain.headers
        for encoding in ("gzip", "br"):
            r = client.get(url + "?v=" + version.group(1), headers={"Accept-Encoding": encoding})
            assert r.headers["content-encoding"] == encoding
            assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert r.headers["vary"] == "Accept-Encoding"
            assert int(r.headers["content-length"]) < len(plain.content) / 3
            assert r.content == plain.content  # httpx decoded it: the same script
        stale = client.get(url + "?v=0.0.1")
        assert stale.headers["cache-control"] == "no-cache"
        again = client.get(url, headers={"If-None-Match": plain.headers["etag"], "Accept-Encoding": "identity"})
        assert again.status_code == 304


# ------------------------------------------------------------------------------------------ screenshots

SHOTS = os.environ.get("FAQBOT_SCREENSHOTS")  # a directory (e.g. docs) to keep them; a temp dir otherwise


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_screenshots_phone_positions_dark_and_offline(browser: Browser, module_live_server: ServerFactory,
                                                      site: Path, tmp_path: Path) -> None:
    """The README's pictures, on the bundled clinic KB: written to a temp dir unless FAQBOT_SCREENSHOTS names one.

    widget-mobile.png (test_widget_browser) shows the open phone panel; here the bottom-left launcher with an
    unread answer, the dark theme, and the offline panel.
    """
    server = module_live_server(widget_dir=str(site))
    out = Path(SHOTS) if SHOTS else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    for name, page, is_phone, scheme in (("widget-phone-left", "/widget/demo-left.html", True, "light"),
                                         ("widget-dark", "/", False, "dark"),
                                         ("widget-offline", "/widget/offline.html", True, "light")):
        context = _context(browser, phone=is_phone, color_scheme=scheme, device_scale_factor=1)
        try:
            v = Visit(context.new_page(), server.url)
            v.goto(page)
            if name == "widget-phone-left":
                v.page.evaluate("Faqbot.ask('how do i book a consultation'); Faqbot.close()")
                expect(v.page.locator("faqbot-widget .dot")).to_have_text("1", timeout=WAIT)
                box = v.launcher.bounding_box()
                assert box and box["x"] < MOBILE["width"] / 2
                v.page.evaluate("document.activeElement.blur()")
            else:
                v.launcher.click()
                expect(v.panel).to_be_visible()
                if name == "widget-dark":
                    expect(v.ask("is ketamine addictive?")).to_have_attribute("data-type", "answer")
                else:
                    expect(v.page.locator("faqbot-widget .offline a[href='tel:988']")).to_be_visible(timeout=WAIT)
                v.input.blur()
            v.page.wait_for_timeout(150)
            path = out / f"{name}.png"
            v.page.screenshot(path=str(path))
            size = MOBILE if is_phone else DESKTOP
            assert _png_size(path) == (size["width"], size["height"])
            assert len(zlib.compress(path.read_bytes())) > 5000, "a blank screenshot compresses to nothing"
        finally:
            context.close()
