"""One machine against the server: does a normal visitor still get quick replies? (issue 15)

A real faqbot server (default KB, encoder on, logging on, default limits) runs as its own process on
loopback. Ten visitors (127.0.0.2 to 127.0.0.11) each ask a question every second over a websocket and over
``/api/ask`` and record each round trip; an attacker process on 127.0.0.1 runs one scenario at a time, for a
bounded time:

- ``sockets``: 60 websockets each sending 2,000-character messages at the per-connection rate (2/s);
- ``novel``: the same, each message a new shuffle of its words, so no reply comes from a cache;
- ``api``: 32 workers posting 2,000-character questions to ``/api/ask`` as fast as answers come;
- ``slow``: 1,500 sockets that send half a request header and then nothing;
- ``bodies``: 4 parallel 400 MB bodies to ``/api/ask``, streamed;
- ``mixed``: sockets + api + slow at once.

Reported per scenario: the visitors' p50/p99/max (ms) and lost replies, what the attacker got (answers,
rate-limited, refused or cut sockets), the server's peak RSS, and the CPU seconds the server and the
attacker's own process used. Goal: visitor p99 < 100 ms in every scenario. Results go to
bench/results/abuse.json.

On a real deployment the attacker's and the visitors' machines are not the server's. Here they are, and the
attacker's client (thousands of connects and refusals a second in ``mixed``) can cost more CPU than the server
spends refusing it. So by default (``--pin``, with at least 2 cores) the server runs on core 0 and the bench's
own processes (visitors and attacker) on the others: the server gets one core, shared with whatever else runs
on the machine, and everything it does for the attack, refusals included, happens on that core. ``--no-pin``
shares every core, as before. Each visitor makes one untimed round trip per channel first, so its client's
first-request set-up (imports, connection pool) is not counted as server latency.

    python -m bench.abuse                 # every scenario, 20 s each
    python -m bench.abuse --seconds 5 --scenarios sockets,api
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import multiprocessing as mp
import os
import platform
import random
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from .load import QUESTIONS, faqbot_server, free_port

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "abuse.json"
VISITORS = 10  # on 127.0.0.2 ... 127.0.0.11
ATTACKER = "127.0.0.1"
LONG = ("how long does ketamine therapy take and what does it cost " * 40)[:2000]
SCENARIOS = ("none", "sockets", "novel", "api", "slow", "bodies", "mixed")


def novel(n: int) -> str:
    """A 2,000-character message never sent before: the encoder's cache cannot help (a turn costs ~5x more)."""
    words = LONG.split()
    random.Random(n).shuffle(words)
    return " ".join(words)[:2000]


# --- the visitor ---------------------------------------------------------------------------------------


async def visitors(port: int, seconds: float) -> dict[str, Any]:
    """``VISITORS`` visitors, each on its own address, each asking once a second over each channel."""
    ws_ms: list[float] = []
    http_ms: list[float] = []
    lost: Counter[str] = Counter()
    asked = await asyncio.gather(*(visitor(port, seconds, f"127.0.0.{2 + i}", i / VISITORS, ws_ms, http_ms, lost)
                                   for i in range(VISITORS)))
    return {"ws": _summary(ws_ms), "http": _summary(http_ms), "lost": dict(lost), "asked": sum(asked)}


async def visitor(port: int, seconds: float, address: str, offset: float, ws_ms: list[float],
                  http_ms: list[float], lost: Counter[str]) -> int:
    import httpx
    import websockets

    ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws", local_addr=(address, 0), open_timeout=10)
    await ws.recv()
    async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address=address), timeout=10) as client:
        # One untimed round trip per channel: the client's own first-request costs are not the server's.
        await ws.send(json.dumps({"type": "message", "id": "warm", "text": QUESTIONS[-1]}))
        await ws.recv()
        await client.post(f"http://127.0.0.1:{port}/api/ask", json={"text": QUESTIONS[-1]})
        await asyncio.sleep(offset)
        deadline = time.monotonic() + seconds
        n = 0
        while time.monotonic() < deadline:
            text = QUESTIONS[n % len(QUESTIONS)]
            start = time.perf_counter()
            try:
                await ws.send(json.dumps({"type": "message", "id": f"v{n}", "text": text}))
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                ws_ms.append((time.perf_counter() - start) * 1000)
                if frame.get("type") != "reply" or frame.get("id") != f"v{n}":
                    lost["ws:" + str(frame.get("code", frame.get("type")))] += 1
            except Exception as exc:  # a lost reply is a result, not a crash
                lost["ws:" + type(exc).__name__] += 1
            start = time.perf_counter()
            try:
                r = await client.post(f"http://127.0.0.1:{port}/api/ask", json={"text": text})
                http_ms.append((time.perf_counter() - start) * 1000)
                if r.status_code != 200:
                    lost[f"http:{r.status_code}"] += 1
            except Exception as exc:
                lost["http:" + type(exc).__name__] += 1
            n += 1
            await asyncio.sleep(1.0)
    await ws.close()
    return n


