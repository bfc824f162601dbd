"""What a running server shares between requests: config, the current bot, the session store, the recorder."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path
from typing import Any

from ..bot import Bot
from ..config import DEFAULT_LOG_DB, Config
from ..exceptions import KnowledgeError, KnowledgeErrors
from ..limits import Slots
from ..recorder import Recorder
from ..sessions import SessionStore, open_store

log = logging.getLogger("faqbot.server")



class ReloadFailed(Exception):
    """The new knowledge base did not validate; the old one keeps serving."""

    def __init__(self, error: KnowledgeError) -> None:
        super().__init__(str(error))
        self.error = error

    def details(self) -> list[dict[str, Any]]:
        errors = self.error.errors if isinstance(self.error, KnowledgeErrors) else [self.error]
        return [{"file": e.file, "line": e.line, "field": e.field, "message": str(e)} for e in errors]


class Runtime:
    """The state of one server process. ``bot`` is swapped whole on reload; conversations keep only state dicts."""

    def __init__(self, config: Config, bot: Bot, *, recorder: Any = None) -> None:
        self.config = config
        self.bot = bot
        self.store: SessionStore = open_store(config.sessions, ttl=config.session_ttl,
                                              max_sessions=config.max_sessions)
        self.recorder = recorder
        self._own_recorder = False
        self.connections = Slots(config.max_connections)
        self._reload_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def knowledge_source(self) -> str | None:
        """Where reloads read from: the configured directory, else wherever the current KB came from."""
        return self.config.knowledge or self.bot.kb.path or None

    async def start(self) -> None:
        if self.recorder is None and self.config.logging:
            self.recorder = _open_recorder(self.config)
            self._own_recorder = self.recorder is not None

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.store.close()
        if self._own_recorder and self.recorder is not None:
            await asyncio.to_thread(self.recorder.close)

    async def reload(self) -> Bot:
        """Load the KB again and swap it in atomically; ``ReloadFailed`` leaves the old one serving."""
        async with self._reload_lock:
            source = self.knowledge_source
            try:
                bot = await asyncio.to_thread(Bot.load, source, encoder=self.config.encoder)
            except KnowledgeError as exc:
                log.error("knowledge reload rejected, still serving version %s:\n%s", self.bot.kb.version, exc)
                raise ReloadFailed(exc) from None
            previous, self.bot = self.bot, bot
            log.info("knowledge reloaded from %s: version %s -> %s, %d entries", source or "the bundled KB",
                     previous.kb.version, bot.kb.version, len(bot.kb.entries))
            return previous

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

        task = asyncio.get_running_loop().create_task(go())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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


def _open_recorder(config: Config) -> Any:
    path = config.log_db or DEFAULT_LOG_DB
    try:
        return Recorder(path, retention_days=config.retention_days)
    except Exception:
        log.warning("cannot open the conversation log %s; serving without logging", path, exc_info=True)
        return None


def widget_dir(config: Config) -> Path:
    """The widget files: ``config.widget_dir``, else inside the installed package, else the checkout's ``widget/``."""
    if config.widget_dir:
        return Path(config.widget_dir)
    inside = Path(__file__).resolve().parent.parent / "widget"
    if inside.is_dir():
        return inside
    return Path(__file__).resolve().parent.parent.parent / "widget"


