"""What a running server shares between requests: config, the current bot, the session store, the recorder."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from limits import parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from ..bot import Bot
from ..callback import CallbackRejected, CallbackRequest
from ..callback_store import CallbackStore
from ..config import DEFAULT_LOG_DB, Config
from ..exceptions import KnowledgeError, KnowledgeErrors
from ..models import Reply, ReplyType
from ..notify import Notifier, notify_settings
from ..protocol import ErrorCode, FrameError
from ..logstore import describe
from ..recorder import Recorder
from .lag import LoopLag
from .limits import ClientLimits, Slots
from .sessions import KEY, FallbackStore, SessionStore, State, new_id, new_secret, open_store, opens, seal, valid_id

log = logging.getLogger("faqbot.server")

# What the turn log keeps of a message that answered a callback step: never the contact details themselves.
CALLBACK_TEXT = "[callback details not recorded]"


class ReloadFailed(Exception):
    """The new knowledge base did not validate, or would lose too much; the old one keeps serving."""

    def __init__(self, error: KnowledgeError | str) -> None:
        super().__init__(str(error))
        self.error = error

    def details(self) -> list[dict[str, Any]]:
        if isinstance(self.error, str):
            return [{"file": None, "line": None, "field": None, "message": self.error}]
        errors = self.error.errors if isinstance(self.error, KnowledgeErrors) else [self.error]
        return [{"file": e.file, "line": e.line, "field": e.field, "message": str(e)} for e in errors]


@dataclass(frozen=True)
class Opened:
    """A session a connection or request goes on with: resumed, or fresh with a new secret.

    ``state`` carries the hash of the secret (``KEY``) so it is stored with every turn; ``secret`` is what the
    client keeps to resume: the new one, or the one it proved.
    """

    session: str
    secret: str
    state: State
    resumed: bool


@dataclass(frozen=True)
class Turn:
    """One answered message: the reply and the conversation state it leaves behind."""

    session: str
    reply: Reply
    state: State


@dataclass(frozen=True)
class CallbackOutcome:
    """A submitted form: the request id when stored, else each field's error; ``reply`` is what the bot says."""

    reply: Reply | None
    errors: dict[str, str]
    state: State
    request_id: str | None = None


