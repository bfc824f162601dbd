"""Websocket load: N concurrent clients x M messages against the real faqbot server and a bare echo server.

Both servers run as their own single process on loopback, started here; the clients run in this process.
Each client connects, waits for the welcome (faqbot) or nothing (echo), then all send their M messages one
at a time, each waiting for its answer. Reported: connections made, replies lost (missing, wrong id or an
error frame), throughput of the message phase, p50/p99 round trip, and faqbot's throughput as a share of
echo's. Results go to bench/results/load.json.

    python -m bench.load                      # 1000 clients x 5 messages
    python -m bench.load --clients 200 --messages 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from faqbot.logstore import describe

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "load.json"
QUESTIONS = [
    "What is ketamine therapy?",
    "does ketamine work for alcohol addiction?",
    "what about opioids?",
    "is ketamin adictive?",
    "how do I book a free consultation?",
    "how long does it take to work",
    "hello",
    "can ketamine cure addiction?",
]
REPLY_TIMEOUT = 60.0


@dataclass
class Result:
    target: str
    clients: int
    messages: int
    connected: int = 0
    replies: int = 0
    lost: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    connect_seconds: float = 0.0
    seconds: float = 0.0
    throughput: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65_536
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on port {port} after {timeout}s")


@contextlib.contextmanager
def process(args: list[str], port: int, env: dict[str, str] | None = None,
            cpus: set[int] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``python args`` until the block ends; ``cpus`` pins it (every thread it will start) to those cores."""
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
                **(env or {})}

    def setup() -> None:
        raise_fd_limit()
        if cpus:
            os.sched_setaffinity(0, cpus)

    proc = subprocess.Popen([sys.executable, *args], env=full_env, cwd=REPO, preexec_fn=setup)
    try:
        wait_port(port, proc)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# Every simulated visitor of this benchmark comes from 127.0.0.1: lift the per-client caps meant for one real
# machine (the per-connection limits stay as configured).
ONE_ADDRESS_MANY_VISITORS = {"FAQBOT_MAX_CLIENT_SOCKETS": "100000", "FAQBOT_CLIENT_RATE": "1000000 per second"}


def faqbot_server(port: int, *, logging: bool, log_db: str, knowledge: str | None = None,
                  env: dict[str, str] | None = None, cpus: set[int] | None = None
                  ) -> contextlib.AbstractContextManager[Any]:
    """The real server with its default config (limits included), as ``faqbot serve`` runs it; ``env`` on top."""
    env = {"FAQBOT_PORT": str(port), "FAQBOT_LOG_LEVEL": "warning", "FAQBOT_LOGGING": "on" if logging else "off",
           "FAQBOT_LOG_DB": log_db, **({"FAQBOT_KNOWLEDGE": knowledge} if knowledge else {}), **(env or {})}
    code = "import os; from faqbot.config import Config; from faqbot.server import run; run(Config.from_env(os.environ))"
    return process(["-c", code], port, env, cpus)


def echo_server(port: int) -> contextlib.AbstractContextManager[Any]:
    return process(["-m", "bench.load", "--serve-echo", str(port)], port)


async def serve_echo(port: int) -> None:
    """A bare websockets echo server: the ceiling for a Python websocket server on this machine."""
    from websockets.asyncio.server import serve

    async def echo(ws: Any) -> None:
        async for message in ws:
            await ws.send(message)

    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    # Same wire settings as the faqbot server: no per-message compression.
    async with serve(echo, "127.0.0.1", port, backlog=4096, compression=None):
        await stop


async def load(url: str, target: str, clients: int, messages: int, *, welcome: bool) -> Result:
    from websockets.asyncio.client import connect

    result = Result(target=target, clients=clients, messages=messages)
    latencies: list[float] = []
    connect_gate = asyncio.Semaphore(200)  # many at once, not a SYN flood
    ready = asyncio.Event()
    connected = 0

    async def client(n: int) -> None:
        nonlocal connected
        try:
            async with connect_gate:
                ws = await connect(url, open_timeout=60, ping_interval=None, close_timeout=5, max_size=2**20)
                if welcome:
                    first = json.loads(await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT))
                    assert first["type"] == "welcome", first
        except Exception as exc:  # noqa: BLE001 - a failed connection is a measured outcome
            result.errors[f"connect: {type(exc).__name__}"] = result.errors.get(f"connect: {type(exc).__name__}",
                                                                                0) + 1
            result.lost += messages
            return
        connected += 1
        if connected == clients:
            ready.set()
        try:
            await ready.wait()
            for i in range(messages):
                frame_id = f"c{n}-{i}"
                text = json.dumps({"type": "message", "id": frame_id, "text": QUESTIONS[(n + i) % len(QUESTIONS)]})
                start = time.perf_counter()
                await ws.send(text)
                try:
                    answer = json.loads(await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT))
                except Exception as exc:  # noqa: BLE001
                    key = f"recv: {type(exc).__name__}"
                    result.errors[key] = result.errors.get(key, 0) + 1
                    result.lost += messages - i
                    return
                latencies.append(time.perf_counter() - start)
                ok = answer.get("id") == frame_id and answer.get("type") in ("reply", "message")
                if ok:
                    result.replies += 1
                else:
                    result.lost += 1
                    key = f"frame: {answer.get('code') or answer.get('type')}"
                    result.errors[key] = result.errors.get(key, 0) + 1
        finally:
            await ws.close()

    started = time.perf_counter()
    tasks = [asyncio.create_task(client(n)) for n in range(clients)]

    async def all_connected() -> None:
        while connected + sum(result.errors.get(k, 0) for k in result.errors if k.startswith("connect")) < clients:
            await asyncio.sleep(0.01)
        ready.set()

    await all_connected()
    phase = time.perf_counter()
    result.connect_seconds = round(phase - started, 3)
    await asyncio.gather(*tasks)
    result.seconds = round(time.perf_counter() - phase, 3)
    result.connected = connected
    result.throughput = round(result.replies / result.seconds, 1) if result.seconds else 0.0
    if latencies:
        latencies.sort()
        result.p50_ms = round(statistics.median(latencies) * 1000, 2)
        result.p99_ms = round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2)
        result.max_ms = round(latencies[-1] * 1000, 2)
    return result


