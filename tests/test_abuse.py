"""Abuse from one machine, replayed against a real server on loopback (issue 15).

Clients on 127.0.0.1 play the attacker and clients bound to 127.0.0.2 the other visitors: Linux routes the whole
127/8 to loopback, so the server sees two addresses.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from conftest import REPO, SMALL_KB, LiveServer, ServerFactory, free_port

TOKEN = "s3cret-admin-token"
OTHER = "127.0.0.2"


def run(coro: Any, timeout: float = 30) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout=timeout))


async def open_ws(server: LiveServer, *, source: str = "127.0.0.1", query: str = "") -> tuple[Any, dict[str, Any]]:
    ws = await websockets.connect(server.ws_url + query, local_addr=(source, 0))
    return ws, json.loads(await ws.recv())


async def ask(ws: Any, text: str, frame_id: str = "m") -> dict[str, Any]:
    await ws.send(json.dumps({"type": "message", "id": frame_id, "text": text}))
    return json.loads(await ws.recv())  # type: ignore[no-any-return]


def http_from(source: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=10)


def raw_socket(server: LiveServer, source: str = "127.0.0.1") -> socket.socket:
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10, source_address=(source, 0))
    return s


def closed_by_server(s: socket.socket, within: float) -> bool:
    """Whether the server closes ``s`` within ``within`` seconds (reads until EOF, ignoring any response)."""
    s.settimeout(within)
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            if s.recv(65536) == b"":
                return True
    except (TimeoutError, socket.timeout):
        return False
    except ConnectionResetError:
        return True
    return False


# --- limits per client, across connections -------------------------------------------------------------


def test_one_client_shares_one_allowance_across_its_sockets(live_server: ServerFactory,
                                                            make_kb: Callable[..., Path]) -> None:
    # Opening a socket counts too: 4 opens + 6 messages fill an allowance of 10.
    srv = live_server(make_kb(), rate=100.0, burst=100, client_rate="10 per 30 seconds")

    async def go() -> tuple[list[str], str]:
        sockets = [(await open_ws(srv))[0] for _ in range(4)]
        got = []
        for i in range(8):  # two messages per socket: each socket alone is far under its own rate
            answer = await ask(sockets[i % 4], "how do i book?", f"m{i}")
            got.append(answer["type"] if answer["type"] == "reply" else answer["code"])
        other, _ = await open_ws(srv, source=OTHER)
        other_answer = (await ask(other, "how do i book?"))["type"]
        for ws in [*sockets, other]:
            await ws.close()
        return got, other_answer

    got, other = run(go())
    assert got == ["reply"] * 6 + ["rate_limited"] * 2
    assert other == "reply"  # another visitor is not punished for the first one


def test_api_ask_is_rate_limited_per_client(live_server: ServerFactory, make_kb: Callable[..., Path]) -> None:
    srv = live_server(make_kb(), client_rate="5 per 30 seconds")
    with http_from("127.0.0.1") as attacker, http_from(OTHER) as visitor:
        codes = [attacker.post(srv.url + "/api/ask", json={"text": "how do i book?"}).status_code for _ in range(8)]
        limited = attacker.post(srv.url + "/api/ask", json={"text": "how do i book?"})
        feedback = attacker.post(srv.url + "/api/feedback", json={"session": "x" * 22, "turn": "t", "vote": "up"})
        assert visitor.post(srv.url + "/api/ask", json={"text": "how do i book?"}).status_code == 200
    assert codes == [200] * 5 + [429] * 3
    assert limited.json()["error"]["code"] == "rate_limited"
    assert feedback.status_code == 429


def test_websockets_per_client_are_capped_with_an_error_frame(live_server: ServerFactory,
                                                              make_kb: Callable[..., Path]) -> None:
    srv = live_server(make_kb(), max_client_sockets=3)

    async def go() -> tuple[dict[str, Any], int | None, str]:
        held = [(await open_ws(srv))[0] for _ in range(3)]
        ws, error = await open_ws(srv)
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        _, welcome = await open_ws(srv, source=OTHER)
        for h in held:
            await h.close()
        return error, ws.close_code, welcome["type"]

    error, close_code, other = run(go())
    assert error["code"] == "too_many_connections" and close_code == 1013
    assert other == "welcome"


def test_sockets_beyond_the_per_client_cap_are_closed_at_once(live_server: ServerFactory,
                                                              make_kb: Callable[..., Path]) -> None:
    srv = live_server(make_kb(), max_client_sockets=3)  # the transport allows 2 * 3 + 4 = 10 per address
    held = [raw_socket(srv) for _ in range(10)]
    extra = raw_socket(srv)
    try:
        assert closed_by_server(extra, 2.0)
        assert not closed_by_server(held[0], 0.3)
        with http_from(OTHER) as visitor:
            assert visitor.get(srv.url + "/health").status_code == 200
    finally:
        for s in [*held, extra]:
            s.close()


def test_one_client_runs_one_turn_at_a_time_and_others_never_wait_behind_it() -> None:
    from faqbot.server.limits import ClientLimits

    limits = ClientLimits(rate="100 per second", max_sockets=10)
    events: list[str] = []

    async def turn(client: str, name: str, hold: float) -> None:
        async with limits.busy(client):
            events.append(f"{name} in")
            await asyncio.sleep(hold)
            events.append(f"{name} out")

    async def go() -> None:
        # Three long turns from one address, then a visitor's short one: it starts at once, not fourth.
        await asyncio.gather(turn("198.51.100.7", "a1", 0.2), turn("198.51.100.7", "a2", 0.2),
                             turn("198.51.100.7", "a3", 0.2), turn("203.0.113.5", "visitor", 0.01))

    asyncio.run(asyncio.wait_for(go(), 10))
    assert events[:4] == ["a1 in", "visitor in", "visitor out", "a1 out"]
    assert events[4:] == ["a2 in", "a2 out", "a3 in", "a3 out"]  # never two of one address at once


# --- bodies and headers ------------------------------------------------------------------------------------


def test_a_huge_body_is_refused_while_it_streams(live_server: ServerFactory, make_kb: Callable[..., Path]) -> None:
    srv = live_server(make_kb())
    sent = 0

    def body() -> Any:
        nonlocal sent
        chunk = b" " * 65536
        for _ in range(16 * 1024):  # 1 GiB if the server read it all
            sent += len(chunk)
            yield chunk

    headers = {"content-type": "application/json"}
    with httpx.Client(timeout=10) as client:
        try:
            response = client.post(srv.url + "/api/ask", content=body(), headers=headers)
            status = response.status_code
            code = response.json()["error"]["code"]
        except httpx.HTTPError:  # the server answered and closed while we were still sending: also fine
            status, code = 413, "too_long"
    assert (status, code) == (413, "too_long")
    assert sent < 64 * 1024 * 1024  # refused long before the end, not after reading it all
    declared = raw_socket(srv)  # says 1 GB is coming: refused before a byte of it is sent
    declared.sendall(b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000000000\r\n\r\n")
    declared.settimeout(5)
    assert declared.recv(4096).startswith(b"HTTP/1.1 413")
    declared.close()


def test_slow_headers_and_slow_bodies_are_cut_off(live_server: ServerFactory, make_kb: Callable[..., Path]) -> None:
    srv = live_server(make_kb(), request_timeout=1.0)
    slow_headers = raw_socket(srv)
    slow_headers.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    slow_body = raw_socket(srv)
    slow_body.sendall(b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 100\r\n\r\n{\"text\"")
    idle = raw_socket(srv)
    try:
        assert closed_by_server(slow_headers, 4.0)
        assert closed_by_server(slow_body, 4.0)
        assert closed_by_server(idle, 4.0)
        assert httpx.get(srv.url + "/health").status_code == 200
    finally:
        for s in (slow_headers, slow_body, idle):
            s.close()


def test_a_websocket_outlives_the_request_deadline(live_server: ServerFactory, make_kb: Callable[..., Path]) -> None:
    srv = live_server(make_kb(), request_timeout=0.5)

    async def go() -> str:
        ws, _ = await open_ws(srv)
        await asyncio.sleep(1.5)
        answer = await ask(ws, "how do i book?")
        await ws.close()
        return str(answer["type"])

    assert run(go()) == "reply"


# --- the open-file limit -------------------------------------------------------------------------------------


def test_a_connection_cap_the_open_file_limit_cannot_carry_stops_start_up(make_kb: Callable[..., Path],
                                                                         tmp_path: Path) -> None:
    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512))

    env = {**os.environ, "PYTHONPATH": str(REPO), "FAQBOT_LOGGING": "off"}
    done = subprocess.run([sys.executable, "-m", "faqbot", "serve", "--knowledge", str(make_kb()), "--port",
                           str(free_port()), "--max-connections", "5000"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, preexec_fn=low_limit)
    assert done.returncode != 0
    assert "max_connections=5000 needs" in done.stderr and "ulimit -n" in done.stderr
    assert "Traceback" not in done.stderr


# --- malformed input -------------------------------------------------------------------------------------


def test_deeply_nested_json_gets_an_error_not_a_drop(live_server: ServerFactory,
                                                     make_kb: Callable[..., Path]) -> None:
    srv = live_server(make_kb())
    nested = "[" * 8000 + "]" * 8000

    async def go() -> tuple[dict[str, Any], str]:
        ws, _ = await open_ws(srv)
        await ws.send(nested)
        error = json.loads(await ws.recv())
        after = (await ask(ws, "how do i book?"))["type"]
        await ws.close()
        return error, after

    error, after = run(go())
    assert error["code"] == "bad_json" and after == "reply"
    response = httpx.post(srv.url + "/api/ask", content=nested, headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_json"


def test_a_lone_surrogate_in_a_frame_id_gets_an_error_frame(live_server: ServerFactory,
                                                            make_kb: Callable[..., Path]) -> None:
    srv = live_server(make_kb())

    async def go() -> tuple[dict[str, Any], dict[str, Any], str]:
        ws, _ = await open_ws(srv)
        await ws.send('{"type": "message", "id": "\\ud800", "text": "hi"}')
        bad_id = json.loads(await ws.recv())
        await ws.send('{"type": "message", "id": "ok", "text": "book \\udc00"}')
        bad_text = json.loads(await ws.recv())
        after = (await ask(ws, "how do i book?"))["type"]
        await ws.close()
        return bad_id, bad_text, after

    bad_id, bad_text, after = run(go())
    assert (bad_id["code"], bad_id["id"]) == ("bad_frame", None)
    assert (bad_text["code"], bad_text["id"]) == ("bad_frame", "ok")
    assert after == "reply"
    response = httpx.post(srv.url + "/api/ask", content='{"text": "book \\ud800"}',
                          headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_report_days_must_be_ascii_digits(live_server: ServerFactory, make_kb: Callable[..., Path]) -> None:
    srv = live_server(make_kb(), admin_token=TOKEN, logging=True)
    headers = {"authorization": f"Bearer {TOKEN}"}
    for days in ("²", "٣", "99999999999999999999"):
        response = httpx.get(srv.url + "/admin/report", params={"days": days}, headers=headers)
        assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"


# --- reloads -------------------------------------------------------------------------------------------


def test_a_reload_that_empties_the_faq_is_refused_unless_forced(live_server: ServerFactory,
                                                                make_kb: Callable[..., Path]) -> None:
    kb = make_kb()
    srv = live_server(kb, admin_token=TOKEN)
    headers = {"authorization": f"Bearer {TOKEN}"}
    before = httpx.get(srv.url + "/health").json()
    # One entry left of five: valid YAML, a valid KB, and almost certainly a mistake.
    head, _, rest = SMALL_KB.partition("entries:\n")
    one = head + "entries:\n  - id: booking" + rest.split("  - id: booking")[1].split("  - id: session-length")[0]
    (kb / "faq.yaml").write_text(one, encoding="utf-8")
    refused = httpx.post(srv.url + "/admin/reload", headers=headers)
    after = httpx.get(srv.url + "/health").json()
    assert refused.status_code == 422
    assert "1 entries where 5 are served" in refused.json()["error"]["message"]
    assert (after["entries"], after["content"]) == (5, before["content"])
    assert httpx.post(srv.url + "/api/ask", json={"text": "how do i book?"}).json()["reply"]["entry"] == "booking"
    forced = httpx.post(srv.url + "/admin/reload", params={"force": "1"}, headers=headers)
    assert forced.status_code == 200 and forced.json()["entries"] == 1
    assert httpx.get(srv.url + "/health").json()["content"] != before["content"]


def test_a_content_change_under_the_same_declared_version_changes_the_health_hash(
        live_server: ServerFactory, make_kb: Callable[..., Path]) -> None:
    kb = make_kb()
    srv = live_server(kb, admin_token=TOKEN)
    before = httpx.get(srv.url + "/health").json()
    (kb / "faq.yaml").write_text(SMALL_KB.replace("About an hour.", "About ninety minutes."), encoding="utf-8")
    assert httpx.post(srv.url + "/admin/reload", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
    after = httpx.get(srv.url + "/health").json()
    assert after["version"] == before["version"] == "test-1"
    assert after["content"] != before["content"]


# --- privacy in the server's own log ---------------------------------------------------------------------


def test_session_ids_never_reach_the_server_log(live_server: ServerFactory, make_kb: Callable[..., Path]) -> None:
    srv = live_server(make_kb(), log_level="debug", rate=0.5, burst=1)

    async def go() -> str:
        ws, welcome = await open_ws(srv)
        await ask(ws, "how do i book?", "a")
        await ask(ws, "how do i book?", "b")  # rate limited: logged at debug with the session's tag
        await ws.close()
        again, resumed = await open_ws(srv, query=f"?session={welcome['session']}&secret={welcome['secret']}")
        assert resumed["resumed"] is True
        await again.close()
        return str(welcome["session"]), str(welcome["secret"])

    session, secret = run(go())
    httpx.post(srv.url + "/api/ask", json={"text": "hi", "session": session, "secret": secret})
    time.sleep(0.2)
    log = srv.log()
    assert "rate limited session" in log
    assert session not in log and secret not in log


def test_what_visitors_type_never_reaches_the_log_even_at_debug(live_server: ServerFactory,
                                                                make_kb: Callable[..., Path]) -> None:
    srv = live_server(make_kb(), log_level="debug")

    async def go() -> None:
        ws, _ = await open_ws(srv)
        await ask(ws, "my secret zebrafish question")
        await ws.send("not json zebrafish")
        await ws.recv()
        await ws.close()

    run(go())
    httpx.post(srv.url + "/api/ask", json={"text": "zebrafish again"})
    time.sleep(0.2)
    log = srv.log()
    assert "< TEXT [not logged]" in log  # the debug dumps are there, without their payload
    assert "zebrafish" not in log


def test_opening_sockets_counts_against_the_client_rate(live_server: ServerFactory,
                                                        make_kb: Callable[..., Path]) -> None:
    srv = live_server(make_kb(), client_rate="3 per 30 seconds")

    async def go() -> tuple[list[str], int | None, str]:
        kinds = []
        for _ in range(3):
            ws, first = await open_ws(srv)
            kinds.append(first["type"])
            await ws.close()
        ws, refused = await open_ws(srv)
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        _, other = await open_ws(srv, source=OTHER)
        return [*kinds, refused.get("code", refused["type"])], ws.close_code, other["type"]

    kinds, close_code, other = run(go())
    assert kinds == ["welcome"] * 3 + ["rate_limited"]
    assert close_code == 1013 and other == "welcome"
