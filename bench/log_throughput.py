"""Conversation-log throughput: how fast the recorder's writer commits turns, on SQLite and on PostgreSQL.

For each ``--log-db`` (a SQLite file or a postgresql:// URL), ``--rounds`` times: queue ``--rows`` turns from one
thread as fast as possible (fewer than the queue's 10,000, so none is dropped), then wait for the writer to commit
them all. Reported: what a ``record_turn`` call costs the replying thread (mean, p99; this is the extra latency
per reply), rows/s committed (first call to last commit), and the written / dropped / failed counters.
Results go to bench/results/log_throughput.json.

    python -m bench.log_throughput --log-db /tmp/bench.sqlite3 --log-db postgresql://faqbot@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from faqbot.logstore import describe
from faqbot.models import Reply, ReplyType
from faqbot.recorder import Recorder

RESULTS = Path(__file__).parent / "results" / "log_throughput.json"
REPLY = Reply(ReplyType.FALLBACK, "Sorry.")


def measure(source: str, *, rows: int, rounds: int) -> dict[str, Any]:
    calls: list[float] = []
    rates: list[float] = []
    with Recorder(source) as rec:
        for r in range(rounds):
            start = time.perf_counter()
            for i in range(rows):
                t0 = time.perf_counter()
                rec.record_turn(f"bench-session-{i % 500:04d}", f"c{r}-{i}", f"how much does it cost {i}", REPLY,
                                "bench")
                calls.append(time.perf_counter() - t0)
            if not rec.flush(timeout=300):
                raise SystemExit(f"{describe(source)}: the writer did not finish within 300 s")
            rates.append(rows / (time.perf_counter() - start))
        stats = rec.stats()
    calls.sort()
    return {"log": describe(source), "rows": rows, "rounds": rounds,
            "rows_per_s": round(statistics.median(rates)), "rows_per_s_each": [round(x) for x in rates],
            "call_mean_us": round(statistics.fmean(calls) * 1e6, 1),
            "call_p99_us": round(calls[int(len(calls) * 0.99)] * 1e6, 1),
            "written": stats["written"], "dropped": stats["dropped"], "failed": stats["failed"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--log-db", action="append", required=True, help="a SQLite file or postgresql:// URL")
    parser.add_argument("--rows", type=int, default=9000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = [measure(s, rows=args.rows, rounds=args.rounds) for s in args.log_db]
    for r in results:
        print(f"{r['log']}: {r['rows_per_s']} rows/s committed; record_turn {r['call_mean_us']} us mean, "
              f"{r['call_p99_us']} us p99; written {r['written']}, dropped {r['dropped']}, failed {r['failed']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