def _run(coro: Any) -> Any:
    """Clients on uvloop when available, so the client side is not the bottleneck it measures."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def _median(results: list[Result]) -> Result:
    return sorted(results, key=lambda r: r.throughput)[len(results) // 2]


def table(results: list[Result], ratio: float, rounds: int) -> str:
    head = f"{'target':<8} {'clients':>7} {'msgs':>5} {'conn':>6} {'replies':>8} {'lost':>5} {'seconds':>8} " \
           f"{'msg/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    rows = [head, "-" * len(head)]
    for r in results:
        rows.append(f"{r.target:<8} {r.clients:>7} {r.messages:>5} {r.connected:>6} {r.replies:>8} {r.lost:>5} "
                    f"{r.seconds:>8.2f} {r.throughput:>9.1f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.max_ms:>8.2f}")
    rows.append(f"faqbot throughput = {ratio:.0%} of the bare echo server's (median of {rounds} "
                "run(s) per target shown)")
    return "\n".join(rows)


def versions() -> dict[str, str]:
    import uvicorn
    import websockets

    from faqbot.server.run import WS_IMPL

    return {"python": platform.python_version(), "uvicorn": uvicorn.__version__,
            "websockets": websockets.__version__, "uvicorn_ws": WS_IMPL}


def logged_turns(log_db: str) -> int:
    from contextlib import closing

    from faqbot.logstore import open_readonly

    with closing(open_readonly(log_db)) as db:
        return sum(day["turns"] for day in db.day_counts(0.0).values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="runs per target; the median-throughput run is "
                        "reported (default 3)")
    parser.add_argument("--logging", action="store_true", help="record turns in a throwaway SQLite log (issue 8)")
    parser.add_argument("--log-db", help="record turns to this log instead (an empty PostgreSQL database's "
                        "postgresql:// URL, issue 19); implies --logging")
    parser.add_argument("--output", default=str(RESULTS))
    parser.add_argument("--knowledge", help="knowledge directory (default: the bundled KB)")
    parser.add_argument("--serve-echo", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_echo:
        asyncio.run(serve_echo(args.serve_echo))
        return 0
    limit = raise_fd_limit()
    if limit < 2 * args.clients + 100:
        print(f"warning: open-file limit {limit} is low for {args.clients} clients", file=sys.stderr)

    rounds: dict[str, list[Result]] = {"faqbot": [], "echo": []}
    with tempfile.TemporaryDirectory() as tmp:
        faq_port, echo_port = free_port(), free_port()
        urls = {"faqbot": f"ws://127.0.0.1:{faq_port}/ws", "echo": f"ws://127.0.0.1:{echo_port}/"}
        logging = args.logging or bool(args.log_db)
        log_db = args.log_db or str(Path(tmp) / "log.sqlite3")
        with faqbot_server(faq_port, logging=logging, log_db=log_db,
                           knowledge=args.knowledge, env=ONE_ADDRESS_MANY_VISITORS), echo_server(echo_port):
            for n in range(args.rounds):
                # Alternate the order so neither target always runs on a warmer or quieter machine.
                for target in (("faqbot", "echo") if n % 2 == 0 else ("echo", "faqbot")):
                    rounds[target].append(_run(load(urls[target], target, args.clients, args.messages,
                                                    welcome=target == "faqbot")))
        logged = logged_turns(log_db) if logging else None  # the server has stopped: its writer has committed
    results = [_median(rounds["faqbot"]), _median(rounds["echo"])]
    faq, echo = results
    ratio = faq.throughput / echo.throughput if echo.throughput else 0.0
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), **versions()},
        "command": "python -m bench.load " + " ".join(argv if argv is not None else sys.argv[1:]),
        "logging": logging,
        "log": describe(log_db) if logging else None,
        "turns_answered": sum(r.replies for r in rounds["faqbot"]) if logging else None,
        "turns_logged": logged,
        "results": [asdict(r) for r in results],
        "rounds": {k: [asdict(r) for r in v] for k, v in rounds.items()},
        "ratio": round(ratio, 3),
        "targets": {"no_lost_reply": all(r.lost == 0 and r.connected == args.clients for r in rounds["faqbot"]),
                    "ratio_at_least_0.5": ratio >= 0.5},
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(table(results, ratio, args.rounds))
    for r in results:
        if r.errors:
            print(f"{r.target} errors: {r.errors}")
    if logging:
        print(f"conversation log {report['log']}: {logged} turns logged of {report['turns_answered']} answered")
    print(f"written to {out}")
    return 0 if all(report["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
