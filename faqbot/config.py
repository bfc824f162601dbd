"""Server and recorder settings from flags and environment; the environment is passed in, never read at import."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .exceptions import ConfigError

ENV_PREFIX = "FAQBOT_"
DEFAULT_LOG_DB = "faqbot-log.sqlite3"  # the conversation log, relative to the working directory


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


@dataclass(frozen=True)
class Config:
    """Every knob of a running faqbot service. Environment names are ``FAQBOT_`` + the field name upper-cased."""

    host: str = "127.0.0.1"
    port: int = 8000
    knowledge: str | None = None
    encoder: str = "default"  # the pinned MiniLM; a model directory; or "off" for lexical matching only
    origins: tuple[str, ...] = ()  # empty: the server's own host and localhost
    workers: int = 1
    sessions: str = "memory"  # or redis://HOST:PORT/DB
    session_ttl: int = 1800
    max_sessions: int = 10_000
    admin_token: str | None = None
    max_text: int = 2000
    max_frame: int = 16_384
    rate: float = 2.0  # messages per second, refilled
    burst: int = 8
    idle_timeout: float = 600.0
    max_connections: int = 2000  # sockets open at once; checked against the open-file limit at start
    max_client_sockets: int = 20  # sockets one client address may hold open (HTTP and websocket)
    client_rate: str = "30 per 10 seconds; 300 per minute"  # messages and API calls per client address
    trusted_proxies: tuple[str, ...] = ()  # proxies whose X-Forwarded-For names the client (addresses, networks)
    request_timeout: float = 15.0  # seconds for a request's headers and body to arrive
    turn_threads: int = 4  # threads that compute replies, off the event loop
    reload_max_loss: float = 0.2  # share of entries or answer-suite cases a reload may lose unless forced
    log_db: str = DEFAULT_LOG_DB
    logging: bool = True
    retention_days: int = 90
    widget_dir: str | None = None  # default: the widget bundled with the package (or the checkout's widget/)
    callbacks: bool = True  # take callback requests (stored in callbacks_db, sent to the team as configured)
    callbacks_db: str = "faqbot-callbacks.sqlite3"  # apart from the conversation log: contact details
    callback_retention_days: int = 30
    callback_region: str = "US"  # phone numbers typed without a country code are read as this region's
    callback_rate: str = "3 per hour"  # callback requests one client address may leave
    smtp_host: str = ""  # notify the team by email: empty turns email off
    smtp_port: int = 25
    smtp_from: str = ""
    smtp_to: tuple[str, ...] = ()  # the team's addresses; never an address a visitor typed
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    webhook_url: str = ""  # notify by a POST of JSON, signed with webhook_secret (HMAC-SHA256)
    webhook_secret: str = ""
    notify_retries: int = 3
    notify_backoff: float = 2.0  # seconds before the second attempt, doubled after each failure
    log_level: str = "info"
    log_text: bool = False  # let debug logging show what visitors send (never on a server with real visitors)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Config:
        """Read ``FAQBOT_*`` variables from ``environ`` (default ``os.environ``), then apply non-None overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _coerce(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(str(exc)) from None

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


def _coerce(f: dataclasses.Field[Any], raw: str) -> Any:
    kind = str(f.type)
    name = ENV_PREFIX + f.name.upper()
    try:
        if kind == "bool":
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind.startswith("tuple"):
            return _split(raw)
        return raw or None if "None" in kind else raw
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a valid {kind}; fix or unset the variable") from None


