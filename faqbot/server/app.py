"""The app factory: routes wired to one ``Runtime``; nothing is read at import time."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..bot import Bot
from ..config import Config
from . import admin_page, http, ws
from .runtime import Runtime, widget_dir
from .security import COMMON_HEADERS, WIDGET_HEADERS
from .static import WidgetFiles

log = logging.getLogger("faqbot.server")


def create_app(config: Config | None = None, *, bot: Bot | None = None, recorder: Any = None,
               handle_sighup: bool = True) -> FastAPI:
    """A FastAPI app serving ``/ws``, the HTTP API, the widget and admin routes for one knowledge base.

    ``bot`` defaults to loading ``config.knowledge`` (the bundled KB when unset); a broken KB fails here,
    before the server starts listening. ``recorder`` defaults to ``faqbot.recorder.Recorder`` when
    ``config.logging`` is on and that module is installed. SIGHUP reloads the KB when the app runs in a
    process's main thread.
    """
    config = config or Config()
    runtime = Runtime(config, bot or Bot.load(config.knowledge, encoder=config.encoder), recorder=recorder)
    kb = runtime.bot.kb
    log.info("faqbot %s: %d entries from %s (version %s); matching and safety: %s", __version__, len(kb.entries),
             kb.path or "the bundled knowledge base", kb.version, runtime.bot.mode)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        hup = handle_sighup and runtime.install_sighup()
        try:
            yield
        finally:
            if hup:
                runtime.remove_sighup()
            await runtime.stop()

    app = FastAPI(title="faqbot", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.runtime = runtime

    app.add_middleware(HeadersMiddleware)
    app.router.add_websocket_route("/ws", ws.endpoint)
    app.add_route("/api/ask", http.ask, methods=["POST"])
    app.add_route("/api/feedback", http.feedback, methods=["POST"])
    app.add_route("/health", http.health, methods=["GET"])
    app.add_route("/ready", http.ready, methods=["GET"])
    app.add_route("/", http.index, methods=["GET"])
    app.add_route("/admin/reload", http.reload, methods=["POST"])
    app.add_route("/admin/report", http.report, methods=["GET"])
    app.add_route("/admin/callbacks", http.callbacks, methods=["GET"])
    app.add_route("/admin/callbacks/{id}", http.delete_callback, methods=["DELETE"])
    app.add_route("/admin", admin_page.page, methods=["GET"])
    app.add_route("/admin/login", admin_page.login, methods=["POST"])
    app.add_route("/admin/accept", admin_page.accept, methods=["POST"])
    app.mount("/widget", WidgetFiles(widget_dir(config)), name="widget")
    return app


class HeadersMiddleware:
    """Security headers on every HTTP response, cross-origin headers on widget files; websockets pass through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = {**COMMON_HEADERS, **(WIDGET_HEADERS if scope["path"].startswith("/widget/") else {})}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(extra)
            await send(message)

        await self.app(scope, receive, send_with_headers)
