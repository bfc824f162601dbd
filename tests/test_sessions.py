"""Session stores: memory (LRU + TTL) and Redis (a real redis-server on loopback), and two servers sharing one."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from conftest import LiveServer, ServerFactory, free_port
from faqbot.exceptions import ConfigError
from faqbot.server.sessions import (KEY, FallbackStore, MemoryStore, RedisStore, new_id, new_secret, open_store,
                                    opens, seal, valid_id)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout=20))


# --- memory -------------------------------------------------------------------------------------------


def test_memory_store_round_trip_returns_copies() -> None:
    store = MemoryStore()

    async def go() -> tuple[Any, Any]:
        state = {"state": "answered", "recent": ["alcohol"]}
        await store.set("session-1", state)
        state["recent"].append("mutated after set")
        got = await store.get("session-1")
        assert got is not None
        got["recent"].append("mutated after get")
        return got, await store.get("session-1")

    got, again = run(go())
    assert again == {"state": "answered", "recent": ["alcohol"]}


def test_memory_store_expires_after_ttl_since_last_use() -> None:
    clock = FakeClock()
    store = MemoryStore(ttl=60, clock=clock)

    async def go() -> list[bool]:
        await store.set("session-1", {})
        clock.now += 50
        alive_at_50 = await store.get("session-1") is not None  # reading restarts the TTL
        clock.now += 50
        alive_at_100 = await store.get("session-1") is not None
        clock.now += 61
        return [alive_at_50, alive_at_100, await store.get("session-1") is not None]

    assert run(go()) == [True, True, False]
    assert len(store) == 0


def test_memory_store_is_bounded_dropping_the_least_recently_used() -> None:
    store = MemoryStore(max_sessions=3)

    async def go() -> list[bool]:
        for name in ("a", "b", "c"):
            await store.set(f"session-{name}", {"n": name})
        await store.get("session-a")  # now b is the least recently used
        await store.set("session-d", {"n": "d"})
        return [await store.get(f"session-{n}") is not None for n in "abcd"]

    assert run(go()) == [True, False, True, True]
    assert len(store) == 3


def test_memory_store_churn_of_empty_sessions_keeps_conversations() -> None:
    store = MemoryStore(max_sessions=100)

    async def go() -> list[bool]:
        for n in range(10):
            await store.set(f"visitor-{n}", {"turns": n})
        for n in range(1000):  # a flood of connect/close that never asks anything
            await store.set(new_id(), {})
        return [await store.get(f"visitor-{n}") is not None for n in range(10)]

    assert run(go()) == [True] * 10
    assert len(store) == 100


def test_memory_store_drops_expired_sessions_on_write() -> None:
    clock = FakeClock()
    store = MemoryStore(ttl=10, clock=clock)

    async def go() -> None:
        for i in range(5):
            await store.set(f"session-{i}", {})
        clock.now += 11
        await store.set("session-new", {})

    run(go())
    assert len(store) == 1


def test_session_ids_are_random_and_validated() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100 and all(valid_id(i) for i in ids)
    for bad in ("", "short", "a" * 65, "../../etc", "abc def ghi", "faqbot:session:x", "x\n" * 5):
        assert not valid_id(bad)


def test_open_store() -> None:
    assert isinstance(open_store("memory", ttl=5, max_sessions=7), MemoryStore)
    assert isinstance(open_store("redis://127.0.0.1:1/0"), FallbackStore)
    with pytest.raises(ConfigError, match="use 'memory' or redis://"):
        open_store("mongodb://somewhere")


# --- redis --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway redis-server on a free loopback port, no persistence."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        pytest.fail("redis-server is required (apt-get install redis-server); tests/run.sh installs it")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path_factory.mktemp("redis"))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.redis
def test_redis_store_round_trip_with_ttl(redis_url: str) -> None:
    async def go() -> tuple[Any, Any, int, Any]:
        store = RedisStore.from_url(redis_url, ttl=120)
        try:
            await store.set("session-redis-1", {"state": "answered", "recent": ["alcohol"]})
            got = await store.get("session-redis-1")
            ttl = await store.client.ttl("faqbot:session:session-redis-1")
            missing = await store.get("session-never-set")
            await store.delete("session-redis-1")
            return got, missing, ttl, await store.get("session-redis-1")
        finally:
            await store.close()

    got, missing, ttl, deleted = run(go())
    assert got == {"state": "answered", "recent": ["alcohol"]}
    assert missing is None and deleted is None
    assert 0 < ttl <= 120


@pytest.mark.redis
def test_redis_store_expires_and_reading_restarts_the_ttl(redis_url: str) -> None:
    async def go() -> list[bool]:
        store = RedisStore.from_url(redis_url, ttl=1)
        try:
            await store.set("session-short", {})
            await asyncio.sleep(0.6)
            first = await store.get("session-short") is not None  # TTL restarts here
            await asyncio.sleep(0.6)
            second = await store.get("session-short") is not None
            await asyncio.sleep(1.2)
            return [first, second, await store.get("session-short") is not None]
        finally:
            await store.close()

    assert run(go()) == [True, True, False]


@pytest.mark.redis
def test_redis_store_ignores_garbage_values(redis_url: str) -> None:
    async def go() -> Any:
        store = RedisStore.from_url(redis_url)
        try:
            await store.client.set("faqbot:session:session-garbage", b"\x00not json")
            return await store.get("session-garbage")
        finally:
            await store.close()

    assert run(go()) is None


@pytest.fixture
def two_servers(live_server: ServerFactory, make_kb: Callable[..., Path],
                redis_url: str) -> tuple[LiveServer, LiveServer]:
    kb = make_kb()
    return (live_server(kb, sessions=redis_url, rate=1000.0, burst=1000),
            live_server(kb, sessions=redis_url, rate=1000.0, burst=1000))


@pytest.mark.redis
def test_two_servers_sharing_redis_resume_each_others_sessions(two_servers: tuple[LiveServer, LiveServer]) -> None:
    a, b = two_servers

    async def go() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        async with websockets.connect(a.ws_url) as ws:
            welcome = json.loads(await ws.recv())
            session, secret = welcome["session"], welcome["secret"]
            await ws.send(json.dumps({"type": "message", "id": "c1",
                                      "text": "does ketamine help with alcohol addiction?"}))
            await ws.recv()
        async with websockets.connect(f"{b.ws_url}?session={session}&secret={secret}") as ws:
            welcome = json.loads(await ws.recv())
            await ws.send(json.dumps({"type": "message", "id": "c2", "text": "what about opioids?"}))
            follow_up = json.loads(await ws.recv())
        async with websockets.connect(a.ws_url) as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "resume", "id": "r1", "session": session, "secret": secret}))
            resumed = json.loads(await ws.recv())
        return welcome, follow_up, resumed

    welcome, follow_up, resumed = run(go())
    assert welcome["resumed"] is True
    assert follow_up["reply"]["entry"] == "opioids"
    assert resumed["resumed"] is True


@pytest.mark.redis
def test_sessions_survive_a_server_restart_with_redis(two_servers: tuple[LiveServer, LiveServer]) -> None:
    a, _ = two_servers
    first = httpx.post(a.url + "/api/ask", json={"text": "does ketamine help with alcohol addiction?"}).json()
    a.restart()
    second = httpx.post(a.url + "/api/ask", json={"text": "what about opioids?", "session": first["session"],
                                                  "secret": first["secret"]})
    assert second.json()["session"] == first["session"]
    assert second.json()["reply"]["entry"] == "opioids"


@pytest.mark.redis
def test_redis_keeps_the_hash_of_a_session_secret_never_the_secret(two_servers: tuple[LiveServer, LiveServer],
                                                                   redis_url: str) -> None:
    a, b = two_servers
    first = httpx.post(a.url + "/api/ask", json={"text": "does ketamine help with alcohol addiction?"}).json()

    async def stored() -> Any:
        store = RedisStore.from_url(redis_url)
        try:
            return await store.client.get("faqbot:session:" + first["session"])
        finally:
            await store.close()

    raw = run(stored())
    assert first["secret"].encode() not in raw
    assert json.loads(raw)["key"] == hashlib.sha256(first["secret"].encode()).hexdigest()
    # The other server, reading the same Redis, opens it with the secret and with nothing else.
    wrong = httpx.post(b.url + "/api/ask", json={"text": "what about opioids?", "session": first["session"]}).json()
    right = httpx.post(b.url + "/api/ask", json={"text": "what about opioids?", **{
        k: first[k] for k in ("session", "secret")}}).json()
    assert wrong["session"] != first["session"] and wrong["secret"] != first["secret"]
    assert right["session"] == first["session"] and right["reply"]["entry"] == "opioids"


def test_a_session_opens_only_with_its_own_secret() -> None:
    secret = new_secret()
    state = {KEY: seal(secret), "state": "answered"}
    assert opens(state, secret)
    assert not opens(state, new_secret()) and not opens(state, None) and not opens(state, "")
    assert not opens({"state": "answered"}, secret)  # saved before secrets existed: never resumable
    assert not opens({KEY: 5}, secret)
    assert secret not in json.dumps(state)
