"""The ``/ws`` endpoint: one visitor connection, moving frames between the socket and the conversation core."""

from __future__ import annotations

import asyncio
import enum
import logging
import sys
import time
from typing import Any

from starlette import status
from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketDisconnect

from .. import protocol
from ..protocol import ErrorCode, FrameError
from .limits import PENALTY, TokenBucket
from .runtime import Runtime
from .security import origin_allowed
from .sessions import tag

log = logging.getLogger("faqbot.server.ws")

CLOSE_IDLE = status.WS_1000_NORMAL_CLOSURE
CLOSE_FORBIDDEN = status.WS_1008_POLICY_VIOLATION
CLOSE_BUSY = status.WS_1013_TRY_AGAIN_LATER


class Phase(enum.Enum):
    """A connection's life: opening (session chosen, not yet welcomed), serving frames, closed."""

    OPENING = "opening"
    SERVING = "serving"
    CLOSED = "closed"


_NEXT = {Phase.OPENING: {Phase.SERVING, Phase.CLOSED}, Phase.SERVING: {Phase.CLOSED}, Phase.CLOSED: set()}


async def endpoint(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    headers = websocket.headers
    if not origin_allowed(headers.get("origin"), headers.get("host"), runtime.config.origins):
        log.info("websocket refused: origin %r not allowed", headers.get("origin"))
        await _refuse(websocket, ErrorCode.FORBIDDEN_ORIGIN, CLOSE_FORBIDDEN)
        return
    client = websocket.client.host if websocket.client else "unknown"
    if not await runtime.clients.hit(client):
        # Opening a socket costs a handshake and a session lookup: it counts against the client's rate too.
        await asyncio.sleep(PENALTY)
        await _refuse(websocket, ErrorCode.RATE_LIMITED, CLOSE_BUSY)
        return
    if not runtime.clients.open_socket(client):
        log.info("websocket refused: one client holds %d (max_client_sockets)", runtime.clients.max_sockets)
        await _refuse(websocket, ErrorCode.TOO_MANY_CONNECTIONS, CLOSE_BUSY)
        return
    try:
        if not runtime.connections.acquire():
            log.warning("websocket refused: %d connections open (max_connections)", runtime.connections.used)
            await _refuse(websocket, ErrorCode.TOO_MANY_CONNECTIONS, CLOSE_BUSY)
            return
        try:
            await Connection(websocket, runtime, client=client).run()
        finally:
            runtime.connections.release()
    finally:
        runtime.clients.close_socket(client)


async def _refuse(websocket: WebSocket, code: ErrorCode, close_code: int) -> None:
    """Accept only to say why in an error frame a browser can read, then close."""
    try:
        await websocket.accept()
        await websocket.send_text(protocol.dumps(protocol.error(None, code)))
        await websocket.close(close_code)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass


class Connection:
    """One websocket: its session, its conversation state and its limits."""

    def __init__(self, websocket: WebSocket, runtime: Runtime, *, client: str) -> None:
        self.ws = websocket
        self.runtime = runtime
        self.client = client
        cfg = runtime.config
        self.bucket = TokenBucket(cfg.rate, cfg.burst)
        self.phase = Phase.OPENING
        self.session = ""
        self.secret = ""  # kept for this connection only, to repeat to the client; the store has its hash
        self.state: dict[str, Any] = {}
        self.last_active = time.monotonic()

    def _enter(self, phase: Phase) -> None:
        if phase not in _NEXT[self.phase]:
            raise RuntimeError(f"a websocket connection cannot go from {self.phase.value} to {phase.value}")
        self.phase = phase

    async def run(self) -> None:
        try:
            # A new session is stored with its first turn, not now: opening sockets in a loop must not fill the
            # store (or Redis) with empty sessions. A reconnect before the first question gets a fresh id, which
            # loses nothing.
            query = self.ws.query_params
            opened = await self.runtime.open_session(query.get("session"), query.get("secret"))
            self.session, self.secret, self.state = opened.session, opened.secret, opened.state
            await self.ws.accept()
            self._enter(Phase.SERVING)
            await self._send(protocol.welcome(self.session, secret=self.secret, resumed=opened.resumed,
                                              intro=self.runtime.bot.welcome()))
            await self._serve()
        except WebSocketDisconnect:
            pass
        finally:
            self._enter(Phase.CLOSED)

    async def _serve(self) -> None:
        cfg = self.runtime.config
        while True:
            # Pings keep proxies happy but are not activity: an abandoned tab still times out.
            remaining = self.last_active + cfg.idle_timeout - time.monotonic()
            if remaining <= 0:
                await self._send(protocol.error(None, ErrorCode.IDLE_TIMEOUT))
                await self.ws.close(CLOSE_IDLE)
                return
            try:
                message = await _receive(self.ws, remaining)
            except asyncio.TimeoutError:
                continue
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text")
            if raw is None:
                raw = message.get("bytes") or b""
            await self._handle(raw)

    async def _handle(self, raw: str | bytes) -> None:
        cfg = self.runtime.config
        if not self.bucket.take():
            log.debug("rate limited session %s", tag(self.session))
            await asyncio.sleep(PENALTY)  # and read nothing more from this socket meanwhile
            await self._send(protocol.error(_peek_id(raw, cfg.max_frame), ErrorCode.RATE_LIMITED))
            return
        try:
            frame = protocol.parse(raw, max_text=cfg.max_text, max_frame=cfg.max_frame)
            if not isinstance(frame, protocol.Ping):
                self.last_active = time.monotonic()
                # The same client's other sockets and HTTP calls draw on the same allowance.
                if not await self.runtime.clients.hit(self.client):
                    await asyncio.sleep(PENALTY)
                    raise FrameError(ErrorCode.RATE_LIMITED, id=frame.id)
            answer = await self._dispatch(frame)
        except FrameError as exc:
            log.debug("bad frame (%s) on session %s", exc.code, tag(self.session))
            answer = exc.to_frame()
        except (WebSocketDisconnect, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("internal error on session %s", tag(self.session))
            answer = protocol.error(_peek_id(raw, cfg.max_frame), ErrorCode.INTERNAL)
        await self._send(answer)

    async def _dispatch(self, frame: protocol.ClientFrame) -> dict[str, Any]:
        if isinstance(frame, (protocol.Message, protocol.Pick)):
            text, pick = (frame.text, None) if isinstance(frame, protocol.Message) else (None, frame.entry)
            turn = await self.runtime.turn(self.session, self.state, turn_id=frame.id, channel="ws",
                                           client=self.client, text=text, pick=pick)
            self.state = turn.state
            return protocol.reply(frame.id, turn.reply, callback=self.runtime.callback_form(turn.state))
        if isinstance(frame, protocol.CallbackForm):
            outcome = await self.runtime.submit_callback(self.session, self.state,
                                                         {**frame.fields, "consent": frame.consent},
                                                         turn_id=frame.id, channel="ws", client=self.client)
            self.state = outcome.state
            return protocol.callback_result(frame.id, errors=outcome.errors, answer=outcome.reply,
                                            request=outcome.request_id)
        if isinstance(frame, protocol.Feedback):
            self.runtime.record_feedback(self.session, frame.reply, frame.vote.value)
            return protocol.ack(frame.id)
        if isinstance(frame, protocol.Resume):
            found = await self._load(frame.session, frame.secret)
            return protocol.resumed(frame.id, self.session, secret=self.secret, found=found)
        return protocol.pong(frame.id)

    async def _load(self, session: str, secret: str | None) -> bool:
        """Switch to a stored session if it is alive and ``secret`` opens it; False leaves the current one."""
        opened = await self.runtime.open_session(session, secret)
        if opened.resumed:
            self.session, self.secret, self.state = opened.session, opened.secret, opened.state
        return opened.resumed

    async def _send(self, frame: dict[str, Any]) -> None:
        if self.phase is not Phase.SERVING:
            raise RuntimeError(f"cannot send a frame to a websocket that is {self.phase.value}")
        await self.ws.send_text(protocol.dumps(frame))


if sys.version_info >= (3, 11):
    async def _receive(ws: WebSocket, timeout: float) -> Message:
        # asyncio.timeout cancels in place; wait_for would wrap every receive in a new task.
        async with asyncio.timeout(timeout):
            return await ws.receive()
else:  # pragma: no cover - Python 3.10
    async def _receive(ws: WebSocket, timeout: float) -> Message:
        return await asyncio.wait_for(ws.receive(), timeout)


def _peek_id(raw: str | bytes, max_frame: int) -> str | None:
    """The id of a frame we will not otherwise parse, when it is cheap and safe to read."""
    try:
        return protocol.parse(raw, max_frame=max_frame).id
    except FrameError as exc:
        return exc.id
