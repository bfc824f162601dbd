"""Speed at scale: build time, peak memory and per-query latency (p50, p99) of faqbot and each peer at 1.5k, 15k
and 150k phrasings. CLINC150 gives 1.5k (10 per intent) and 15k (100 per intent); 150k adds generated variants of
each intent's utterances (dropped, swapped, repeated and misspelt words) up to 1,000 per intent.

Each (system, size) runs in its own subprocess; memory is its peak resident size (``VmHWM``, reset after the data
is loaded) minus its resident size just before the build.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from . import ROOT, intents, load_clinc, merge, percentile, progress, save, stamp
from .peers import FACTORIES, available

SIZES = {"1.5k": 10, "15k": 100, "150k": 1000}
QUERIES = 1000
# Slow systems answer fewer queries (ChatterBot: seconds per query at 15k); none is skipped silently.
SLOW_QUERIES = {("chatterbot", "1.5k"): 100, ("chatterbot", "15k"): 30, ("wratio", "150k"): 100}
# ChatterBot's list trainer needs ~10 minutes for 150k phrasings, and then about 30 s per query: not run.
SKIP = {("chatterbot", "150k"): "not run: ChatterBot needs about 30 s per query at this size"}
SMOKE_SIZES = ("1.5k",)
SMOKE_QUERIES = 20


def variant(text: str, pool: Sequence[str], rng: random.Random) -> str:
    """A plausible rewording of ``text``: one to three word edits, some borrowing words from same-intent texts."""
    words = text.split()
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(5)
        i = rng.randrange(len(words))
        if op == 0 and len(words) > 2:
            del words[i]
        elif op == 1 and i + 1 < len(words):
            words[i], words[i + 1] = words[i + 1], words[i]
        elif op == 2:
            words.insert(i, rng.choice(rng.choice(pool).split()))
        elif op == 3 and len(words[i]) > 3:
            w = words[i]
            j = rng.randrange(len(w) - 1)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:] if rng.random() < 0.5 else w[:j] + w[j + 1:]
        else:
            words[i] = rng.choice(rng.choice(pool).split())
    return " ".join(words)


def scaled(train: list[tuple[str, str]], per_intent: int, seed: int = 0) -> dict[str, list[str]]:
    """``per_intent`` phrasings per intent: the train utterances first, then generated variants of them."""
    base = intents(train, min(per_intent, 100))
    rng = random.Random(seed)
    out: dict[str, list[str]] = {}
    for intent, texts in base.items():
        seen = set(texts)
        grown = list(texts)
        while len(grown) < per_intent:
            v = variant(rng.choice(texts), texts, rng)
            if v not in seen:
                seen.add(v)
                grown.append(v)
        out[intent] = grown
    return out


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak() -> float:
    """Forget the peak so far (loading the data set has one of its own); return the current resident size."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")  # Linux: reset VmHWM, the peak resident set size, to the current size
    except OSError:
        pass
    return _status_mb("VmRSS") or _peak_mb()


def _peak_mb() -> float:
    return _status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def worker(key: str, size: str, n_queries: int, *, smoke: bool = False) -> dict[str, Any]:
    """Build one system at one size and time its queries; run in a fresh process by ``measure``."""
    data = load_clinc(smoke=smoke)
    entries = scaled(data["train"], SIZES[size])
    rows = data["test"] + data["oos_test"]
    random.Random(1).shuffle(rows)
    texts = [t for t, _ in rows[:n_queries]]
    # A throw-away build first: imports and one-time setup are not part of the build time or memory measured.
    FACTORIES[key]().build({"a": ["warm up"], "b": ["another entry"]})
    system = FACTORIES[key]()
    before = _reset_peak()
    start = time.perf_counter()
    system.build(entries)
    build = time.perf_counter() - start
    system.predict(texts[0])  # first-call warm-up (lazy imports, caches) is not a query
    times = []
    for text in progress(texts, len(texts), f"{system.name} {size}"):
        t0 = time.perf_counter()
        system.predict(text)
        times.append(time.perf_counter() - t0)
    return {"system": system.name, "key": key, "size": size, "phrasings": sum(map(len, entries.values())),
            "queries": len(times), "build_s": build, "memory_mb": _peak_mb() - before,
            "p50_ms": percentile(times, 50) * 1000, "p99_ms": percentile(times, 99) * 1000,
            "mean_ms": sum(times) / len(times) * 1000}


def measure(key: str, size: str, n_queries: int, *, smoke: bool = False) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.speed", "--worker", key, size, str(n_queries), *(["--smoke"] if smoke else [])]
    proc = subprocess.run(command,
                          cwd=ROOT, capture_output=True, text=True, check=False)
    sys.stderr.write(proc.stderr[-2000:] if proc.returncode else "")
    if proc.returncode:
        return {"key": key, "size": size, "error": proc.stderr.strip().splitlines()[-1:]}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(*, smoke: bool = False, systems: Sequence[str] = tuple(FACTORIES)) -> dict[str, Any]:
    sizes = SMOKE_SIZES if smoke else tuple(SIZES)
    results: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    for size in sizes:
        for key in systems:
            why = available(key) or SKIP.get((key, size))
            if why:
                skipped[f"{key} {size}"] = why
                continue
            n = SMOKE_QUERIES if smoke else SLOW_QUERIES.get((key, size), QUERIES)
            if smoke and key == "chatterbot":
                n = 3
            r = measure(key, size, n, smoke=smoke)
            results.append(r)
            if "error" in r:
                print(f"{size:>5} {key:<18} failed: {r['error']}", flush=True)
            else:
                print(f"{size:>5} {r['system']:<18} build {r['build_s']:7.2f} s  memory {r['memory_mb']:7.1f} MB  "
                      f"p50 {r['p50_ms']:8.3f} ms  p99 {r['p99_ms']:8.3f} ms  ({r['queries']} queries)", flush=True)
    out = stamp("speed", {"smoke": smoke, "results": results, "skipped": skipped})
    if not smoke:
        save(merge(out, key=lambda r: (r["key"], r["size"]),
                   order=lambda r: (list(SIZES).index(r["size"]), list(FACTORIES).index(r["key"]))))
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--worker", nargs=3, metavar=("SYSTEM", "SIZE", "QUERIES"), required=True)
    p.add_argument("--smoke", action="store_true")
    a = p.parse_args()
    print(json.dumps(worker(a.worker[0], a.worker[1], int(a.worker[2]), smoke=a.smoke)))