class Runtime:
    """The state of one server process. ``bot`` is swapped whole on reload; conversations keep only state dicts."""

    def __init__(self, config: Config, bot: Bot, *, recorder: Any = None) -> None:
        self.config = config
        self.bot = bot
        self.lag = LoopLag()
        self.store: SessionStore = open_store(config.sessions, ttl=config.session_ttl,
                                              max_sessions=config.max_sessions, lag=self.lag)
        self.recorder = recorder
        self._own_recorder = False
        self.connections = Slots(config.max_connections)
        store = self.store
        pool = store.primary.client.connection_pool if isinstance(store, FallbackStore) else None
        self.clients = ClientLimits(rate=config.client_rate, max_sockets=config.max_client_sockets,
                                    max_busy=1, redis_pool=pool,
                                    shared_ok=lambda: not isinstance(store, FallbackStore) or store.healthy,
                                    lag=self.lag)
        # Replies are computed here, off the event loop, so one long message does not stall every socket.
        self._pool = ThreadPoolExecutor(max_workers=max(1, config.turn_threads), thread_name_prefix="faqbot-turn")
        self._reload_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.kb_hash = content_hash(bot)
        self.callbacks: CallbackStore | None = None
        self.notifier: Notifier | None = None
        self._configure(bot)
        # Per process: a client spreading requests over several workers gets a few more, still bounded.
        self._callback_limits = parse_many(config.callback_rate)
        self._callback_limiter = MovingWindowRateLimiter(MemoryStorage())

    @property
    def knowledge_source(self) -> str | None:
        """Where reloads read from: the configured directory, else wherever the current KB came from."""
        return self.config.knowledge or self.bot.kb.path or None

    async def start(self) -> None:
        self.lag.start()
        if self.recorder is None and self.config.logging:
            self.recorder = _open_recorder(self.config)
            self._own_recorder = self.recorder is not None
        if self.config.callbacks and self.callbacks is None:
            self.callbacks = await asyncio.to_thread(
                CallbackStore, self.config.callbacks_db, retention_days=self.config.callback_retention_days)
            settings = notify_settings(self.config)
            if settings.enabled:
                self.notifier = Notifier(settings, store=self.callbacks)
        if isinstance(self.store, FallbackStore):
            await self.store.probe()
            self._spawn(self.store.watch())

    async def stop(self) -> None:
        self.lag.stop()
        for task in list(self._tasks):
            task.cancel()
        await self.store.close()
        self._pool.shutdown(wait=True, cancel_futures=False)
        if self.notifier is not None:
            await asyncio.to_thread(self.notifier.close)
        if self.callbacks is not None:
            await asyncio.to_thread(self.callbacks.close)
        if self._own_recorder and self.recorder is not None:
            await asyncio.to_thread(self.recorder.close)

    # --- the use case: one visitor turn -----------------------------------------------------------------

    async def open_session(self, asked: str | None, secret: str | None) -> Opened:
        """``asked``'s session if it is alive and ``secret`` opens it, else a fresh one.

        A wrong or missing secret gets a fresh session exactly as an unknown id does, so nobody can learn whether
        an id they hold is alive.
        """
        state = await self._opened(asked, secret)
        if state is not None and asked and secret:
            return Opened(asked, secret, state, True)
        fresh = new_secret()
        return Opened(new_id(), fresh, {KEY: seal(fresh)}, False)

    async def holds(self, session: str, secret: str) -> bool:
        """Whether ``session`` is alive and ``secret`` opens it (an unknown id and a wrong secret look the same)."""
        return await self._opened(session, secret) is not None

    async def _opened(self, session: str | None, secret: str | None) -> State | None:
        """The stored state of ``session`` if it is alive and ``secret`` opens it, else None."""
        state = await self.store.get(session) if session and valid_id(session) else None
        return state if state is not None and secret and opens(state, secret) else None

    async def turn(self, session: str, state: State, *, turn_id: str, channel: str, client: str,
                   text: str | None = None, pick: str | None = None) -> Turn:
        """Answer ``text`` (or the clarification option ``pick``), save the state, record the turn.

        The websocket and HTTP routes both come here, so they answer, store and log alike. ``client`` is the
        visitor's address, for the per-client share of the turn threads. Raises
        ``FrameError(UNKNOWN_ENTRY)`` for an option the KB no longer has.
        """
        bot = self.bot
        if pick is not None and not bot.kb.has(pick):
            raise FrameError(ErrorCode.UNKNOWN_ENTRY, id=turn_id)
        def answer() -> tuple[Reply, State]:
            conv = bot.conversation(state)
            reply = conv.pick(pick) if pick is not None else conv.ask(text or "")
            if conv.submitted is not None:
                reply = self._keep(conv.submitted, channel, reply)
            # Recorded here too (redaction costs regex passes over the text), with the option's question as
            # the text of a pick: what the visitor chose to ask. A callback step's text is never recorded.
            said = bot.kb.entry(pick).question if pick is not None else (text or "")
            self.record_turn(session, turn_id, CALLBACK_TEXT if conv.private else said, reply, channel)
            return reply, conv.state.to_dict()

        async with self.clients.busy(client):  # one turn at a time per address: others never queue behind it
            reply, new_state = await asyncio.get_running_loop().run_in_executor(self._pool, answer)
        new_state = _sealed(new_state, state)
        await self.store.set(session, new_state)
        return Turn(session, reply, new_state)

    async def submit_callback(self, session: str, state: State, fields: dict[str, Any], *, turn_id: str,
                              channel: str, client: str) -> CallbackOutcome:
        """A callback form (the widget's): validate, store, notify; the websocket and HTTP routes both come here."""
        bot = self.bot
        allowed = all([await self._callback_limiter.test(item, "callback", client) for item in self._callback_limits])
        for item in self._callback_limits if allowed else ():
            await self._callback_limiter.hit(item, "callback", client)
        if not allowed:
            return CallbackOutcome(None, {"form": "Too many requests from here; please call or text us instead."},
                                   state)

        def run() -> CallbackOutcome:
            conv = bot.conversation(state)
            try:
                request = conv.submit(fields, channel=channel)
            except CallbackRejected as exc:
                return CallbackOutcome(None, exc.errors, state)
            texts = bot.callbacks
            assert texts is not None
            reply = self._keep(request, channel, Reply(ReplyType.CALLBACK, texts.done, confidence=1.0))
            self.record_turn(session, turn_id, CALLBACK_TEXT, reply, channel)
            stored = reply.text == texts.done
            return CallbackOutcome(reply, {}, _sealed(conv.state.to_dict(), state), request.id if stored else None)

        outcome = await asyncio.get_running_loop().run_in_executor(self._pool, run)
        if outcome.reply is not None:
            await self.store.set(session, outcome.state)
        return outcome

    def callback_form(self, state: State) -> dict[str, Any] | None:
        """The form to show while ``state`` is taking a callback request, else None."""
        texts = self.bot.callbacks
        if texts is None or state.get("state") != "callback":
            return None
        from ..callback import Step, form

        try:
            step = Step(state.get("step"))
        except ValueError:
            return None
        return form(texts, step=step)

    def _configure(self, bot: Bot) -> None:
        """The server's callback settings on a bot (a reloaded one too)."""
        if not self.config.callbacks:
            bot.callbacks = None
        bot.region = self.config.callback_region

    def _keep(self, request: CallbackRequest, channel: str, reply: Reply) -> Reply:
        """Store a completed request and queue its notification; if it cannot be stored, say how to reach us."""
        texts = self.bot.callbacks
        request = replace(request, channel=channel)
        try:
            if self.callbacks is None:
                raise RuntimeError("callback requests are not stored on this server")
            self.callbacks.add(request)
        except Exception:
            log.exception("a callback request could not be stored")
            failed = texts.failed if texts is not None else self.bot.kb.settings.fallback
            return Reply(ReplyType.CALLBACK, failed, confidence=1.0)
        if self.notifier is not None:
            self.notifier.submit(request)  # its own thread: a slow mail server never holds a reply
        return reply

    def health(self) -> dict[str, Any]:
        """What ``/health`` shows: the KB served, the session store and the log's counters."""
        kb = self.bot.kb
        sessions = self.store.status if isinstance(self.store, FallbackStore) else "memory"
        info: dict[str, Any] = {"status": "ok" if sessions != "degraded" else "degraded",
                                "entries": len(kb.entries), "version": kb.version, "content": self.kb_hash,
                                "sessions": sessions}
        stats = getattr(self.recorder, "stats", None)
        if callable(stats):
            info["log"] = stats()
        if self.notifier is not None:
            info["notifications"] = self.notifier.stats()
        return info

    @property
    def ready(self) -> bool:
        """Whether a load balancer should send this process traffic: sessions are shared as configured."""
        return not (isinstance(self.store, FallbackStore) and not self.store.healthy)

    # --- reloads ------------------------------------------------------------------------------------------

    async def reload(self, *, force: bool = False) -> Bot:
        """Load the KB again and swap it in atomically; ``ReloadFailed`` leaves the old one serving.

        Unless ``force``, a KB that loses more than ``reload_max_loss`` of its entries, or of the passing cases
        of its answer suite, is refused: an emptied or half-saved file should not reach visitors.
        """
        async with self._reload_lock:
            source = self.knowledge_source
            try:
                bot = await asyncio.to_thread(Bot.load, source, encoder=self.config.encoder)
            except KnowledgeError as exc:
                log.error("knowledge reload rejected, still serving version %s:\n%s", self.bot.kb.version, exc)
                raise ReloadFailed(exc) from None
            if not force:
                problem = await asyncio.to_thread(_losses, self.bot, bot, self.config.reload_max_loss)
                if problem:
                    log.error("knowledge reload refused, still serving version %s: %s", self.bot.kb.version,
                              problem)
                    raise ReloadFailed(problem)
            self._configure(bot)
            previous, self.bot = self.bot, bot
            self.kb_hash = content_hash(bot)
            log.info("knowledge reloaded from %s: version %s -> %s, %d entries", source or "the bundled KB",
                     previous.kb.version, bot.kb.version, len(bot.kb.entries))
            return previous

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def restart_sibling_workers(self) -> bool:
        """Under ``run()`` with several workers, have uvicorn's supervisor restart them all on the new KB.

        Only after this worker validated it, so a broken KB never reaches the supervisor's restart.
        """
        if self.config.workers <= 1 or not hasattr(signal, "SIGHUP"):
            return False
        os.kill(os.getppid(), signal.SIGHUP)
        return True

    def reload_in_background(self) -> None:
        """For SIGHUP: reload without a caller to report to; failures are logged by ``reload``."""

        async def go() -> None:
            try:
                await self.reload()
            except ReloadFailed:
                pass

        self._spawn(go())

    def install_sighup(self) -> bool:
        """Reload on SIGHUP; only possible in the main thread of a process (not under a test's thread)."""
        if not hasattr(signal, "SIGHUP"):
            return False
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.reload_in_background)
        except (RuntimeError, ValueError, NotImplementedError):
            return False
        return True

    def remove_sighup(self) -> None:
        if hasattr(signal, "SIGHUP"):
            try:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            except (RuntimeError, ValueError, NotImplementedError):
                pass

    # --- recorder calls: never let logging break a reply -----------------------------------------------

    def record_turn(self, session: str, turn: str, text: str, reply: Any, channel: str) -> None:
        if self.recorder is None:
            return
        try:
            self.recorder.record_turn(session, turn, text, reply, channel)
        except Exception:
            log.warning("recorder failed to record a turn", exc_info=True)

    def record_feedback(self, session: str, turn: str, vote: str) -> None:
        if self.recorder is None:
            return
        try:
            self.recorder.record_feedback(session, turn, vote)
        except Exception:
            log.warning("recorder failed to record feedback", exc_info=True)


