"""Callback requests through a real server: websocket steps and form, a real SMTP server (aiosmtpd) and a real
webhook receiver on loopback, the admin routes, and a turn log that never holds the details."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from conftest import ServerFactory, free_port
from test_server import Client, conversation

from faqbot.notify import SIGNATURE_HEADER

TOKEN = "cb-admin-token"
SECRET = "webhook-secret"
STEPS = ["Ann Lee", "(425) 654-5433", "weekday mornings", "skip", "yes"]
FORM = {"name": "Bo Chen", "contact": "bo@example.org", "time": "after 5pm", "note": "prefer email"}


class Mailbox:
    """An aiosmtpd handler keeping every message it is given."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


class Hooks:
    """A loopback HTTP receiver keeping every POST's headers and body."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                hooks.received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    receiver = Hooks()
    yield receiver
    receiver.server.shutdown()


def wait_for(check: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for a notification")


def admin(server: Any, path: str = "/admin/callbacks", **kw: Any) -> httpx.Response:
    return httpx.request(kw.pop("method", "GET"), server.url + path, headers={"Authorization": f"Bearer {TOKEN}"},
                         timeout=10, **kw)


def notifying(live_server: ServerFactory, mailbox: tuple[Mailbox, int], hooks: Hooks, **extra: Any) -> Any:
    return live_server(admin_token=TOKEN, smtp_host="127.0.0.1", smtp_port=mailbox[1],
                       smtp_from="bot@clinic.example", smtp_to=("team@clinic.example",), webhook_url=hooks.url,
                       webhook_secret=SECRET, **extra)


def test_websocket_step_by_step_request_notifies_once_by_email_and_webhook(
        live_server: ServerFactory, mailbox: tuple[Mailbox, int], hooks: Hooks, tmp_path: Path) -> None:
    server = notifying(live_server, mailbox, hooks, logging=True, log_db=str(tmp_path / "log.sqlite3"))

    async def script(client: Client) -> list[dict[str, Any]]:
        frames = [await client.ask("Request a callback")]
        for text in STEPS:
            frames.append(await client.ask(text))
        return frames

    frames = conversation(server, script)
    assert frames[0]["reply"]["type"] == "callback"
    assert frames[0]["callback"]["step"] == "name"
    assert "only to contact you about a consultation" in frames[0]["callback"]["consent"]
    assert [f["callback"]["step"] for f in frames[1:-1]] == ["contact", "time", "note", "consent"]
    assert "callback" not in frames[-1] and frames[-1]["reply"]["text"].startswith("Thank you")
    box = mailbox[0]
    wait_for(lambda: box.messages and hooks.received)
    time.sleep(0.5)  # nothing more arrives
    assert len(box.messages) == 1 and len(hooks.received) == 1
    mail = box.messages[0]
    assert mail.rcpt_tos == ["team@clinic.example"]
    body = mail.content.decode()
    assert "Ann Lee" in body and "+14256545433" in body and "weekday mornings" in body
    headers, raw = hooks.received[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers[SIGNATURE_HEADER], expected)
    data = json.loads(raw)
    assert (data["name"], data["phone"], data["best_time"], data["channel"]) == (
        "Ann Lee", "+14256545433", "weekday mornings", "ws")
    listed = admin(server).json()["callbacks"]
    wait_for(lambda: admin(server).json()["callbacks"][0]["notified"] is not None)
    assert len(listed) == 1 and listed[0]["name"] == "Ann Lee"
    server.stop()  # the log's writer flushes on shutdown
    db = sqlite3.connect(tmp_path / "log.sqlite3")
    logged = json.dumps([list(r) for t in ("turns",) for r in db.execute(f"SELECT * FROM {t}")])
    assert "Ann" not in logged and "5433" not in logged and "weekday" not in logged
    assert "[callback details not recorded]" in logged
    assert "Ann Lee" not in server.log() and "654-5433" not in server.log()


def test_widget_form_frame_is_validated_then_stored_and_notified(
        live_server: ServerFactory, mailbox: tuple[Mailbox, int], hooks: Hooks) -> None:
    server = notifying(live_server, mailbox, hooks)

    async def script(client: Client) -> list[dict[str, Any]]:
        bad = await client.send({"type": "callback", "id": "f1", "fields": {**FORM, "contact": "nope"},
                                 "consent": False})
        good = await client.send({"type": "callback", "id": "f2", "fields": FORM, "consent": True})
        return [bad, good]

    bad, good = conversation(server, script)
    assert bad["type"] == "callback_result" and not bad["ok"] and set(bad["errors"]) == {"contact", "consent"}
    assert good["ok"] and good["request"] and good["reply"]["type"] == "callback"
    wait_for(lambda: mailbox[0].messages and hooks.received)
    time.sleep(0.5)
    assert len(mailbox[0].messages) == 1 and len(hooks.received) == 1
    assert json.loads(hooks.received[0][1])["email"] == "bo@example.org"
    # The visitor's address is content, never a recipient: no open relay.
    assert mailbox[0].messages[0].rcpt_tos == ["team@clinic.example"]


def test_honeypot_and_unknown_fields_are_refused(live_server: ServerFactory) -> None:
    server = live_server()

    async def script(client: Client) -> list[dict[str, Any]]:
        trap = await client.send({"type": "callback", "id": "f1", "fields": {**FORM, "website": "x"},
                                  "consent": True})
        odd = await client.send({"type": "callback", "id": "f2", "fields": {**FORM, "to": "x@y.z"},
                                 "consent": True})
        return [trap, odd]

    trap, odd = conversation(server, script)
    assert not trap["ok"] and "form" in trap["errors"]
    assert odd["type"] == "error" and odd["code"] == "bad_frame"


def test_callback_requests_are_rate_limited_per_client(live_server: ServerFactory) -> None:
    server = live_server(callback_rate="2 per hour")

    async def script(client: Client) -> list[dict[str, Any]]:
        return [await client.send({"type": "callback", "id": f"f{i}", "fields": FORM, "consent": True})
                for i in range(3)]

    results = conversation(server, script)
    assert [r["ok"] for r in results] == [True, True, False]


def test_failed_notification_is_retried_and_listed_as_not_notified(live_server: ServerFactory) -> None:
    dead = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    server = live_server(admin_token=TOKEN, webhook_url=dead, webhook_secret=SECRET, notify_retries=3,
                         notify_backoff=0.05)

    async def script(client: Client) -> dict[str, Any]:
        return await client.send({"type": "callback", "id": "f1", "fields": FORM, "consent": True})

    assert conversation(server, script)["ok"]
    wait_for(lambda: admin(server).json()["callbacks"][0]["attempts"] == 3)
    item = admin(server).json()["callbacks"][0]
    assert item["notified"] is None and "webhook" in item["last_error"]
    assert httpx.get(server.url + "/health").json()["notifications"] == {"sent": 0, "failed": 1}
    pending = admin(server, params={"pending": "1"}).json()["callbacks"]
    assert [p["id"] for p in pending] == [item["id"]]


def test_admin_routes_need_the_token_and_export_and_delete(live_server: ServerFactory) -> None:
    server = live_server(admin_token=TOKEN)

    async def script(client: Client) -> dict[str, Any]:
        return await client.send({"type": "callback", "id": "f1", "fields": FORM, "consent": True})

    request_id = conversation(server, script)["request"]
    assert httpx.get(server.url + "/admin/callbacks").status_code == 401
    assert httpx.delete(server.url + f"/admin/callbacks/{request_id}").status_code == 401
    csv_text = admin(server, params={"format": "csv"}).text
    assert csv_text.splitlines()[0].startswith("id,created,name") and "Bo Chen" in csv_text
    assert admin(server, f"/admin/callbacks/{request_id}", method="DELETE").status_code == 200
    assert admin(server, f"/admin/callbacks/{request_id}", method="DELETE").status_code == 404
    assert admin(server).json()["callbacks"] == []


def test_http_api_takes_a_request_step_by_step(live_server: ServerFactory) -> None:
    server = live_server(admin_token=TOKEN)
    keys: dict[str, str] = {}
    replies = []
    for text in ["Request a callback", *STEPS]:
        answer = httpx.post(server.url + "/api/ask", json={"text": text, **keys}, timeout=10).json()
        keys = {"session": answer["session"], "secret": answer["secret"]}
        replies.append(answer["reply"])
    assert all(r["type"] == "callback" for r in replies) and replies[-1]["text"].startswith("Thank you")
    stored = admin(server).json()["callbacks"]
    assert len(stored) == 1 and stored[0]["phone"] == "+14256545433" and stored[0]["channel"] == "http"
