"""Benchmarks: answer quality on CLINC150 and speed at scale, faqbot beside its peers, in one run.

Run ``python -m bench quality|speed|latency|render [--smoke]``; results land in ``bench/results/*.json`` and
``python -m bench render`` turns them into ``docs/benchmarks.md`` and the plots beside it.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs"
CLINC = Path(os.environ.get("FAQBOT_CLINC", ROOT.parent / "shared" / "data" / "clinc150" / "data_full.json"))

T = TypeVar("T")
Example = tuple[str, str]  # (text, intent); intent "oos" for out-of-scope


SAMPLE = ROOT / "bench" / "data" / "clinc150-sample.json"


def load_clinc(path: Path | None = None, *, smoke: bool = False) -> dict[str, list[Example]]:
    """The CLINC150 splits as lists of (text, intent). A smoke run falls back to the small bundled sample when the
    full file is missing; a full run never does, since its figures would mean nothing."""
    if path is None:
        path = CLINC if CLINC.exists() or not smoke else SAMPLE
    if not path.exists():
        raise SystemExit(f"CLINC150 not found at {path}: put data_full.json there or set FAQBOT_CLINC to its path "
                         "(see ../shared/data/clinc150/SOURCE.md); smoke runs use bench/data/clinc150-sample.json")
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    return {k: [(str(t), str(i)) for t, i in v] for k, v in raw.items()}


def intents(train: Sequence[Example], per_intent: int) -> dict[str, list[str]]:
    """Each intent's first ``per_intent`` train utterances: one knowledge entry and its phrasings."""
    out: dict[str, list[str]] = {}
    for text, intent in train:
        bucket = out.setdefault(intent, [])
        if len(bucket) < per_intent:
            bucket.append(text)
    return dict(sorted(out.items()))


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[k]


def progress(items: Iterable[T], total: int, label: str) -> Iterator[T]:
    """Yield ``items`` while drawing a one-line progress bar with rate and ETA on stderr."""
    start = last = time.perf_counter()
    tty = sys.stderr.isatty()
    for n, item in enumerate(items, 1):
        yield item
        now = time.perf_counter()
        if now - last > (0.2 if tty else 10.0) or n == total:
            last = now
            done = n / max(total, 1)
            eta = (now - start) / n * (total - n)
            bar = "#" * int(done * 24)
            start_of_line = "\r" if tty else ""
            end_of_line = "" if tty and n < total else "\n"
            sys.stderr.write(f"{start_of_line}  {label:<34} [{bar:<24}] {n}/{total} eta {eta:5.0f}s{end_of_line}")
            sys.stderr.flush()


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine()}


def stamp(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """A result record: which benchmark, when and where, then the figures."""
    return {"benchmark": name, "measured": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), **data}


def save(record: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{record['benchmark']}.json"
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


def merge(new: dict[str, Any], *, key: Callable[[dict[str, Any]], Hashable],
          order: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """The saved results of ``new['benchmark']`` with the rows of ``new`` replacing those with the same ``key``,
    so one system can be re-run without re-running its peers."""
    path = RESULTS / f"{new['benchmark']}.json"
    old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    fresh = {key(r) for r in new["results"]}
    for r in new["results"]:
        r["measured"] = new["measured"]
    rows = sorted([r for r in old.get("results", []) if key(r) not in fresh] + new["results"], key=order)
    return {**new, "results": rows, "skipped": {**old.get("skipped", {}), **new["skipped"]}}