def _summary(ms: list[float]) -> dict[str, float]:
    if not ms:
        return {"n": 0}
    ordered = sorted(ms)
    return {"n": len(ms), "p50_ms": round(statistics.median(ordered), 1),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1),
            "max_ms": round(ordered[-1], 1)}


# --- the attacker ----------------------------------------------------------------------------------------


async def attack_sockets(port: int, deadline: float, out: Counter[str], *, fresh: bool = False) -> None:
    import websockets

    async def one(i: int) -> None:
        try:
            ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws", local_addr=(ATTACKER, 0), open_timeout=10)
            first = json.loads(await ws.recv())
        except Exception:
            out["socket refused"] += 1
            return
        if first.get("type") != "welcome":
            out["socket refused"] += 1
            await ws.close()
            return
        out["socket open"] += 1
        n = 0
        try:
            while time.monotonic() < deadline:
                text = novel(1000 * i + n) if fresh else LONG
                await ws.send(json.dumps({"type": "message", "id": f"a{i}-{n}", "text": text}))
                frame = json.loads(await ws.recv())
                out["reply" if frame["type"] == "reply" else frame.get("code", "other")] += 1
                n += 1
                await asyncio.sleep(0.5)
        except Exception:
            out["socket cut"] += 1
        finally:
            await ws.close()

    await asyncio.gather(*(one(i) for i in range(60)))


async def attack_api(port: int, deadline: float, out: Counter[str]) -> None:
    import httpx

    async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address=ATTACKER), timeout=10,
                                 limits=httpx.Limits(max_connections=32)) as client:
        async def worker() -> None:
            while time.monotonic() < deadline:
                try:
                    r = await client.post(f"http://127.0.0.1:{port}/api/ask", json={"text": LONG})
                    out[f"http {r.status_code}"] += 1
                except Exception as exc:
                    out["http " + type(exc).__name__] += 1
                    await asyncio.sleep(0.05)

        await asyncio.gather(*(worker() for _ in range(32)))


async def attack_slow(port: int, deadline: float, out: Counter[str]) -> None:
    loop = asyncio.get_running_loop()
    held: list[socket.socket] = []
    for _ in range(1500):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.bind((ATTACKER, 0))
            await loop.sock_connect(s, ("127.0.0.1", port))
            await loop.sock_sendall(s, b"GET /health HTTP/1.1\r\nHost: x\r\n")
            held.append(s)
        except OSError:
            out["slow refused"] += 1
            s.close()
    await asyncio.sleep(max(0.0, min(5.0, deadline - time.monotonic())))
    alive = 0
    for s in held:
        try:
            data = s.recv(1, socket.MSG_PEEK)
            alive += 1 if data else 0
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    out["slow sent"] = len(held)
    out["slow still open after 5 s"] = alive
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))
    for s in held:
        s.close()


async def attack_bodies(port: int, deadline: float, out: Counter[str]) -> None:
    import httpx

    async def body() -> Any:
        chunk = b" " * 1_048_576
        for _ in range(400):
            out["body MB sent"] += 1
            yield chunk

    async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address=ATTACKER), timeout=30) as client:
        async def one() -> None:
            try:
                r = await client.post(f"http://127.0.0.1:{port}/api/ask", content=body(),
                                      headers={"content-type": "application/json"})
                out[f"body {r.status_code}"] += 1
            except Exception as exc:
                out["body cut: " + type(exc).__name__] += 1

        await asyncio.gather(*(one() for _ in range(4)))
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))


