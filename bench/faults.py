"""Faults under traffic: Redis killed or frozen, the server stopped (SIGTERM) or killed (SIGKILL), a soak (issue 15).

A real faqbot server and a real redis-server run on loopback; simulated visitors (websocket clients, one
question every 0.5 s each, every fifth one a crisis message) keep asking while the fault happens.

- ``redis-kill`` / ``redis-freeze``: after 5 s Redis is killed (or SIGSTOPped); after 12 s it is back. Reported:
  replies lost, crisis replies delivered, seconds until ``/ready`` turned 503 and back to 200, slowest reply.
- ``log-sigterm`` / ``log-sigkill``: 32 workers post to ``/api/ask`` as fast as they are answered for a while,
  then the server gets SIGTERM (or SIGKILL). Reported: answered turns against rows in the conversation log.
- ``soak``: visitors for ``--soak-seconds`` with one Redis restart and one KB reload on the way; reports lost
  replies and, after SIGTERM, lost log rows.

Goals: 0 lost replies, every crisis reply delivered, readiness red within 2 s; 0 log rows lost on SIGTERM.
Results go to bench/results/faults.json.

    python -m bench.faults
    python -m bench.faults --scenarios soak --clients 1000 --soak-seconds 600
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

from .load import ONE_ADDRESS_MANY_VISITORS, QUESTIONS, faqbot_server, free_port, raise_fd_limit

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "faults.json"
CRISIS = "I want to kill myself"
TOKEN = "bench-admin-token"
SCENARIOS = ("redis-kill", "redis-freeze", "log-sigterm", "log-sigkill", "soak")


class Redis:
    def __init__(self, workdir: str) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", self.workdir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()


class Traffic:
    """Websocket visitors asking until told to stop; counts what came back."""

    def __init__(self, port: int, clients: int) -> None:
        self.port = port
        self.clients = clients
        self.counts: Counter[str] = Counter()
        self.slowest_ms = 0.0
        self.stop = asyncio.Event()

    async def run(self) -> None:
        await asyncio.gather(*(self._one(i) for i in range(self.clients)))

    async def _one(self, i: int) -> None:
        import websockets

        await asyncio.sleep(i * 0.5 / self.clients)
        try:
            ws = await websockets.connect(f"ws://127.0.0.1:{self.port}/ws", open_timeout=20, max_queue=None)
            await ws.recv()
        except Exception as exc:
            self.counts["connect failed: " + type(exc).__name__] += 1
            return
        n = 0
        while not self.stop.is_set():
            crisis = n % 5 == 4
            text = CRISIS if crisis else QUESTIONS[(i + n) % len(QUESTIONS)]
            start = time.perf_counter()
            try:
                await ws.send(json.dumps({"type": "message", "id": f"q{n}", "text": text}))
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                self.slowest_ms = max(self.slowest_ms, (time.perf_counter() - start) * 1000)
                if frame.get("type") == "reply" and frame.get("id") == f"q{n}":
                    self.counts["replies"] += 1
                    if crisis:
                        self.counts["crisis asked"] += 1
                        self.counts["crisis delivered"] += frame["reply"]["type"] == "crisis"
                else:
                    self.counts["lost: " + str(frame.get("code", frame.get("type")))] += 1
                    self.counts["crisis asked"] += crisis
            except Exception as exc:
                self.counts["lost: " + type(exc).__name__] += 1
                self.counts["crisis asked"] += crisis
                break
            n += 1
            await asyncio.sleep(0.5)
        await ws.close()

    @property
    def lost(self) -> int:
        return sum(v for k, v in self.counts.items() if k.startswith("lost"))


async def ready_status(port: int) -> int:
    import httpx

    async with httpx.AsyncClient(timeout=2) as client:
        try:
            return (await client.get(f"http://127.0.0.1:{port}/ready")).status_code
        except httpx.HTTPError:
            return 0


async def wait_ready(port: int, status: int, limit: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if await ready_status(port) == status:
            return round(time.monotonic() - start, 2)
        await asyncio.sleep(0.05)
    return None


def redis_fault(kind: str, clients: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        redis = Redis(tmp)
        redis.start()
        port = free_port()
        env = {**ONE_ADDRESS_MANY_VISITORS, "FAQBOT_SESSIONS": redis.url}
        try:
            with faqbot_server(port, logging=True, log_db=f"{tmp}/log.sqlite3", env=env):
                result = asyncio.run(_redis_fault(kind, port, redis, clients))
        finally:
            redis.stop()
    return result


async def _redis_fault(kind: str, port: int, redis: Redis, clients: int) -> dict[str, Any]:
    traffic = Traffic(port, clients)
    task = asyncio.create_task(traffic.run())
    await asyncio.sleep(5)
    if kind == "kill":
        redis.kill()
    else:
        redis.signal(signal.SIGSTOP)
    red = await wait_ready(port, 503, 10)
    await asyncio.sleep(max(0.0, 7 - (red or 0)))
    if kind == "kill":
        redis.start()
    else:
        redis.signal(signal.SIGCONT)
    green = await wait_ready(port, 200, 15)
    await asyncio.sleep(5)
    traffic.stop.set()
    await task
    return {"scenario": f"redis-{kind}", "clients": clients, **traffic.counts, "lost": traffic.lost,
            "ready_red_after_s": red, "ready_green_after_s": green, "slowest_reply_ms": round(traffic.slowest_ms)}


def log_stop(sig: int, seconds: float) -> dict[str, Any]:
    """Flood /api/ask and, in the middle of it, stop the server with ``sig``; answered turns against logged rows."""
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "log.sqlite3"
        port = free_port()
        stats: dict[str, Any] = {}
        with faqbot_server(port, logging=True, log_db=str(db), env=ONE_ADDRESS_MANY_VISITORS) as proc:
            async def flood() -> int:
                done = 0
                stopped = asyncio.Event()
                async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=32)) as client:
                    async def worker(w: int) -> None:
                        nonlocal done
                        n = 0
                        while not stopped.is_set():
                            try:
                                r = await client.post(f"http://127.0.0.1:{port}/api/ask",
                                                      json={"text": QUESTIONS[(w + n) % len(QUESTIONS)]})
                            except httpx.HTTPError:
                                return
                            done += r.status_code == 200
                            n += 1

                    async def stop() -> None:
                        nonlocal stats
                        await asyncio.sleep(seconds)
                        stats = (await client.get(f"http://127.0.0.1:{port}/health")).json().get("log", {})
                        proc.send_signal(sig)  # while the workers are still asking
                        await asyncio.sleep(1.0)
                        stopped.set()

                    await asyncio.gather(stop(), *(worker(w) for w in range(32)))
                return done

            answered = asyncio.run(flood())
            proc.wait(timeout=30)
        with closing(sqlite3.connect(db)) as con:
            rows = con.execute("SELECT count(*) FROM turns").fetchone()[0]
    name = "log-sigterm" if sig == signal.SIGTERM else "log-sigkill"
    return {"scenario": name, "seconds": seconds, "answered": answered, "rows": rows, "lost_rows": answered - rows,
            "log_stats_just_before_signal": stats}


def soak(clients: int, seconds: float) -> dict[str, Any]:
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        kb = Path(tmp) / "kb"
        shutil.copytree(REPO / "knowledge", kb)
        redis = Redis(tmp)
        redis.start()
        port = free_port()
        db = Path(tmp) / "log.sqlite3"
        env = {**ONE_ADDRESS_MANY_VISITORS, "FAQBOT_SESSIONS": redis.url, "FAQBOT_ADMIN_TOKEN": TOKEN}
        try:
            with faqbot_server(port, logging=True, log_db=str(db), knowledge=str(kb), env=env) as proc:
                async def go() -> dict[str, Any]:
                    traffic = Traffic(port, clients)
                    task = asyncio.create_task(traffic.run())
                    samples: Counter[int] = Counter()

                    async def watch_ready() -> None:
                        # Readiness should go red only around the Redis restart, not flap under load.
                        while not traffic.stop.is_set():
                            samples[await ready_status(port)] += 1
                            await asyncio.sleep(0.5)

                    watcher = asyncio.create_task(watch_ready())
                    await asyncio.sleep(seconds / 3)
                    redis.kill()
                    await asyncio.sleep(2)
                    redis.start()
                    await asyncio.sleep(seconds / 3 - 2)
                    async with httpx.AsyncClient(timeout=60) as client:
                        reload = await client.post(f"http://127.0.0.1:{port}/admin/reload",
                                                   headers={"authorization": f"Bearer {TOKEN}"})
                    await asyncio.sleep(seconds / 3)
                    traffic.stop.set()
                    await task
                    await watcher
                    return {"counts": dict(traffic.counts), "lost": traffic.lost, "reload": reload.status_code,
                            "slowest_reply_ms": round(traffic.slowest_ms),
                            "ready_samples": {str(k): v for k, v in sorted(samples.items())}}

                got = asyncio.run(go())
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
            with closing(sqlite3.connect(db)) as con:
                rows = con.execute("SELECT count(*) FROM turns").fetchone()[0]
        finally:
            redis.stop()
    replies = got["counts"].get("replies", 0)
    return {"scenario": "soak", "clients": clients, "seconds": seconds, **got, "log_rows": rows,
            "lost_log_rows": replies - rows}  # every reply is one logged turn


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.splitlines()[0])
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--soak-seconds", type=float, default=90.0)
    p.add_argument("--flood-seconds", type=float, default=10.0)
    p.add_argument("--no-save", action="store_true")
    args = p.parse_args(argv)
    raise_fd_limit()
    results = []
    for scenario in args.scenarios.split(","):
        if scenario in ("redis-kill", "redis-freeze"):
            result = redis_fault(scenario.split("-")[1], args.clients)
        elif scenario == "log-sigterm":
            result = log_stop(signal.SIGTERM, args.flood_seconds)
        elif scenario == "log-sigkill":
            result = log_stop(signal.SIGKILL, args.flood_seconds)
        else:
            result = soak(args.clients, args.soak_seconds)
        print(json.dumps(result), flush=True)
        results.append(result)
    if not args.no_save:
        previous = json.loads(RESULTS.read_text()).get("results", []) if RESULTS.exists() else []
        merged = {r["scenario"]: r for r in previous}
        merged.update({r["scenario"]: r for r in results})
        RESULTS.write_text(json.dumps({"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                                   "load_average": os.getloadavg()},
                                       "results": list(merged.values())}, indent=2) + "\n")
        print(f"saved {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
