"""Per-question latency on the default knowledge base after loading: p50/p99 of ``bot.ask`` (safety, small talk,
dialog and engine) and of ``engine.rank`` alone, over the questions of the shipped answer suite; with the encoder
on, both for a question never seen before (the encoder's cache of repeated questions emptied before each) and for
a repeated one; and the KB's load time in a fresh process, with an empty and with a warm vector cache.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from typing import Any

from faqbot import Bot
from faqbot.knowledge import bundled_path
from faqbot.suite import load_suite

from . import percentile, progress, save, stamp

ROUNDS = 20


LOAD = ("import sys, time; t = time.perf_counter(); from faqbot import Bot; b = Bot.load(cache_dir=sys.argv[1]); "
        "b.ask('hello there'); print(time.perf_counter() - t)")


def load_times(encoder: str) -> dict[str, float]:
    """Seconds from ``import faqbot`` to a first answer in a fresh process: empty vector cache, then warm."""
    if encoder == "off":
        return {}
    with tempfile.TemporaryDirectory() as cache:
        run = [sys.executable, "-c", LOAD, cache]
        cold = float(subprocess.run(run, capture_output=True, text=True, check=True).stdout.split()[-1])
        warm = float(subprocess.run(run, capture_output=True, text=True, check=True).stdout.split()[-1])
    return {"cold_s": cold, "warm_s": warm}


def main(*, smoke: bool = False) -> dict[str, Any]:
    start = time.perf_counter()
    bot = Bot.load()
    load = time.perf_counter() - start
    encoder = bot.engine.analyzer.encoder
    cases, conversations = load_suite(bundled_path() / "tests.yaml")
    questions = [c.question for c in cases] + [c.question for conv in conversations for c in conv]
    rounds = 1 if smoke else ROUNDS
    for q in questions:  # warm-up: first calls fill the typo cache, as a running server's would be
        bot.ask(q)
    timings: dict[str, list[float]] = {"ask": [], "rank": []}
    if encoder is not None:
        timings["ask_new"] = []
    for _ in progress(range(rounds), rounds, "default KB latency rounds"):
        for q in questions:
            if encoder is not None:
                encoder.forget()
                t2 = time.perf_counter()
                bot.ask(q)
                timings["ask_new"].append(time.perf_counter() - t2)
            t0 = time.perf_counter()
            bot.ask(q)  # now a repeated question
            t1 = time.perf_counter()
            bot.engine.rank(q, limit=5)
            timings["ask"].append(t1 - t0)
            timings["rank"].append(time.perf_counter() - t1)
    out: dict[str, Any] = {"smoke": smoke, "load_s": load, "mode": bot.mode, **load_times("on" if encoder else "off"),
                           "entries": len(bot.kb.entries),
                           "phrasings": sum(len(e.texts) for e in bot.kb.entries), "questions": len(questions),
                           "rounds": rounds}
    for name, ts in timings.items():
        out[name] = {"p50_ms": percentile(ts, 50) * 1000, "p99_ms": percentile(ts, 99) * 1000,
                     "mean_ms": sum(ts) / len(ts) * 1000, "per_second": len(ts) / sum(ts)}
        print(f"{name:>7}: p50 {out[name]['p50_ms']:.3f} ms  p99 {out[name]['p99_ms']:.3f} ms  "
              f"{out[name]['per_second']:,.0f} questions/s", flush=True)
    print(f"load: {load * 1000:.0f} ms for {out['entries']} entries, {out['phrasings']} phrasings; fresh process: "
          f"{out.get('cold_s', 0) * 1000:.0f} ms with an empty vector cache, {out.get('warm_s', 0) * 1000:.0f} ms warm")
    out = stamp("latency", out)
    if not smoke:
        save(out)
    return out