async def attacker(port: int, scenario: str, seconds: float) -> dict[str, int]:
    out: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    parts = {"sockets": [attack_sockets], "novel": [functools.partial(attack_sockets, fresh=True)],
             "api": [attack_api], "slow": [attack_slow], "bodies": [attack_bodies],
             "mixed": [attack_sockets, attack_api, attack_slow]}.get(scenario, [])
    await asyncio.gather(*(part(port, deadline, out) for part in parts))
    return dict(out)


def _attacker_process(port: int, scenario: str, seconds: float, queue: Any) -> None:
    import resource

    from .load import raise_fd_limit

    raise_fd_limit()
    got = asyncio.run(attacker(port, scenario, seconds))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    queue.put((got, round(usage.ru_utime + usage.ru_stime, 2)))


# --- the run ---------------------------------------------------------------------------------------------


def warm_up(port: int) -> None:
    """A few questions first (from an address nobody else uses), so the first measured turn is not a cold one."""
    import httpx

    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.250"), timeout=30) as client:
        for text in QUESTIONS[:4]:
            client.post(f"http://127.0.0.1:{port}/api/ask", json={"text": text})


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cores(pin: bool) -> tuple[set[int] | None, set[int] | None]:
    """``(server, bench)`` cores: the first for the server and the rest for the bench, or no pinning."""
    available = sorted(os.sched_getaffinity(0))
    if not pin or len(available) < 2:
        return None, None
    return {available[0]}, set(available[1:])


def run_scenario(scenario: str, seconds: float, *, pin: bool = True) -> dict[str, Any]:
    port = free_port()
    server_cpus, bench_cpus = cores(pin)
    mine = os.sched_getaffinity(0)
    with tempfile.TemporaryDirectory() as tmp, faqbot_server(port, logging=True, log_db=f"{tmp}/log.sqlite3",
                                                             cpus=server_cpus) as proc:
        warm_up(port)
        rss_before = rss_mb(proc.pid)
        if bench_cpus:
            os.sched_setaffinity(0, bench_cpus)  # the visitors here, and the attacker forked below
        try:
            cpu_before = cpu_seconds(proc.pid)
            queue: Any = mp.get_context("fork").Queue()
            attack = mp.get_context("fork").Process(target=_attacker_process, args=(port, scenario, seconds, queue))
            attack.start()
            time.sleep(1.0)  # let the attack build up before measuring
            seen = asyncio.run(visitors(port, seconds - 2.0))
            got, attacker_cpu = queue.get(timeout=seconds + 60)
            attack.join(timeout=30)
            server_cpu = round(cpu_seconds(proc.pid) - cpu_before, 2)
        finally:
            os.sched_setaffinity(0, mine)
        result = {"scenario": scenario, "seconds": seconds, "load_average_1min_after": round(os.getloadavg()[0], 2),
                  "pinned": {"server": sorted(server_cpus), "bench": sorted(bench_cpus or ())} if server_cpus
                  else None,
                  "visitor": seen, "attacker": got,
                  "cpu_seconds": {"server": server_cpu, "attacker_process": attacker_cpu},
                  "server_rss_mb": {"before": rss_before, "peak": peak_rss_mb(proc.pid)}}
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.abuse", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--no-save", action="store_true")
    p.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True,
                   help="server on one core, visitors and attacker on the others (default: on)")
    args = p.parse_args(argv)
    results = []
    for scenario in args.scenarios.split(","):
        result = run_scenario(scenario, args.seconds, pin=args.pin)
        v = result["visitor"]
        print(f"{scenario:8} visitor ws p50 {v['ws'].get('p50_ms')} p99 {v['ws'].get('p99_ms')} max "
              f"{v['ws'].get('max_ms')} | http p50 {v['http'].get('p50_ms')} p99 {v['http'].get('p99_ms')} | lost "
              f"{v['lost'] or 0} | attacker {result['attacker']} | cpu s {result['cpu_seconds']} | rss "
              f"{result['server_rss_mb']} | load "
              f"{result['load_average_1min_after']}", flush=True)
        results.append(result)
    if not args.no_save:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        met = all(max(r["visitor"]["ws"].get("p99_ms", 1e9), r["visitor"]["http"].get("p99_ms", 1e9)) < 100
                  and not r["visitor"]["lost"] for r in results)
        RESULTS.write_text(json.dumps({"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                                   "platform": platform.platform()},
                                       "goal": "visitor p99 < 100 ms and 0 lost in every scenario",
                                       "goal_met": met, "results": results}, indent=2) + "\n")
        print(f"saved {RESULTS}; goal {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
