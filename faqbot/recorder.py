"""The conversation log: every turn and vote, redacted, written to SQLite or PostgreSQL by a background thread.

Authors read it back with ``faqbot report`` (faqbot/report.py) to see what people asked that the bot could not
answer; the schemas and SQL live in faqbot/logstore.py and faqbot/logstore_pg.py. Callers only redact and queue;
one writer thread owns the database and commits in batches, so a reply never waits on the disk or the network.
When the database is away (locked, restarting, unreachable) the writer retries the batch with backoff while new
turns wait in a bounded queue; what overflows is counted as dropped, what the database refuses as failed.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import json
import logging
import queue
import re
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from . import logstore
from .exceptions import ConfigError
from .logstore import BUSY_TIMEOUT, SCHEMA_VERSION  # noqa: F401 - SCHEMA_VERSION: re-exported
from .models import Reply, ReplyType

log = logging.getLogger("faqbot.recorder")

MAX_TEXT = 2000
MAX_QUEUE = 10_000  # beyond this the writer is stuck; drop turns rather than grow without bound
BATCH = 500
PURGE_EVERY = 3600.0  # seconds between retention sweeps in a long-running writer
DAY = 86_400.0
RETRY_FIRST, RETRY_MAX = 0.05, 2.0  # seconds between attempts at a batch the database could not take
# Crisis messages are the most sensitive thing anyone types here; the log keeps only that one happened.
CRISIS_TEXT = "[crisis message not recorded]"
PLACEHOLDERS = ("[email]", "[phone]", "[number]", "[name]", "[address]", "[date]", "[record]", "[health status]")

# --- redaction ---------------------------------------------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+?1[ .-]?)?(?:\(\d{3}\) ?|\d{3}[ .-]?)\d{3}[ .-]?\d{4}(?!\w)"  # US: (425) 654-5433, +1 206...
    r"|(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d\)?){7,12}(?!\w)"  # international: +44 20 7946 0958
    r"|(?<![\w.-])\d{3}[.-]\d{4}(?![\w.-]?\d)"  # local: 654-5433
)
# Six or more digits, alone or split by single spaces, dots or dashes: ids, card, account and social security
# numbers, dates of birth. Short numbers ("2 sessions", "988", "2024") say something about the question.
_DIGITS = re.compile(r"\d(?:[ .-]?\d){5,}")
# "john dot smith at gmail dot com": spelled out to dodge filters, or by a careful visitor.
_TLD = r"(?:com|net|org|edu|gov|info|io|co|uk|us|ca|au|de|fr|es|it|nl|ie|nz|in)"
_SPELLED_EMAIL = re.compile(
    r"\b[\w+-]+(?:\s*(?:\bdot\b|\.)\s*[\w+-]+)*\s*(?:\(at\)|\[at\]|\bat\b)\s*[\w-]+"
    r"(?:\s*(?:\bdot\b|\.)\s*[\w-]+)*?\s*(?:\bdot\b|\.)\s*" + _TLD + r"\b", re.IGNORECASE)
# A name the visitor gives: after "my name is" (any case); after "I'm", "this is", "call me" only Capitalised.
_NAME = re.compile(r"\b((?:my name is|my name's|name is|i am called)\s+)[A-Za-z][\w'-]*(?:\s+[A-Z][\w'-]*)?",
                   re.IGNORECASE)
_INTRO = re.compile(r"\b((?:[Ii]'m|[Ii] am|[Tt]his is|[Cc]all me)\s+)[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?")
_ADDRESS = re.compile(r"\b\d{1,5}\s+(?:[A-Za-z]+\.?\s+){1,3}(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|"
                      r"drive|dr|court|ct|way|place|pl|terrace|crescent|close)\b\.?", re.IGNORECASE)
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = re.compile(r"\b\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})\b"
                   r"|\b" + _MONTH + r"\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}\b"
                   r"|\b\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r",?\s+\d{4}\b", re.IGNORECASE)
_RECORD = re.compile(r"\b((?:mrn|medical record(?: number| no\.?)?|record (?:number|no\.?|#)"
                     r"|patient (?:id|number|no\.?)|chart (?:number|no\.?))\s*(?:is\s+)?[:#]?\s*)[A-Z0-9][A-Z0-9-]{3,}\b", re.IGNORECASE)
_HEALTH = re.compile(r"\bhiv[\s-]*(?:positive|negative|pos|neg|\+|-)(?!\w)", re.IGNORECASE)


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """``text`` as valid UTF-8: lone surrogates (which JSON escapes can carry) become U+FFFD, not a crash."""
    return _SURROGATE.sub("\ufffd", text)


def redact(text: str) -> str:
    """``text`` with personal data replaced by placeholders (``PLACEHOLDERS``).

    Emails (also spelled out), phone numbers, runs of 6+ digits, record numbers, full dates, street addresses,
    names given ("my name is ...", "I'm Jane"), HIV status. Patterns, not a model: they miss some, and the log
    is kept for ``retention_days`` only.
    """
    text = _EMAIL.sub("[email]", text)
    text = _SPELLED_EMAIL.sub("[email]", text)
    text = _RECORD.sub(r"\1[record]", text)
    text = _DATE.sub("[date]", text)
    text = _ADDRESS.sub("[address]", text)
    text = _PHONE.sub("[phone]", text)
    text = _DIGITS.sub("[number]", text)
    text = _NAME.sub(r"\1[name]", text)
    text = _INTRO.sub(r"\1[name]", text)
    return _HEALTH.sub("[health status]", text)


# --- the recorder ------------------------------------------------------------------------------------

_Item = tuple[str, tuple[Any, ...]] | tuple[str, threading.Event] | tuple[str, None]


class Recorder:
    """Records turns and votes to a SQLite file, or to PostgreSQL when ``path`` is a ``postgresql://`` URL;
    ``enabled=False`` makes every call a no-op and creates nothing."""

    def __init__(self, path: str | Path, *, enabled: bool = True, retention_days: int = 90) -> None:
        if retention_days < 1:
            raise ConfigError(f"retention_days={retention_days}: keep logs at least 1 day, or turn logging off "
                              "(--no-log, FAQBOT_LOGGING=off) to keep nothing")
        # A URL stays a string (readers such as /admin/report open it again); a file is a Path.
        self.path: str | Path | None = None if not enabled else path if logstore.is_url(path) else Path(path)
        self.retention_days = retention_days
        self._queue: queue.Queue[_Item] = queue.Queue(MAX_QUEUE)
        self._lock = threading.Lock()
        self._closed = self.path is None
        self._counts = {"written": 0, "dropped": 0, "failed": 0}
        self._count_lock = threading.Lock()
        self._give_up = float("inf")  # monotonic time after which close() stops retrying a failed batch
        self._thread: threading.Thread | None = None
        if self.path is None:
            return
        self._store = logstore.open_writer(self.path)
        self._key = self._store.session_key()
        self._thread = threading.Thread(target=self._run, name="faqbot-recorder", daemon=True)
        self._thread.start()
        # A daemon writer keeps a forgotten close() from hanging exit; this still commits what is queued.
        atexit.register(self.close)

    @property
    def enabled(self) -> bool:
        return self.path is not None

    @property
    def written(self) -> int:
        """Turns and votes committed to the log so far."""
        return self._counts["written"]

    @property
    def dropped(self) -> int:
        """Turns and votes never queued because the queue was full (the database away for too long)."""
        return self._counts["dropped"]

    @property
    def failed(self) -> int:
        """Turns and votes the database refused, or still unwritten when ``close`` gave up waiting for it."""
        return self._counts["failed"]

    def stats(self) -> dict[str, int]:
        """The counters, and how many items wait in the queue."""
        return {**self._counts, "queued": self._queue.qsize()}

    def record_turn(self, session: str, turn: str, text: str, reply: Reply, channel: str = "python") -> None:
        """Queue one turn: what was asked (redacted) and what kind of reply it got. Never blocks."""
        if self._closed:
            return
        kind = ReplyType(reply.type)
        options = json.dumps([o.entry for o in reply.options]) if reply.options else None
        shown = CRISIS_TEXT if kind is ReplyType.CRISIS else redact(_clean(text))[:MAX_TEXT]
        # The frame id is the client's choice too, so it could carry anything a message can.
        row = (time.time(), self._pseudonym(session), redact(_clean(turn))[:128], _clean(channel)[:16],
               shown, kind.value, reply.entry, float(reply.confidence), options)
        self._put(("turn", row))

    def record_feedback(self, session: str, turn: str, vote: str) -> None:
        """Queue a thumbs ``"up"`` or ``"down"`` on the turn ``turn`` of ``session``. Never blocks."""
        value = getattr(vote, "value", vote)
        if value not in ("up", "down"):
            raise ValueError(f"vote must be 'up' or 'down', not {vote!r}")
        if self._closed:
            return
        self._put(("vote", (time.time(), self._pseudonym(session), redact(_clean(turn))[:128], value)))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is committed; False if that took longer than ``timeout``."""
        if self._closed or self._thread is None:
            return True
        done = threading.Event()
        try:
            self._queue.put(("flush", done), timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def close(self) -> None:
        """Commit what is queued and stop the writer; later calls to ``record_*`` are ignored."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        atexit.unregister(self.close)
        self._give_up = time.monotonic() + BUSY_TIMEOUT
        if self._thread is not None:
            try:
                self._queue.put(("stop", None), timeout=BUSY_TIMEOUT)
            except queue.Full:
                log.warning("conversation log writer is stuck; closing without its last turns")
            self._thread.join(timeout=2 * BUSY_TIMEOUT)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Recorder({logstore.describe(self.path)!r})" if self.path else "Recorder(enabled=False)"

    # --- internals -----------------------------------------------------------------------------------

    def _pseudonym(self, session: str) -> str:
        # Keyed, so the log cannot be used to resume a live conversation or be joined with another deployment's.
        return hmac.new(self._key, session.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:32]

    def _put(self, item: _Item) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            dropped = self._count("dropped", 1)
            if dropped == 1 or dropped % 1000 == 0:
                log.warning("conversation log queue full (%d items); %d turns dropped so far", MAX_QUEUE, dropped)

    def _count(self, name: str, n: int) -> int:
        with self._count_lock:
            self._counts[name] += n
            return self._counts[name]

    def _run(self) -> None:
        next_purge = 0.0  # at once: rows past retention go when the log opens
        stop = False
        while not stop:
            try:
                first: _Item | None = self._queue.get(timeout=max(0.0, next_purge - time.monotonic()))
            except queue.Empty:
                first = None
            if time.monotonic() >= next_purge:
                self._purge()
                next_purge = time.monotonic() + PURGE_EVERY
            if first is None:
                continue
            batch = [first]
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                stop = self._write(batch)
            except Exception:  # the writer must outlive anything a batch can do
                log.exception("conversation log writer: unexpected error; %d items lost", len(batch))
                self._count("failed", sum(1 for kind, _ in batch if kind in ("turn", "vote")))
                stop = any(kind == "stop" for kind, _ in batch)
        try:
            self._store.close()
        except Exception:
            log.warning("could not close the conversation log cleanly", exc_info=True)

    def _write(self, batch: list[_Item]) -> bool:
        turns: list[tuple[Any, ...]] = []
        votes: list[tuple[Any, ...]] = []
        waiters: list[threading.Event] = []
        stop = False
        for kind, payload in batch:
            if kind == "turn" and isinstance(payload, tuple):
                turns.append(payload)
            elif kind == "vote" and isinstance(payload, tuple):
                votes.append(payload)
            elif kind == "flush" and isinstance(payload, threading.Event):
                waiters.append(payload)
            elif kind == "stop":
                stop = True
        if turns or votes:
            self._insert(turns, votes)
        for waiter in waiters:
            waiter.set()
        return stop

    def _insert(self, turns: list[tuple[Any, ...]], votes: list[tuple[Any, ...]]) -> None:
        """One transaction per batch; retried while the database is away, row by row when it refuses one."""
        delay, outage = RETRY_FIRST, False
        while True:
            try:
                self._reopen_if_deleted()
                self._store.insert(turns, votes)
            except Exception as exc:
                if not self._store.transient(exc):
                    log.warning("the conversation log refused a batch (%s); writing its rows one by one", exc)
                    self._one_by_one(turns, votes)
                    return
                if time.monotonic() >= self._give_up:
                    self._count("failed", len(turns) + len(votes))
                    log.warning("closing with the conversation log at %s unreachable; %d turns and %d votes lost",
                                self._store.source, len(turns), len(votes))
                    return
                if not outage:
                    outage = True
                    why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    log.warning("cannot write to the conversation log at %s (%s); retrying, new turns queue up "
                                "to %d", self._store.source, why, MAX_QUEUE)
                time.sleep(min(delay, max(0.0, self._give_up - time.monotonic())))
                delay = min(delay * 2, RETRY_MAX)
                continue
            self._count("written", len(turns) + len(votes))
            if outage:
                log.warning("conversation log at %s reachable again", self._store.source)
            return

    def _reopen_if_deleted(self) -> None:
        # Someone removed the log file (logrotate, a cleanup script): start a fresh one rather than write into
        # an unlinked file nobody can read. (A PostgreSQL log has no file to lose.)
        if not isinstance(self.path, Path) or self.path.exists():
            return
        log.warning("conversation log %s was deleted; starting a new one", self.path)
        try:
            self._store.close()
        except Exception:
            pass
        self._store = logstore.open_writer(self.path)
        self._key = self._store.session_key()

    def _one_by_one(self, turns: list[tuple[Any, ...]], votes: list[tuple[Any, ...]]) -> None:
        singles: list[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]] = [([t], []) for t in turns]
        singles += [([], [v]) for v in votes]
        for one_turn, one_vote in singles:
            try:
                self._store.insert(one_turn, one_vote)
            except Exception:
                self._count("failed", 1)
                log.warning("conversation log: a row was refused and is lost", exc_info=True)
            else:
                self._count("written", 1)

    def _purge(self) -> None:
        cutoff = time.time() - self.retention_days * DAY
        try:
            gone = self._store.purge(cutoff)
        except Exception:
            log.warning("could not delete old rows from %s", self._store.source, exc_info=True)
            return
        if gone:
            log.info("conversation log: deleted %d rows older than %d days", gone, self.retention_days)


def _clean(value: object) -> str:
    # PostgreSQL text cannot hold NUL; nothing a visitor means is lost by removing it.
    return clean(str(value)).replace("\x00", "")
