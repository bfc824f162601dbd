"""Smoke runs of every benchmark on small subsets, so ``python -m bench`` cannot rot (the full runs are not tests)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from bench import ROOT, percentile
from bench.quality import Outcome, best_threshold, rates, reliability
from bench.speed import scaled



def test_threshold_maximises_the_balanced_score() -> None:
    outcomes: list[Outcome] = [("a", "a", 0.9, 0.0), ("b", "b", 0.6, 0.0), ("a", "b", 0.5, 0.0),
                               ("oos", "a", 0.4, 0.0), ("oos", "b", 0.7, 0.0)]
    t = best_threshold(outcomes)
    grid = [-math.inf, *(x / 100 for x in range(101))]
    assert sum(rates(outcomes, t)) == max(sum(rates(outcomes, x)) for x in grid)
    assert 0.7 < t <= 0.9  # declines both out-of-scope questions, at the cost of one right answer


def test_reliability_of_a_perfectly_calibrated_set_is_zero() -> None:
    pairs = [(0.95, True)] * 19 + [(0.95, False)] + [(0.05, False)] * 19 + [(0.05, True)]
    assert reliability(pairs)["ece"] == pytest.approx(0.0, abs=1e-9)


def test_percentile_by_nearest_rank() -> None:
    values = [float(x) for x in range(1, 101)]
    assert percentile(values, 50) == 50.0 and percentile(values, 99) == 99.0 and percentile([], 50) == 0.0


def test_scaled_kb_has_the_requested_size_and_keeps_the_real_phrasings_first() -> None:
    from bench import load_clinc

    data = load_clinc(smoke=True)  # the full file when present, else the bundled sample
    kb = scaled(data["train"], 120)
    assert len(kb) == 150 and all(len(v) == 120 and len(set(v)) == 120 for v in kb.values())
    first = next(t for t, i in data["train"] if i == "translate")
    assert kb["translate"][0] == first


def _bench(*args: str, tmp: Path) -> str:
    proc = subprocess.run([sys.executable, "-m", "bench", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_quality_smoke_reports_every_installed_system(tmp_path: Path) -> None:
    out = _bench("quality", "--smoke", tmp=tmp_path)
    assert "faqbot" in out and "balanced" in out


def test_ablation_smoke_switches_each_part_off(tmp_path: Path) -> None:
    out = _bench("quality", "--ablation", "--smoke", tmp=tmp_path)
    assert "no perceptron pass" in out and "no character n-grams" in out


def test_speed_smoke_measures_faqbot_and_a_peer(tmp_path: Path) -> None:
    out = _bench("speed", "--smoke", "--systems", "faqbot,bm25", tmp=tmp_path)
    assert "faqbot" in out and "p99" in out


def test_latency_smoke_on_the_default_kb(tmp_path: Path) -> None:
    out = _bench("latency", "--smoke", tmp=tmp_path)
    assert "ask: p50" in out and "rank: p50" in out


def test_render_writes_tables_and_plots(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from bench import quality, render, speed

    results = tmp_path / "results"
    results.mkdir()
    q = quality.main(smoke=True, systems=("faqbot", "wratio"))
    s = speed.main(smoke=True, systems=("faqbot",))
    for record in (q, s):
        (results / f"{record['benchmark']}.json").write_text(json.dumps(record), encoding="utf-8")
    page = render.main(results=results, docs=tmp_path).read_text(encoding="utf-8")
    assert "| 10/intent | faqbot" in page and "| 1,500 | faqbot |" in page
    assert (tmp_path / "bench-scale-latency.png").stat().st_size > 0
    assert (tmp_path / "bench-calibration.png").stat().st_size > 0
