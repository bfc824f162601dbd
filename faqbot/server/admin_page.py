"""The dashboard at ``/admin``: the same page as ``faqbot report --format html``, with Accept buttons wired to the
same code as ``faqbot accept``, behind the admin token.

A browser cannot send a bearer header on a page load, so ``/admin`` also takes a cookie set by a small token form.
The cookie holds an HMAC of the token, never the token; it is HttpOnly, SameSite=Strict and scoped to ``/admin``,
and a POST must come from this origin.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from html import escape
from urllib.parse import parse_qs, quote, urlsplit

from starlette import status
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from .. import dashboard
from ..accept import Session
from ..exceptions import ConfigError
from .http import holds_bearer, runtime_of
from .runtime import ReloadFailed

COOKIE = "faqbot_admin"
MAX_FORM = 4096
HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                      "frame-ancestors 'none'; base-uri 'none'",
           "Cache-Control": "no-store", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}
_LOGIN = ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>faqbot admin</title>'
          '<meta name="viewport" content="width=device-width, initial-scale=1"></head><body>'
          '<main><h1>faqbot admin</h1>{message}<form method="post" action="/admin/login">'
          '<label for="token">Admin token</label> <input id="token" name="token" type="password" '
          'autocomplete="current-password" required> <button type="submit">Open the dashboard</button>'
          '</form></main></body></html>')


def _session_value(token: str) -> str:
    return hmac.new(token.encode(), b"faqbot admin dashboard", hashlib.sha256).hexdigest()


def _allowed(request: Request, token: str) -> bool:
    if holds_bearer(request, token):
        return True
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), _session_value(token).encode())


def _same_origin(request: Request) -> bool:
    """A form post from this server's own page (browsers send Origin on POST); a script without it is not a
    browser, so the cookie is not what it could be riding on."""
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()


def _login(message: str = "", code: int = status.HTTP_200_OK) -> Response:
    note = f'<p role="alert">{escape(message)}</p>' if message else ""
    return HTMLResponse(_LOGIN.format(message=note), status_code=code, headers=HEADERS)


async def _form(request: Request) -> dict[str, str]:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return {}
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def _denied(request: Request, message: str = "", code: int = status.HTTP_200_OK) -> Response | None:
    """None for the admin; else no such page (no token configured) or the token form."""
    token = runtime_of(request).config.admin_token
    if not token:
        return Response(status_code=status.HTTP_404_NOT_FOUND)
    return None if _allowed(request, token) else _login(message, code)


async def page(request: Request) -> Response:
    denied = _denied(request)
    if denied is not None:
        return denied
    runtime = runtime_of(request)
    path = getattr(runtime.recorder, "path", None)
    if path is None:
        return HTMLResponse("<!DOCTYPE html><title>faqbot admin</title><p>Conversation logging is off, so there is "
                            "nothing to show; start the server with logging on.</p>", status_code=409,
                            headers=HEADERS)
    notice = request.query_params.get("notice", "")[:300]
    page = await asyncio.to_thread(dashboard.from_log, path, runtime.bot, accept_url="/admin/accept", notice=notice)
    return HTMLResponse(page, headers=HEADERS)


async def login(request: Request) -> Response:
    token = runtime_of(request).config.admin_token
    if not token:
        return Response(status_code=status.HTTP_404_NOT_FOUND)
    if not _same_origin(request):
        return _login("Sign in from this server's own page.", status.HTTP_403_FORBIDDEN)
    given = (await _form(request)).get("token", "")
    if not hmac.compare_digest(given.encode(), token.encode()):
        return _login("That is not the admin token.", status.HTTP_401_UNAUTHORIZED)
    response = RedirectResponse("/admin", status_code=status.HTTP_303_SEE_OTHER, headers=HEADERS)
    response.set_cookie(COOKIE, _session_value(token), httponly=True, samesite="strict", path="/admin",
                        secure=request.url.scheme == "https")
    return response


async def accept(request: Request) -> Response:
    """Accept one suggestion into the served KB's files (lint and the answer suite guard it), then reload."""
    denied = _denied(request, "Sign in first.", status.HTTP_401_UNAUTHORIZED)
    if denied is not None:
        return denied
    runtime = runtime_of(request)
    if not _same_origin(request):
        return _login("Accept from this server's own dashboard.", status.HTTP_403_FORBIDDEN)
    path = getattr(runtime.recorder, "path", None)
    ident = (await _form(request)).get("id", "")
    if path is None or not ident:
        return RedirectResponse("/admin?notice=" + quote("Nothing to accept."), status_code=303, headers=HEADERS)

    def apply() -> str:
        session = Session.open(runtime.knowledge_source, log_db=path, encoder=runtime.config.encoder)
        outcome = session.apply([(session.find(ident, session.proposals()), None)])
        return outcome.summary()

    try:
        summary = await asyncio.to_thread(apply)
        await runtime.reload()
    except (ConfigError, ReloadFailed) as exc:
        summary = f"Not accepted: {exc}"
    return RedirectResponse("/admin?notice=" + quote(summary[:300]), status_code=303, headers=HEADERS)
