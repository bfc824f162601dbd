"""The server, end to end: a real uvicorn process on loopback, real websocket and HTTP clients."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from faqbot.server.security import origin_allowed

from conftest import REPO, SMALL_KB, LiveServer, ServerFactory, free_port

TOKEN = "s3cret-admin-token"
XSS = "<img src=x onerror=alert(1)>"


# --- helpers -----------------------------------------------------------------------------------------


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout=20))  # type: ignore[arg-type]


class Client:
    """A websocket client speaking the faqbot protocol."""

    def __init__(self, ws: Any, welcome: dict[str, Any]) -> None:
        self.ws = ws
        self.welcome = welcome
        self.session: str = welcome.get("session", "")
        self.secret: str = welcome.get("secret", "")
        self._n = 0

    async def send(self, frame: dict[str, Any] | str | bytes) -> dict[str, Any]:
        await self.ws.send(frame if isinstance(frame, (str, bytes)) else json.dumps(frame))
        return json.loads(await self.ws.recv())  # type: ignore[no-any-return]

    def next_id(self) -> str:
        self._n += 1
        return f"c{self._n}"

    async def ask(self, text: str) -> dict[str, Any]:
        return await self.send({"type": "message", "id": self.next_id(), "text": text})

    async def close(self) -> None:
        await self.ws.close()


async def connect(server: LiveServer, *, session: str | None = None, secret: str | None = None,
                  **kwargs: Any) -> Client:
    query = {k: v for k, v in (("session", session), ("secret", secret)) if v is not None}
    url = server.ws_url + ("?" + urlencode(query) if query else "")
    ws = await websockets.connect(url, **kwargs)
    return Client(ws, json.loads(await ws.recv()))


def conversation(server: LiveServer, script: Callable[[Client], Awaitable[Any]], **kwargs: Any) -> Any:
    async def go() -> Any:
        client = await connect(server, **kwargs)
        try:
            return await script(client)
        finally:
            await client.close()

    return run(go())


@pytest.fixture(scope="module")
def server(module_live_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory) -> LiveServer:
    """The shared server: the small KB, a generous rate limit, admin on, a placeholder widget."""
    kb = tmp_path_factory.mktemp("kb")
    (kb / "faq.yaml").write_text(SMALL_KB, encoding="utf-8")
    widget = tmp_path_factory.mktemp("widget")
    (widget / "demo.html").write_text('<!doctype html><title>Demo</title><script src="/widget/faqbot.js" defer>'
                                      '</script>', encoding="utf-8")
    (widget / "faqbot.js").write_text("/* widget placeholder */", encoding="utf-8")
    return module_live_server(kb, rate=1000.0, burst=1000, client_rate="100000 per second", admin_token=TOKEN,
                              widget_dir=str(widget), log_level="debug")


# --- websocket: conversation ---------------------------------------------------------------------------


def test_welcome_has_session_name_greeting_and_suggestions(server: LiveServer) -> None:
    welcome = conversation(server, lambda c: asyncio.sleep(0, c.welcome))
    assert welcome["type"] == "welcome" and welcome["resumed"] is False
    assert len(welcome["session"]) >= 16
    assert welcome["name"] == "Test clinic assistant"
    assert welcome["greeting"] == "Hello from the test clinic."
    assert welcome["suggestions"] == ["How do I book a consultation?"]


def test_message_gets_a_reply_that_echoes_its_id(server: LiveServer) -> None:
    frame = conversation(server, lambda c: c.send({"type": "message", "id": "q-42", "text": "how do i book?"}))
    assert frame["type"] == "reply" and frame["id"] == "q-42"
    reply = frame["reply"]
    assert set(reply) == {"type", "text", "entry", "confidence", "suggestions", "options", "parts"}
    assert (reply["type"], reply["entry"]) == ("answer", "booking")
    assert reply["text"] == "Call us to book a free consultation."


def test_follow_up_in_the_same_connection_uses_context(server: LiveServer) -> None:
    async def script(c: Client) -> list[str]:
        first = await c.ask("does ketamine help with alcohol addiction?")
        second = await c.ask("what about opioids?")
        return [first["reply"]["entry"], second["reply"]["entry"]]

    assert conversation(server, script) == ["alcohol", "opioids"]


def test_resume_after_reconnect_with_session_query(server: LiveServer) -> None:
    async def go() -> tuple[dict[str, Any], str]:
        first = await connect(server)
        await first.ask("does ketamine help with alcohol addiction?")
        await first.close()
        again = await connect(server, session=first.session, secret=first.secret)
        follow_up = await again.ask("what about opioids?")
        await again.close()
        assert (again.session, again.secret) == (first.session, first.secret)
        return again.welcome, follow_up["reply"]["entry"]

    welcome, entry = run(go())
    assert welcome["resumed"] is True
    assert entry == "opioids"


def test_each_new_session_gets_its_own_secret(server: LiveServer) -> None:
    async def go() -> list[tuple[str, str]]:
        pairs = []
        for _ in range(3):
            client = await connect(server)
            pairs.append((client.session, client.secret))
            await client.close()
        return pairs

    pairs = run(go())
    assert len({secret for _, secret in pairs}) == 3 and all(len(secret) >= 16 for _, secret in pairs)
    assert all(secret != session for session, secret in pairs)


@pytest.mark.parametrize("secret", [None, "", "wrong-secret-of-the-right-length", "their-own-id"])
def test_resume_without_the_right_secret_starts_a_fresh_session(server: LiveServer, secret: str | None) -> None:
    async def go() -> tuple[Client, dict[str, Any], dict[str, Any], dict[str, Any]]:
        first = await connect(server)
        await first.ask("how long")  # a clarification: "2" picks its second option only in this session
        await first.close()
        guess = first.session if secret == "their-own-id" else secret
        intruder = await connect(server, session=first.session, secret=guess)
        follow_up = await intruder.ask("2")
        await intruder.close()
        unknown = await connect(server, session="no-such-session-id", secret=guess)
        await unknown.close()
        return first, intruder.welcome, follow_up, unknown.welcome

    first, welcome, follow_up, unknown = run(go())
    assert welcome["resumed"] is False and welcome["session"] != first.session
    assert welcome["secret"] != first.secret
    assert follow_up["reply"]["type"] == "fallback"  # no context carried over
    # A live id with a wrong secret looks exactly like an id that never existed.
    assert set(welcome) == set(unknown) and unknown["resumed"] is False


def test_a_wrong_secret_does_not_spoil_the_session_for_its_owner(server: LiveServer) -> None:
    async def go() -> tuple[dict[str, Any], str]:
        first = await connect(server)
        await first.ask("how long")
        await first.close()
        intruder = await connect(server, session=first.session, secret="not-" + first.secret)
        await intruder.ask("how do i book?")
        await intruder.close()
        owner = await connect(server, session=first.session, secret=first.secret)
        follow_up = await owner.ask("2")
        await owner.close()
        return owner.welcome, follow_up["reply"]["entry"]

    welcome, entry = run(go())
    assert welcome["resumed"] is True and entry == "effects-length"


def test_resume_frame_switches_the_connection_to_an_earlier_session(server: LiveServer) -> None:
    async def go() -> tuple[dict[str, Any], str, str, str]:
        first = await connect(server)
        await first.ask("does ketamine help with alcohol addiction?")
        await first.close()
        other = await connect(server)
        assert other.session != first.session
        wrong = await other.send({"type": "resume", "id": "r0", "session": first.session, "secret": "guess"})
        assert wrong == {"type": "resumed", "id": "r0", "session": other.session, "secret": other.secret,
                         "resumed": False}
        resumed = await other.send({"type": "resume", "id": "r1", "session": first.session,
                                    "secret": first.secret})
        follow_up = await other.ask("what about opioids?")
        await other.close()
        return resumed, first.session, first.secret, follow_up["reply"]["entry"]

    resumed, session, secret, entry = run(go())
    assert resumed == {"type": "resumed", "id": "r1", "session": session, "secret": secret, "resumed": True}
    assert entry == "opioids"


def test_resume_of_an_unknown_session_keeps_the_current_one(server: LiveServer) -> None:
    async def script(c: Client) -> dict[str, Any]:
        return await c.send({"type": "resume", "id": "r1", "session": "no-such-session-id"})

    async def go() -> tuple[dict[str, Any], Client]:
        client = await connect(server)
        try:
            return await script(client), client
        finally:
            await client.close()

    frame, client = run(go())
    assert frame == {"type": "resumed", "id": "r1", "session": client.session, "secret": client.secret,
                     "resumed": False}


def test_unknown_session_at_connect_starts_a_fresh_one(server: LiveServer) -> None:
    welcome = conversation(server, lambda c: asyncio.sleep(0, c.welcome), session="expired-or-made-up-id")
    assert welcome["resumed"] is False and welcome["session"] != "expired-or-made-up-id"


def test_clarify_then_pick_an_option(server: LiveServer) -> None:
    async def script(c: Client) -> tuple[dict[str, Any], dict[str, Any]]:
        clarify = await c.ask("how long")
        option = clarify["reply"]["options"][1]
        picked = await c.send({"type": "pick", "id": "p1", "entry": option["entry"]})
        return clarify["reply"], {**picked, "option": option}

    clarify, picked = conversation(server, script)
    assert clarify["type"] == "clarify"
    assert {o["entry"] for o in clarify["options"]} == {"session-length", "effects-length"}
    assert all(set(o) == {"entry", "text"} for o in clarify["options"])
    assert picked["type"] == "reply" and picked["id"] == "p1"
    assert picked["reply"]["type"] == "answer" and picked["reply"]["entry"] == picked["option"]["entry"]


def test_feedback_is_acknowledged(server: LiveServer) -> None:
    async def script(c: Client) -> dict[str, Any]:
        await c.send({"type": "message", "id": "c1", "text": "how do i book?"})
        return await c.send({"type": "feedback", "id": "c2", "reply": "c1", "vote": "down"})

    assert conversation(server, script) == {"type": "ack", "id": "c2"}


def test_ping_gets_pong(server: LiveServer) -> None:
    assert conversation(server, lambda c: c.send({"type": "ping", "id": "k"})) == {"type": "pong", "id": "k"}


# --- websocket: errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(("frame", "code", "frame_id"), [
    ("this is not json", "bad_json", None),
    ('{"type": "message", "id": "c1"}', "bad_frame", "c1"),
    ('{"type": "message", "id": "c1", "text": 5}', "bad_frame", "c1"),
    ('{"type": "message", "text": "no id"}', "bad_frame", None),
    ('["a", "list"]', "bad_frame", None),
    ('{"type": "shout", "id": "c1"}', "unknown_type", "c1"),
    (json.dumps({"type": "message", "id": "c1", "text": "a" * 2001}), "too_long", "c1"),
    (json.dumps({"type": "message", "id": "c1", "text": "a" * 1999, "pad": "b" * 20_000}), "too_long", None),
    ('{"type": "pick", "id": "c1", "entry": "no-such-entry"}', "unknown_entry", "c1"),
])
def test_error_frame_and_the_connection_stays_open(server: LiveServer, frame: str, code: str,
                                                    frame_id: str | None) -> None:
    async def script(c: Client) -> tuple[dict[str, Any], dict[str, Any]]:
        return await c.send(frame), await c.ask("how do i book?")

    error, after = conversation(server, script)
    assert error["type"] == "error" and error["code"] == code and error["id"] == frame_id
    assert isinstance(error["message"], str) and error["message"].endswith(".")
    assert after["reply"]["entry"] == "booking"


def test_binary_frames_are_read_as_json_text(server: LiveServer) -> None:
    frame = conversation(server, lambda c: c.send(b'{"type": "ping", "id": "b1"}'))
    assert frame == {"type": "pong", "id": "b1"}


def test_bad_frames_are_not_logged_at_error_level(server: LiveServer) -> None:
    async def script(c: Client) -> None:
        for _ in range(20):
            await c.send("{oops")
            await c.send('{"type": "nope", "id": "x"}')

    conversation(server, script)
    time.sleep(0.2)
    log = server.log()
    assert "bad frame" in log  # logged, at debug level
    assert not [line for line in log.splitlines() if line.startswith(("ERROR", "CRITICAL"))]


def test_rate_limited_then_recovers(live_server: ServerFactory, make_kb: Callable[..., Path]) -> None:
    # Refusals come after a one-second penalty (PENALTY), during which half a token refills.
    srv = live_server(make_kb(), rate=0.5, burst=3)

    async def script(c: Client) -> list[str]:
        codes = []
        for _ in range(5):
            frame = await c.send({"type": "ping", "id": c.next_id()})
            codes.append(frame.get("code", frame["type"]))
        await asyncio.sleep(0.5)
        codes.append((await c.ask("how do i book?"))["type"])
        return codes

    assert conversation(srv, script) == ["pong", "pong", "pong", "rate_limited", "rate_limited", "reply"]


def test_idle_connection_gets_idle_timeout_then_closes(live_server: ServerFactory,
                                                       make_kb: Callable[..., Path]) -> None:
    srv = live_server(make_kb(), idle_timeout=0.6)

    async def go() -> tuple[dict[str, Any], int | None]:
        client = await connect(srv)
        await client.send({"type": "ping", "id": "k"})  # pings do not count as activity
        error = json.loads(await client.ws.recv())
        with pytest.raises(ConnectionClosed):
            await client.ws.recv()
        return error, client.ws.close_code

    error, close_code = run(go())
    assert error["code"] == "idle_timeout" and error["id"] is None
    assert close_code == 1000


def test_too_many_connections(live_server: ServerFactory, make_kb: Callable[..., Path]) -> None:
    srv = live_server(make_kb(), max_connections=2)

    async def go() -> tuple[dict[str, Any], int | None, str]:
        first, second = await connect(srv), await connect(srv)
        ws = await websockets.connect(srv.ws_url)
        error = json.loads(await ws.recv())
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        await first.close()
        await asyncio.sleep(0.1)
        third = await connect(srv)  # a slot is free again
        for c in (second, third):
            await c.close()
        return error, ws.close_code, third.welcome["type"]

    error, close_code, third = run(go())
    assert error["code"] == "too_many_connections"
    assert close_code == 1013
    assert third == "welcome"


def test_foreign_origin_is_refused_with_policy_violation(server: LiveServer) -> None:
    async def go() -> tuple[dict[str, Any], int | None]:
        ws = await websockets.connect(server.ws_url, origin="https://evil.example")  # type: ignore[arg-type]
        error = json.loads(await ws.recv())
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        return error, ws.close_code

    error, close_code = run(go())
    assert error == {"type": "error", "id": None, "code": "forbidden_origin", "message": error["message"]}
    assert close_code == 1008


def test_own_host_and_localhost_origins_are_allowed(server: LiveServer) -> None:
    for origin in (f"http://127.0.0.1:{server.port}", "http://localhost:3000"):
        welcome = conversation(server, lambda c: asyncio.sleep(0, c.welcome), origin=origin)
        assert welcome["type"] == "welcome"


@pytest.mark.parametrize(("origin", "host", "allowed", "ok"), [
    (None, "bot.example", (), True),
    ("https://bot.example", "bot.example", (), True),
    ("https://bot.example", "bot.example:443", (), True),
    ("http://localhost:5173", "bot.example", (), True),
    ("http://[::1]:8080", "bot.example", (), True),
    ("https://clinic.example", "bot.example", (), False),
    ("https://clinic.example", "bot.example", ("https://clinic.example",), True),
    ("https://clinic.example:443", "bot.example", ("https://CLINIC.example",), True),
    ("http://clinic.example", "bot.example", ("https://clinic.example",), False),
    ("http://localhost:5173", "bot.example", ("https://clinic.example",), False),
    ("null", "bot.example", (), False),
    ("https://anything.example", "bot.example", ("*",), True),
])
def test_origin_allowlist(origin: str | None, host: str, allowed: tuple[str, ...], ok: bool) -> None:
    assert origin_allowed(origin, host, allowed) is ok


# --- HTTP ---------------------------------------------------------------------------------------------


def test_health(server: LiveServer) -> None:
    response = httpx.get(server.url + "/health")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("status", "entries", "version", "sessions")} == {
        "status": "ok", "entries": 5, "version": "test-1", "sessions": "memory"}
    assert len(body["content"]) == 16  # a hash of the KB files, whatever their declared version


def test_api_ask_keeps_context_with_the_session(server: LiveServer) -> None:
    first = httpx.post(server.url + "/api/ask", json={"text": "does ketamine help with alcohol addiction?"}).json()
    assert first["reply"]["entry"] == "alcohol" and first["session"]
    second = httpx.post(server.url + "/api/ask", json={"text": "what about opioids?", "session": first["session"],
                                                       "secret": first["secret"]})
    assert second.json()["session"] == first["session"]
    assert second.json()["reply"]["entry"] == "opioids"


def test_api_ask_with_a_session_id_but_not_its_secret_starts_afresh(server: LiveServer) -> None:
    first = httpx.post(server.url + "/api/ask", json={"text": "how long"}).json()
    assert first["reply"]["type"] == "clarify"
    for body in ({"session": first["session"]}, {"session": first["session"], "secret": first["session"]},
                 {"session": first["session"], "secret": first["secret"][:-1] + "x"}):
        answer = httpx.post(server.url + "/api/ask", json={"text": "2", **body}).json()
        assert answer["session"] != first["session"] and answer["secret"] != first["secret"]
        assert answer["reply"]["type"] == "fallback"
    right = httpx.post(server.url + "/api/ask", json={"text": "2", "session": first["session"],
                                                      "secret": first["secret"]}).json()
    assert right["reply"]["entry"] == "effects-length"
    bad = httpx.post(server.url + "/api/ask", json={"text": "hi", "session": first["session"], "secret": 7})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_frame"


def test_api_ask_and_websocket_share_sessions(server: LiveServer) -> None:
    first = httpx.post(server.url + "/api/ask", json={"text": "does ketamine help with alcohol addiction?"}).json()
    follow = conversation(server, lambda c: c.ask("what about opioids?"), session=first["session"],
                          secret=first["secret"])
    assert follow["reply"]["entry"] == "opioids"


@pytest.mark.parametrize(("body", "headers", "status", "code"), [
    ("{broken", {"content-type": "application/json"}, 400, "bad_json"),
    ('{"question": "hi"}', {"content-type": "application/json"}, 422, "bad_frame"),
    ('{"text": 12}', {"content-type": "application/json"}, 422, "bad_frame"),
    ('["hi"]', {"content-type": "application/json"}, 422, "bad_frame"),
    ('{"text": "hi", "session": 5}', {"content-type": "application/json"}, 422, "bad_frame"),
    (json.dumps({"text": "a" * 2001}), {"content-type": "application/json"}, 413, "too_long"),
    ('{"text": "hi"}', {"content-type": "text/plain"}, 422, "bad_frame"),
])
def test_api_ask_rejects_bad_input_with_a_json_error(server: LiveServer, body: str, headers: dict[str, str],
                                                     status: int, code: str) -> None:
    response = httpx.post(server.url + "/api/ask", content=body, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code and error["message"]


def test_visitor_text_is_never_reflected_as_html(server: LiveServer) -> None:
    response = httpx.post(server.url + "/api/ask", json={"text": XSS})
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    bad = httpx.post(server.url + "/api/ask", json={"text": XSS * 400})
    assert bad.headers["content-type"] == "application/json" and XSS not in bad.text
    missing = httpx.get(server.url + "/widget/" + XSS)
    assert missing.status_code == 404 and "text/html" not in missing.headers["content-type"]
    frame = conversation(server, lambda c: c.send({"type": "shout", "id": XSS}))
    assert frame["id"] == XSS and frame["code"] == "unknown_type"  # echoed as a JSON string, never markup


def test_api_feedback(server: LiveServer) -> None:
    answer = httpx.post(server.url + "/api/ask", json={"text": "how do i book?"}).json()
    vote = {"session": answer["session"], "secret": answer["secret"], "turn": answer["turn"], "vote": "up"}
    ok = httpx.post(server.url + "/api/feedback", json=vote)
    assert ok.json() == {"status": "ok"}
    bad = httpx.post(server.url + "/api/feedback", json={**vote, "vote": "sideways"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_frame"
    # Holding a session id is not enough to vote on its replies: the secret is needed, as for resuming.
    for forged in ({**vote, "secret": "x" * 22}, {k: v for k, v in vote.items() if k != "secret"},
                   {**vote, "session": "y" * 22}):
        refused = httpx.post(server.url + "/api/feedback", json=forged)
        assert refused.status_code in (403, 422), forged
        assert refused.json()["error"]["code"] in ("unknown_session", "bad_frame")
    wrong = httpx.post(server.url + "/api/feedback", json={**vote, "secret": "x" * 22})
    unknown = httpx.post(server.url + "/api/feedback", json={**vote, "session": "y" * 22})
    assert wrong.status_code == unknown.status_code == 403 and wrong.json() == unknown.json()


def test_demo_page_with_strict_csp(server: LiveServer) -> None:
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'",
                      "connect-src 'self' ws: wss:"):
        assert directive in csp
    assert page.headers["x-content-type-options"] == "nosniff"


def test_widget_files_are_served_for_other_sites(server: LiveServer) -> None:
    script = httpx.get(server.url + "/widget/faqbot.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert script.headers["cross-origin-resource-policy"] == "cross-origin"
    assert httpx.get(server.url + "/widget/../server.py").status_code == 404
    assert httpx.get(server.url + "/widget/%2e%2e/%2e%2e/pyproject.toml").status_code == 404


def test_repo_widget_demo_page_has_no_inline_script() -> None:
    demo = REPO / "widget" / "demo.html"
    if not demo.exists():
        pytest.skip("widget/demo.html not written yet")
    html = demo.read_text(encoding="utf-8")
    assert "<script>" not in html.replace(" ", "") and " on" + "click=" not in html


# --- admin and reload ---------------------------------------------------------------------------------


def test_admin_routes_are_off_without_a_token(live_server: ServerFactory, make_kb: Callable[..., Path]) -> None:
    srv = live_server(make_kb())
    assert httpx.post(srv.url + "/admin/reload").status_code == 404
    assert httpx.get(srv.url + "/admin/report").status_code == 404


def test_admin_routes_need_the_bearer_token(server: LiveServer) -> None:
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}):
        response = httpx.post(server.url + "/admin/reload", headers=headers)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


def test_admin_report_is_json_or_says_why_not(server: LiveServer) -> None:
    response = httpx.get(server.url + "/admin/report", headers={"authorization": f"Bearer {TOKEN}"})
    # This shared server runs with logging off; tests/test_recorder.py gets the 200 report from one with it on.
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "logging_off"


def _reloadable(live_server: ServerFactory, make_kb: Callable[..., Path]) -> tuple[LiveServer, Path]:
    kb = make_kb()
    return live_server(kb, admin_token=TOKEN, rate=1000.0, burst=1000), kb


def test_reload_with_a_good_kb_swaps_it_and_conversations_go_on(live_server: ServerFactory,
                                                                 make_kb: Callable[..., Path]) -> None:
    srv, kb = _reloadable(live_server, make_kb)

    async def go() -> tuple[dict[str, Any], str, str]:
        client = await connect(srv)
        await client.ask("does ketamine help with alcohol addiction?")
        (kb / "faq.yaml").write_text(SMALL_KB.replace('"test-1"', '"test-2"').replace(
            "Call us to book a free consultation.", "Text us to book."), encoding="utf-8")
        response = await asyncio.to_thread(httpx.post, srv.url + "/admin/reload",
                                           headers={"authorization": f"Bearer {TOKEN}"})
        follow_up = await client.ask("what about opioids?")
        booking = await client.ask("how do i book?")
        await client.close()
        return response.json(), follow_up["reply"]["entry"], booking["reply"]["text"]

    body, follow_up, booking = run(go())
    content = body.pop("content")
    assert body == {"status": "reloaded", "entries": 5, "version": "test-2", "previous": "test-1"}
    assert httpx.get(srv.url + "/health").json()["content"] == content
    assert follow_up == "opioids"
    assert booking == "Text us to book."
    assert httpx.get(srv.url + "/health").json()["version"] == "test-2"


def test_reload_with_a_broken_kb_keeps_serving_the_old_one(live_server: ServerFactory,
                                                           make_kb: Callable[..., Path]) -> None:
    srv, kb = _reloadable(live_server, make_kb)
    broken = SMALL_KB.replace("    answer: About an hour.", "    anwser: About an hour.")
    (kb / "faq.yaml").write_text(broken, encoding="utf-8")
    response = httpx.post(srv.url + "/admin/reload", headers={"authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 422
    error = response.json()["error"]
    line = broken.splitlines().index("    anwser: About an hour.") + 1
    assert error["code"] == "invalid_knowledge" and error["serving"] == "test-1"
    assert f"faq.yaml:{line}" in error["message"] and "anwser" in error["message"]
    assert any(e["file"].endswith("faq.yaml") and e["line"] == line for e in error["errors"])
    health = httpx.get(srv.url + "/health").json()
    assert (health["entries"], health["version"], health["content"]) == (5, "test-1", error["content"])
    answer = httpx.post(srv.url + "/api/ask", json={"text": "how do i book?"}).json()
    assert answer["reply"]["entry"] == "booking"
    assert "knowledge reload rejected" in srv.log()


def test_sighup_reloads_the_kb(live_server: ServerFactory, make_kb: Callable[..., Path]) -> None:
    srv, kb = _reloadable(live_server, make_kb)
    (kb / "faq.yaml").write_text(SMALL_KB.replace('"test-1"', '"test-3"'), encoding="utf-8")
    srv.sighup()
    deadline = time.monotonic() + 10
    while httpx.get(srv.url + "/health").json()["version"] != "test-3":
        assert time.monotonic() < deadline, srv.log()
        time.sleep(0.05)


def test_restart_on_the_same_port_and_resume_is_refused_for_lost_memory_sessions(
        live_server: ServerFactory, make_kb: Callable[..., Path]) -> None:
    srv = live_server(make_kb())
    first = conversation(srv, lambda c: asyncio.sleep(0, c))
    srv.restart()
    welcome = conversation(srv, lambda c: asyncio.sleep(0, c.welcome), session=first.session, secret=first.secret)
    assert welcome["resumed"] is False  # the memory store died with the process; Redis keeps them


# --- entry points -------------------------------------------------------------------------------------


def test_uvicorn_server_app_from_a_checkout(make_kb: Callable[..., Path], tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "FAQBOT_KNOWLEDGE": str(make_kb()), "FAQBOT_LOGGING": "off", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "server:app", "--port", str(port), "--ws",
                             "websockets", "--log-level", "warning"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).json()
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        assert health["version"] == "test-1"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def test_websocket_on_a_wrong_path_is_refused(server: LiveServer) -> None:
    async def go() -> None:
        await websockets.connect(server.url.replace("http", "ws") + "/nope")

    with pytest.raises(InvalidStatus):
        run(go())


# --- recorder hook (in process: the recorder is a Python object) ----------------------------------------


class FakeRecorder:
    def __init__(self) -> None:
        self.turns: list[tuple[str, str, str, str | None, str]] = []
        self.votes: list[tuple[str, str, str]] = []
        self.closed = False

    def record_turn(self, session: str, turn: str, text: str, reply: Any, channel: str) -> None:
        self.turns.append((session, turn, text, reply.entry, channel))

    def record_feedback(self, session: str, turn: str, vote: str) -> None:
        self.votes.append((session, turn, vote))

    def close(self) -> None:
        self.closed = True


def test_turns_and_feedback_reach_the_recorder(make_kb: Callable[..., Path]) -> None:
    from starlette.testclient import TestClient

    from faqbot import Bot
    from faqbot.config import Config
    from faqbot.server import create_app

    recorder = FakeRecorder()
    app = create_app(Config(burst=100), bot=Bot.load(make_kb()), recorder=recorder)
    with TestClient(app) as http:
        with http.websocket_connect("/ws") as ws:
            session = ws.receive_json()["session"]
            ws.send_json({"type": "message", "id": "c1", "text": "how long"})
            ws.receive_json()
            ws.send_json({"type": "pick", "id": "c2", "entry": "session-length"})
            ws.receive_json()
            ws.send_json({"type": "feedback", "id": "c3", "reply": "c2", "vote": "up"})
            assert ws.receive_json() == {"type": "ack", "id": "c3"}
        answer = http.post("/api/ask", json={"text": "how do i book?"}).json()
    assert recorder.turns[:2] == [(session, "c1", "how long", None, "ws"),
                                  (session, "c2", "How long does a session last?", "session-length", "ws")]
    assert recorder.turns[2] == (answer["session"], answer["turn"], "how do i book?", "booking", "http")
    assert recorder.votes == [(session, "c2", "up")]
    assert not recorder.closed  # the caller's recorder: the caller closes it
