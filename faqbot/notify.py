"""Telling the clinic's team about a callback request: an email over SMTP and/or a webhook POST signed with
HMAC-SHA256. Sent from a worker thread with retries and backoff; a failure is counted and left in the store as
"not notified", never raised into a reply.

Mail only ever goes to the configured staff addresses: a visitor's typed address is content, never a recipient.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import threading
import time
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage

from .callback import CallbackRequest
from .callback_store import CallbackStore
from .config import Config

log = logging.getLogger("faqbot.notify")

SIGNATURE_HEADER = "X-Faqbot-Signature"  # "sha256=" + hex HMAC of the raw body with the shared secret


@dataclass(frozen=True)
class NotifySettings:
    """Where notifications go; an empty ``smtp_host`` or ``webhook_url`` turns that channel off."""

    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = ""
    smtp_to: tuple[str, ...] = ()
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    webhook_url: str = ""
    webhook_secret: str = ""
    retries: int = 3  # attempts per channel
    backoff: float = 1.0  # seconds before the second attempt, doubled after each failure
    timeout: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.smtp_host and self.smtp_to) or bool(self.webhook_url)


def sign(body: bytes, secret: str) -> str:
    """The signature header's value for ``body``: receivers recompute it and compare in constant time."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(request: CallbackRequest) -> dict[str, object]:
    """What the clinic receives: the request's fields, and nothing of the conversation."""
    return {"type": "callback_request", "id": request.id,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(request.created)),
            "name": request.name, "phone": request.phone, "email": request.email, "best_time": request.best_time,
            "note": request.note, "channel": request.channel}


class Notifier:
    """Delivers each request once per configured channel, off the caller's thread."""

    def __init__(self, settings: NotifySettings, *, store: CallbackStore | None = None) -> None:
        self.settings = settings
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="faqbot-notify")
        self._lock = threading.Lock()
        self.sent = 0
        self.failed = 0

    def submit(self, request: CallbackRequest) -> Future[bool]:
        """Queue ``request`` for delivery; the future says whether every channel took it."""
        return self._pool.submit(self.deliver, request)

    def close(self, *, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"sent": self.sent, "failed": self.failed}

    def deliver(self, request: CallbackRequest) -> bool:
        """Send on every channel, each with its own retries; record the outcome in the store."""
        s = self.settings
        channels = []
        if s.smtp_host and s.smtp_to:
            channels.append(("email", self._email))
        if s.webhook_url:
            channels.append(("webhook", self._webhook))
        errors: list[str] = []
        attempts = 0
        for name, send in channels:
            delay = s.backoff
            for attempt in range(1, max(1, s.retries) + 1):
                attempts += 1
                try:
                    send(request)
                    break
                except Exception as exc:  # noqa: BLE001 - any failure of the far side: counted, retried, never raised
                    log.warning("callback %s: %s notification attempt %d failed: %s", request.id, name, attempt,
                                type(exc).__name__)
                    if attempt == max(1, s.retries):
                        errors.append(f"{name}: {type(exc).__name__}: {exc}")
                    else:
                        time.sleep(delay)
                        delay *= 2
        ok = not errors
        with self._lock:
            if ok:
                self.sent += 1
            else:
                self.failed += 1
        if self.store is not None:
            if ok:
                self.store.mark_notified(request.id, attempts=attempts)
            else:
                self.store.mark_failed(request.id, attempts=attempts, error="; ".join(errors))
        return ok

    def _email(self, request: CallbackRequest) -> None:
        s = self.settings
        msg = EmailMessage()
        msg["Subject"] = f"Callback request {request.id}"
        msg["From"] = s.smtp_from or "faqbot@localhost"
        msg["To"] = ", ".join(s.smtp_to)
        p = payload(request)
        msg.set_content("\n".join(f"{k}: {v}" for k, v in p.items() if k != "type") + "\n")
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password)
            smtp.send_message(msg, to_addrs=list(s.smtp_to))

    def _webhook(self, request: CallbackRequest) -> None:
        s = self.settings
        body = json.dumps(payload(request), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        if s.webhook_secret:
            headers[SIGNATURE_HEADER] = sign(body, s.webhook_secret)
        req = urllib.request.Request(s.webhook_url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=s.timeout) as resp:  # the operator's URL, never a visitor's
            if not 200 <= resp.status < 300:
                raise OSError(f"webhook answered {resp.status}")


def notify_settings(config: Config) -> NotifySettings:
    """The notification part of a service's ``Config``."""
    return NotifySettings(smtp_host=config.smtp_host, smtp_port=config.smtp_port, smtp_from=config.smtp_from,
                          smtp_to=config.smtp_to, smtp_user=config.smtp_user, smtp_password=config.smtp_password,
                          smtp_starttls=config.smtp_starttls, webhook_url=config.webhook_url,
                          webhook_secret=config.webhook_secret, retries=config.notify_retries,
                          backoff=config.notify_backoff)
