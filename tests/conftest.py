"""Shared fixtures: a real faqbot server (uvicorn in a subprocess) on a free loopback port.

``live_server(knowledge=..., **config)`` starts one and returns a ``LiveServer`` with ``url`` / ``ws_url``,
``stop()``, ``start()`` (same port), ``restart()``, ``sighup()`` and ``log()``. Servers run ``faqbot.server.run``
exactly as ``faqbot serve`` does, so signals, uvicorn and the websockets protocol are the real ones.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from faqbot.config import Config

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """One ``faqbot`` server process; ``stop`` and ``start`` keep the port so clients can reconnect."""

    def __init__(self, config: Config, log_path: Path) -> None:
        self.config = config
        self.port = config.port
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> LiveServer:
        from faqbot.server.run import config_env

        env = {k: v for k, v in os.environ.items() if not k.startswith("FAQBOT_")}
        env.update(config_env(self.config))
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
        code = "import os; from faqbot.config import Config; from faqbot.server import run; " \
               "run(Config.from_env(os.environ))"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=str(self.log_path.parent),
                                            stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not start within {START_TIMEOUT}s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.process = None
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None

    def restart(self) -> LiveServer:
        self.stop()
        return self.start()

    def sighup(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""


ServerFactory = Callable[..., LiveServer]

# A tiny KB whose behaviour the server tests rely on: a follow-up pair, a clarification (two entries share the
# phrasing 'how long', so it is ambiguous whatever the engine's weights), a plain answer.
SMALL_KB = """\
settings:
  name: Test clinic assistant
  version: "test-1"
  greeting: Hello from the test clinic.
  fallback: Sorry, I don't know that one.
  suggestions: ["How do I book a consultation?"]
entries:
  - id: alcohol
    question: Does ketamine therapy help with alcohol addiction?
    answer: Studies show fewer heavy drinking days.
    phrasings: [ketamine for alcoholism, does it work for drinking problems]
    related: [opioids]
  - id: opioids
    question: Does ketamine therapy help with opioid addiction?
    answer: It can ease opioid withdrawal and cravings.
    phrasings: [ketamine for opioid use disorder, does it work for heroin]
    related: [alcohol]
  - id: booking
    question: How do I book a consultation?
    answer: Call us to book a free consultation.
    phrasings: [book an appointment, schedule a visit]
  - id: session-length
    question: How long does a session last?
    answer: About an hour.
    phrasings: [how long]
  - id: effects-length
    question: How long do the effects last?
    answer: Several weeks.
    phrasings: [how long]
"""


@pytest.fixture(scope="session")
def make_kb(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Write ``SMALL_KB`` (or ``text``) into a fresh directory and return it."""

    def write(text: str = SMALL_KB) -> Path:
        root = tmp_path_factory.mktemp("kb")
        (root / "faq.yaml").write_text(text, encoding="utf-8")
        return root

    return write


def _factory(base: Path) -> tuple[ServerFactory, list[LiveServer]]:
    servers: list[LiveServer] = []

    def make(knowledge: str | Path | None = None, *, port: int | None = None, **overrides: Any) -> LiveServer:
        """Start a server; config fields as keywords. Logging is off unless ``logging=True`` is passed, and the
        per-client limits are lifted unless ``client_rate`` / ``max_client_sockets`` are passed."""
        settings: dict[str, Any] = {"logging": False, "log_level": "info", "log_db": str(base / "log.sqlite3"),
                                    # Every test client comes from 127.0.0.1: the per-client limits are for
                                    # real machines; tests of those limits set them.
                                    "client_rate": "100000 per second", "max_client_sockets": 10_000}
        settings.update(overrides)
        config = Config(host="127.0.0.1", port=port or free_port(),
                        knowledge=str(knowledge) if knowledge else None, **settings)
        server = LiveServer(config, base / f"server-{config.port}.log")
        servers.append(server)
        return server.start()

    return make, servers


@pytest.fixture
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """A factory of real servers, all stopped when the test ends."""
    make, servers = _factory(tmp_path_factory.mktemp("server"))
    yield make
    for s in servers:
        s.stop()


@pytest.fixture(scope="module")
def module_live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """The same factory for servers shared by a whole test module."""
    make, servers = _factory(tmp_path_factory.mktemp("server"))
    yield make
    for s in servers:
        s.stop()


# --- Chromium for the widget and dashboard tests ---------------------------------------------------------

CHROMIUM = os.environ.get("FAQBOT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def pw() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(pw: Any) -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (its own browser download is not used)."""
    import shutil

    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: apt-get install chromium (or set FAQBOT_CHROMIUM)",
                    pytrace=False)
    b = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", *CHROMIUM_ARGS])
    yield b
    b.close()
