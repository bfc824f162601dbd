"""HTTP routes: the ask API, health, the widget files and demo page, and the admin routes."""

from __future__ import annotations

import asyncio
import hmac
import io
import logging
import secrets
import string
from typing import Any

from starlette import status
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from .. import protocol
from .. import report as reports
from ..protocol import ErrorCode, FrameError
from .limits import PENALTY
from .runtime import ReloadFailed, Runtime, widget_dir
from .security import PAGE_HEADERS
from .sessions import valid_id

log = logging.getLogger("faqbot.server.http")

HTTP_STATUS = {
    ErrorCode.BAD_JSON: status.HTTP_400_BAD_REQUEST,
    ErrorCode.BAD_FRAME: status.HTTP_422_UNPROCESSABLE_CONTENT,
    ErrorCode.TOO_LONG: status.HTTP_413_CONTENT_TOO_LARGE,
    ErrorCode.RATE_LIMITED: status.HTTP_429_TOO_MANY_REQUESTS,
    ErrorCode.UNKNOWN_ENTRY: status.HTTP_404_NOT_FOUND,
    ErrorCode.UNKNOWN_SESSION: status.HTTP_403_FORBIDDEN,
}
DEMO_PAGE = "demo.html"


def error_response(code: str, message: str, http_status: int, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=http_status)


def _client(request: Request) -> str:
    # uvicorn has already replaced a trusted proxy's address with the one it forwarded for.
    return request.client.host if request.client else "unknown"


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _json_body(request: Request, limit: int) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        # Also keeps other sites' pages from posting here without a CORS preflight.
        raise FrameError(ErrorCode.BAD_FRAME, "Send the request body as JSON with 'Content-Type: application/json'.")
    too_long = FrameError(ErrorCode.TOO_LONG, f"The request body is larger than {limit} bytes; send a shorter text.")
    declared = request.headers.get("content-length", "")
    if declared.isdecimal() and int(declared) > limit:
        raise too_long
    # Counted while it streams in: a huge body is refused at the limit, never held in memory whole.
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_long
        chunks.append(chunk)
    data = protocol.loads(b"".join(chunks))
    if not isinstance(data, dict):
        raise FrameError(ErrorCode.BAD_FRAME, "The request body must be a JSON object like {\"text\": \"...\"}.")
    return data


def _frame_error(exc: FrameError) -> Response:
    response = error_response(exc.code, str(exc), HTTP_STATUS.get(exc.error_code, 400))
    if exc.error_code is ErrorCode.TOO_LONG:
        # The rest of an oversized body is never read: close rather than drain it to reuse the connection.
        response.headers["connection"] = "close"
    return response


async def _over_rate(request: Request) -> Response | None:
    if await runtime_of(request).clients.hit(_client(request)):
        return None
    await asyncio.sleep(PENALTY)
    exc = FrameError(ErrorCode.RATE_LIMITED)
    return error_response(exc.code, str(exc), status.HTTP_429_TOO_MANY_REQUESTS)


async def ask(request: Request) -> Response:
    """``{"text": ..., "session": optional, "secret": optional}`` -> ``{"session", "secret", "turn", "reply"}``."""
    runtime = runtime_of(request)
    cfg = runtime.config
    limited = await _over_rate(request)
    if limited is not None:
        return limited
    try:
        data = await _json_body(request, cfg.max_frame)
        text, session, secret = data.get("text"), data.get("session"), data.get("secret")
        if isinstance(text, str) and len(text) > cfg.max_text:
            raise FrameError(ErrorCode.TOO_LONG, f"'text' is longer than {cfg.max_text} characters; shorten it.")
        if not isinstance(text, str) or not text.strip():
            raise FrameError(ErrorCode.BAD_FRAME, "Send {\"text\": \"your question\"}; 'text' must be a non-empty "
                                                  "string.")
        if session is not None and not isinstance(session, str):
            raise FrameError(ErrorCode.BAD_FRAME, "'session' must be the string returned by an earlier call.")
        if secret is not None and not isinstance(secret, str):
            raise FrameError(ErrorCode.BAD_FRAME, "'secret' must be the string returned with 'session'.")
        if not protocol.is_text(text):
            raise FrameError(ErrorCode.BAD_FRAME, "'text' is not valid text (it holds a lone surrogate).")
    except FrameError as exc:
        return _frame_error(exc)
    # Letters only: the log redacts digit runs in turn ids (clients choose theirs), and a hex id can hold one.
    turn_id = "h-" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(12))
    try:
        opened = await runtime.open_session(session, secret)
        turn = await runtime.turn(opened.session, opened.state, turn_id=turn_id, channel="http",
                                  client=_client(request), text=text)
    except Exception:
        log.exception("internal error answering /api/ask")
        return error_response(ErrorCode.INTERNAL.value, protocol.MESSAGES[ErrorCode.INTERNAL],
                              status.HTTP_500_INTERNAL_SERVER_ERROR)
    return JSONResponse({"session": turn.session, "secret": opened.secret, "turn": turn_id,
                         "reply": turn.reply.to_dict()})


