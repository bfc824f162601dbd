"""Serving the app with uvicorn: one process, or several workers that rebuild the config from the environment."""

from __future__ import annotations

import copy
import dataclasses
import logging
import logging.config
import os
import re
from typing import Any

import uvicorn
from fastapi import FastAPI

from ..bot import Bot
from ..config import ENV_PREFIX, Config
from . import guard
from .app import create_app

# uvicorn's protocol on the `websockets` package's sans-I/O core: what uvicorn's "websockets" will mean in
# its next releases (the legacy one is deprecated and warns), and the faster of the two in bench/load.py.
WS_IMPL = "websockets-sansio"


def uvicorn_options(config: Config) -> dict[str, Any]:
    """The uvicorn settings derived from a faqbot config."""
    return {
        "host": config.host,
        "port": config.port,
        "ws": WS_IMPL,
        # Frames above max_frame get a too_long error frame and the connection stays open; only frames far
        # beyond it are cut off by the protocol layer (close 1009).
        "ws_max_size": max(4 * config.max_frame, 65_536),
        # Frames are small JSON; compressing them costs more CPU than the bytes it saves.
        "ws_per_message_deflate": False,
        "log_level": config.log_level,
        "log_config": log_config(config),
        "timeout_graceful_shutdown": 5,
        "backlog": max(2048, config.max_connections),
        # Sockets over the caps, and requests slower than request_timeout, are closed at the transport.
        "http": f"{guard.__name__}:GuardedH11Protocol",
        # X-Forwarded-For is believed only from the configured proxies; otherwise anyone could pick an address.
        "proxy_headers": bool(config.trusted_proxies),
        "forwarded_allow_ips": list(config.trusted_proxies) or None,
        "server_header": False,
    }


def log_config(config: Config) -> dict[str, Any]:
    """uvicorn's logging setup plus the ``faqbot`` loggers, at the configured level, on the same handler."""
    cfg = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    cfg["loggers"]["faqbot"] = {"handlers": ["default"], "level": config.log_level.upper(), "propagate": False}
    cfg.setdefault("filters", {})["privacy"] = {"()": Privacy, "show_text": config.log_text}
    for handler in cfg["handlers"].values():
        handler.setdefault("filters", []).append("privacy")
    return cfg


class Privacy(logging.Filter):
    """Keep what visitors send out of the server's log, at every level.

    Session ids and secrets are blanked in access lines and handshake dumps (``/ws?session=...&secret=...``):
    together they resume a conversation. The websocket library's debug dumps of frames (``< TEXT '...'``) lose their payload unless
    ``show_text`` (``--log-text``) asks for it, for debugging on a machine with no real visitors.
    """

    _ID = re.compile(r"((?:session|secret)=)[^&\s\"']+")
    _FRAME = re.compile(r"^([<>] (?:TEXT|BINARY|CONT)) .*?( \[\d+ bytes\])?$", re.DOTALL)

    def __init__(self, show_text: bool = False) -> None:
        super().__init__()
        self.show_text = show_text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        changed = message
        if "session=" in changed or "secret=" in changed:
            changed = self._ID.sub(r"\1-", changed)
        if not self.show_text and changed[:1] in "<>" and " " in changed:
            changed = self._FRAME.sub(lambda m: f"{m.group(1)} [not logged]{m.group(2) or ''}", changed)
        if changed != message:
            record.msg, record.args = changed, ()
        return True


def run(config: Config) -> None:
    """Serve until interrupted. With ``workers > 1`` each worker process builds its own app from the env."""
    guard.configure(config)  # fails here, with what to do, if the open-file limit cannot carry the cap
    # Logging before the app is built, so its first lines (entries, KB version, matching mode) are shown.
    logging.config.dictConfig(log_config(config))
    if config.workers <= 1:
        app = create_app(config)
        uvicorn.Server(uvicorn.Config(app, **uvicorn_options(config))).run()
        return
    Bot.load(config.knowledge, encoder=config.encoder)  # fail here, once, rather than in every worker
    os.environ.update(config_env(config))
    uvicorn.run(f"{__name__}:app_from_env", factory=True, workers=config.workers, **uvicorn_options(config))


def app_from_env() -> FastAPI:
    """The factory uvicorn's worker processes call."""
    config = Config.from_env(os.environ)
    guard.configure(config)
    return create_app(config)


def config_env(config: Config) -> dict[str, str]:
    """``FAQBOT_*`` variables that ``Config.from_env`` turns back into ``config``."""
    env: dict[str, str] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, tuple):
            text = ",".join(value)
        else:
            text = str(value)
        env[ENV_PREFIX + f.name.upper()] = text
    return env