def _sealed(new: State, old: State) -> State:
    """``new`` conversation state with the secret's hash of ``old``: the core knows nothing of secrets."""
    if KEY in old:
        new[KEY] = old[KEY]
    return new


def content_hash(bot: Bot) -> str:
    """A hash of the KB's files (or of its entries when built in Python): changes whenever the content does."""
    digest = hashlib.sha256()
    root = Path(bot.kb.path) if bot.kb.path else None
    if root is not None and root.is_dir():
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in (".yaml", ".yml"):
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    else:
        for entry in bot.kb.entries:
            digest.update(repr(entry).encode("utf-8", "replace"))
    return digest.hexdigest()[:16]


def _losses(old: Bot, new: Bot, max_loss: float) -> str | None:
    """Why ``new`` loses too much against ``old``, or None."""
    before, after = len(old.kb.entries), len(new.kb.entries)
    if after < before * (1 - max_loss):
        return (f"the new knowledge base has {after} entries where {before} are served (more than "
                f"{max_loss:.0%} lost); if that is intended, reload with ?force=1")
    suite = Path(new.kb.path) / "tests.yaml" if new.kb.path else None
    if suite is None or not suite.is_file():
        return None
    from ..suite import load_suite, run_suite

    try:
        cases, conversations = load_suite(suite)
    except KnowledgeError as exc:
        return f"its answer suite does not load: {exc}"
    passed_before = sum(o.passed for o in run_suite(old, cases, conversations).outcomes)
    passed_after = sum(o.passed for o in run_suite(new, cases, conversations).outcomes)
    if passed_after < passed_before * (1 - max_loss):
        return (f"its answer suite passes {passed_after} cases where the served KB passes {passed_before} (more "
                f"than {max_loss:.0%} lost); fix the KB or reload with ?force=1")
    return None


def _open_recorder(config: Config) -> Any:
    path = config.log_db or DEFAULT_LOG_DB
    try:
        return Recorder(path, retention_days=config.retention_days)
    except Exception:
        log.warning("cannot open the conversation log %s; serving without logging", describe(path), exc_info=True)
        return None


def widget_dir(config: Config) -> Path:
    """The widget files: ``config.widget_dir``, else inside the installed package, else the checkout's ``widget/``."""
    if config.widget_dir:
        return Path(config.widget_dir)
    inside = Path(__file__).resolve().parent.parent / "widget"
    if inside.is_dir():
        return inside
    return Path(__file__).resolve().parent.parent.parent / "widget"