async def feedback(request: Request) -> Response:
    """``{"session", "secret", "turn", "vote"}``: thumbs up or down on an ``/api/ask`` reply. The session's secret
    is needed as for resuming it: holding an id alone votes for nobody."""
    runtime = runtime_of(request)
    limited = await _over_rate(request)
    if limited is not None:
        return limited
    try:
        data = await _json_body(request, runtime.config.max_frame)
        session, secret = data.get("session"), data.get("secret")
        turn, vote = data.get("turn"), data.get("vote")
        if not (isinstance(session, str) and valid_id(session) and isinstance(secret, str) and isinstance(turn, str)
                and 0 < len(turn) <= protocol.MAX_ID and protocol.is_text(turn) and vote in ("up", "down")):
            raise FrameError(ErrorCode.BAD_FRAME, "Send {\"session\", \"secret\", \"turn\"} from an /api/ask "
                                                  "answer and \"vote\": \"up\" or \"down\".")
        if not await runtime.holds(session, secret):
            raise FrameError(ErrorCode.UNKNOWN_SESSION)
    except FrameError as exc:
        return _frame_error(exc)
    runtime.record_feedback(session, turn, vote)
    return JSONResponse({"status": "ok"})


async def health(request: Request) -> Response:
    """Liveness: 200 while the process answers, with what it serves and how its dependencies are doing."""
    return JSONResponse(runtime_of(request).health())


async def ready(request: Request) -> Response:
    """Readiness: 503 while the session store is down, so a load balancer can steer visitors elsewhere."""
    runtime = runtime_of(request)
    return JSONResponse(runtime.health(), status_code=status.HTTP_200_OK if runtime.ready
                        else status.HTTP_503_SERVICE_UNAVAILABLE)


async def index(request: Request) -> Response:
    page = widget_dir(runtime_of(request).config) / DEMO_PAGE
    if not page.is_file():
        return error_response("not_found", "The demo page is not installed; the widget files live in widget/.",
                              status.HTTP_404_NOT_FOUND)
    return FileResponse(page, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


def holds_bearer(request: Request, token: str) -> bool:
    """The request carries ``Authorization: Bearer <token>`` (compared in constant time)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def _admin(request: Request) -> Response | None:
    """None if the caller holds the admin token; otherwise the response to send instead."""
    token = runtime_of(request).config.admin_token
    if not token:
        # Admin routes do not exist until a token is configured.
        return error_response("not_found", "Not found.", status.HTTP_404_NOT_FOUND)
    if not holds_bearer(request, token):
        response = error_response("unauthorized", "Send the admin token as 'Authorization: Bearer <token>'.",
                                  status.HTTP_401_UNAUTHORIZED)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    return None


async def reload(request: Request) -> Response:
    denied = _admin(request)
    if denied is not None:
        return denied
    runtime = runtime_of(request)
    try:
        previous = await runtime.reload(force=request.query_params.get("force") in ("1", "true", "yes"))
    except ReloadFailed as exc:
        return error_response("invalid_knowledge", f"The knowledge base was not reloaded; fix it and retry: {exc}",
                              status.HTTP_422_UNPROCESSABLE_CONTENT, errors=exc.details(),
                              serving=runtime.bot.kb.version, content=runtime.kb_hash)
    kb = runtime.bot.kb
    restarting = runtime.restart_sibling_workers()
    return JSONResponse({"status": "reloaded", "entries": len(kb.entries), "version": kb.version,
                         "content": runtime.kb_hash,
                         "previous": previous.kb.version, **({"workers": "restarting"} if restarting else {})})


async def report(request: Request) -> Response:
    denied = _admin(request)
    if denied is not None:
        return denied
    runtime = runtime_of(request)
    path = getattr(runtime.recorder, "path", None)
    if path is None:
        return error_response("logging_off", "Conversation logging is off, so there is nothing to report; "
                                             "start the server with logging on.", status.HTTP_409_CONFLICT)
    raw_days = request.query_params.get("days")
    if raw_days is not None and not (raw_days.isascii() and raw_days.isdecimal() and 0 < int(raw_days) < 100_000):
        return error_response("bad_request", "'days' must be a whole number of days, for example ?days=7.",
                              status.HTTP_400_BAD_REQUEST)
    days = int(raw_days) if raw_days else None
    result = await asyncio.to_thread(reports.build, path, days=days, bot=runtime.bot)
    return JSONResponse(result.to_dict())


def _callback_store(request: Request) -> Any:
    """The callback store for an admin, else the response to send instead (no token, or callbacks off)."""
    denied = _admin(request)
    if denied is not None:
        return denied
    store = runtime_of(request).callbacks
    if store is None:
        return error_response("callbacks_off", "This server takes no callback requests (FAQBOT_CALLBACKS=off).",
                              status.HTTP_409_CONFLICT)
    return store


async def callbacks(request: Request) -> Response:
    """The stored callback requests for the clinic's staff: JSON, or CSV with ``?format=csv``."""
    store = _callback_store(request)
    if isinstance(store, Response):
        return store
    if request.query_params.get("format") == "csv":
        buffer = io.StringIO()
        await asyncio.to_thread(store.export_csv, buffer)
        return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Cache-Control": "no-store",
                                 "Content-Disposition": 'attachment; filename="callbacks.csv"'})
    items = await asyncio.to_thread(store.list, pending_only=request.query_params.get("pending") in ("1", "true"))
    return JSONResponse({"callbacks": [i.to_dict() for i in items]}, headers={"Cache-Control": "no-store"})


async def delete_callback(request: Request) -> Response:
    store = _callback_store(request)
    if isinstance(store, Response):
        return store
    request_id = request.path_params["id"]
    if not await asyncio.to_thread(store.delete, request_id):
        return error_response("not_found", f"No callback request {request_id!r}; list them at /admin/callbacks.",
                              status.HTTP_404_NOT_FOUND)
    return JSONResponse({"status": "deleted", "id": request_id})
