"""HTTP routes: the ask API, health, the widget files and demo page, and the admin routes."""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
from typing import Any

from starlette import status
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from .. import protocol
from .. import report as reports
from ..protocol import ErrorCode, FrameError
from ..sessions import new_id, valid_id
from .runtime import ReloadFailed, Runtime, widget_dir
from .security import PAGE_HEADERS

HTTP_STATUS = {
    ErrorCode.BAD_JSON: status.HTTP_400_BAD_REQUEST,
    ErrorCode.BAD_FRAME: status.HTTP_422_UNPROCESSABLE_CONTENT,
    ErrorCode.TOO_LONG: status.HTTP_413_CONTENT_TOO_LARGE,
    ErrorCode.RATE_LIMITED: status.HTTP_429_TOO_MANY_REQUESTS,
    ErrorCode.UNKNOWN_ENTRY: status.HTTP_404_NOT_FOUND,
}
DEMO_PAGE = "demo.html"


def error_response(code: str, message: str, http_status: int, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=http_status)


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _json_body(request: Request, limit: int) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        # Also keeps other sites' pages from posting here without a CORS preflight.
        raise FrameError(ErrorCode.BAD_FRAME, "Send the request body as JSON with 'Content-Type: application/json'.")
    body = await request.body()
    if len(body) > limit:
        raise FrameError(ErrorCode.TOO_LONG, f"The request body is larger than {limit} bytes; send a shorter text.")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise FrameError(ErrorCode.BAD_JSON, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise FrameError(ErrorCode.BAD_FRAME, "The request body must be a JSON object like {\"text\": \"...\"}.")
    return data


async def ask(request: Request) -> Response:
    """``{"text": ..., "session": optional}`` -> ``{"session", "turn", "reply"}``."""
    runtime = _runtime(request)
    cfg = runtime.config
    try:
        data = await _json_body(request, cfg.max_frame)
        text, session = data.get("text"), data.get("session")
        if isinstance(text, str) and len(text) > cfg.max_text:
            raise FrameError(ErrorCode.TOO_LONG, f"'text' is longer than {cfg.max_text} characters; shorten it.")
        if not isinstance(text, str) or not text.strip():
            raise FrameError(ErrorCode.BAD_FRAME, "Send {\"text\": \"your question\"}; 'text' must be a non-empty "
                                                  "string.")
        if session is not None and not isinstance(session, str):
            raise FrameError(ErrorCode.BAD_FRAME, "'session' must be the string returned by an earlier call.")
    except FrameError as exc:
        return error_response(exc.code, str(exc), HTTP_STATUS.get(exc.error_code, 400))
    state = await runtime.store.get(session) if session and valid_id(session) else None
    if state is None or session is None:
        session, state = new_id(), {}
    conv = runtime.bot.conversation(state)
    reply = conv.ask(text)
    await runtime.store.set(session, conv.state.to_dict())
    turn = "h-" + secrets.token_hex(6)
    runtime.record_turn(session, turn, text, reply, "http")
    return JSONResponse({"session": session, "turn": turn, "reply": reply.to_dict()})


async def feedback(request: Request) -> Response:
    """``{"session", "turn", "vote"}``: thumbs up or down on an ``/api/ask`` reply."""
    runtime = _runtime(request)
    try:
        data = await _json_body(request, runtime.config.max_frame)
        session, turn, vote = data.get("session"), data.get("turn"), data.get("vote")
        if not (isinstance(session, str) and valid_id(session) and isinstance(turn, str)
                and 0 < len(turn) <= protocol.MAX_ID and vote in ("up", "down")):
            raise FrameError(ErrorCode.BAD_FRAME, "Send {\"session\", \"turn\"} from an /api/ask answer and "
                                                  "\"vote\": \"up\" or \"down\".")
    except FrameError as exc:
        return error_response(exc.code, str(exc), HTTP_STATUS.get(exc.error_code, 400))
    runtime.record_feedback(session, turn, vote)
    return JSONResponse({"status": "ok"})


async def health(request: Request) -> Response:
    kb = _runtime(request).bot.kb
    return JSONResponse({"status": "ok", "entries": len(kb.entries), "version": kb.version})


async def index(request: Request) -> Response:
    page = widget_dir(_runtime(request).config) / DEMO_PAGE
    if not page.is_file():
        return error_response("not_found", "The demo page is not installed; the widget files live in widget/.",
                              status.HTTP_404_NOT_FOUND)
    return FileResponse(page, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


def _admin(request: Request) -> Response | None:
    """None if the caller holds the admin token; otherwise the response to send instead."""
    token = _runtime(request).config.admin_token
    if not token:
        # Admin routes do not exist until a token is configured.
        return error_response("not_found", "Not found.", status.HTTP_404_NOT_FOUND)
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
        response = error_response("unauthorized", "Send the admin token as 'Authorization: Bearer <token>'.",
                                  status.HTTP_401_UNAUTHORIZED)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    return None


async def reload(request: Request) -> Response:
    denied = _admin(request)
    if denied is not None:
        return denied
    runtime = _runtime(request)
    try:
        previous = await runtime.reload()
    except ReloadFailed as exc:
        return error_response("invalid_knowledge", f"The knowledge base was not reloaded; fix it and retry: {exc}",
                              status.HTTP_422_UNPROCESSABLE_CONTENT, errors=exc.details(),
                              serving=runtime.bot.kb.version)
    kb = runtime.bot.kb
    restarting = runtime.restart_sibling_workers()
    return JSONResponse({"status": "reloaded", "entries": len(kb.entries), "version": kb.version,
                         "previous": previous.kb.version, **({"workers": "restarting"} if restarting else {})})


async def report(request: Request) -> Response:
    denied = _admin(request)
    if denied is not None:
        return denied
    runtime = _runtime(request)
    path = getattr(runtime.recorder, "path", None)
    if path is None:
        return error_response("logging_off", "Conversation logging is off, so there is nothing to report; "
                                             "start the server with logging on.", status.HTTP_409_CONFLICT)
    raw_days = request.query_params.get("days")
    if raw_days is not None and not (raw_days.isdigit() and int(raw_days) > 0):
        return error_response("bad_request", "'days' must be a whole number of days, for example ?days=7.",
                              status.HTTP_400_BAD_REQUEST)
    days = int(raw_days) if raw_days else None
    result = await asyncio.to_thread(reports.build, path, days=days, bot=runtime.bot)
    return JSONResponse(result.to_dict())
