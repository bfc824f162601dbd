"""Render ``bench/results/*.json`` into ``docs/benchmarks.md`` and the plots beside it (matplotlib, a bench extra)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import DOCS, RESULTS
from .render_meaning import fusion_section, safety_section, thresholds_section

# Published in-scope accuracy of Larson et al. (2019), as quoted by issue 7 (their full data, trained classifiers).
PAPER = (("SVM", 88.2), ("FastText", 88.6), ("DialogFlow", 90.8), ("Rasa", 90.9))
SIZE_ORDER = ("1.5k", "15k", "150k")
NOTES = """
## How faqbot gets there, and where it falls short

**The engine** (`faqbot/engine.py`, pure Python plus rapidfuzz, no model downloads) scores entries, not phrasings.
Words are normalised, typo-folded against the KB's vocabulary (rapidfuzz, only for unknown words, cached) and
mapped through the KB's synonyms. Three parts make the score, all read from inverted indexes, so a question touches
only entries that share a feature with it:

- word features (stemmed unigrams with stopwords damped, and bigrams with sentence-boundary marks), weighted by an
  averaged perceptron trained at build time: it starts from each entry's TF-IDF centroid and, for three epochs over
  the entries' own phrasings, corrects the weights where a phrasing scores too close to one of the eight entries its
  centroid confuses it with. On CLINC150 val this pass is worth +4.2 points of top-1 at 100 per intent (87.0% to
  91.2%) and +0.9 at 10 per intent (73.0% to 73.9%);
- character 3- and 4-grams of content words against each entry's centroid (typos and morphology; +0.8 points on val
  at 10 per intent, +0.1 at 100);
- for the five best entries, rapidfuzz `token_sort_ratio` to at most 24 of the entry's phrasings, and the share of
  the question's content words the entry contains, each word weighted by its rarity (+1.5 points together on val at 100 per intent, +2.4 at 10).

Posting weights under 0.02 are dropped: 0.1 points of val accuracy at most, and p50 per val question 0.24 ms instead of 0.38 ms
at 100 per intent. Every option was chosen on CLINC150 val, never on test; the figures in this paragraph are from the ablation table above.

**10 phrasings per intent: top-1 and balanced are missed** by the amounts in the goals table. The phrasing
resemblance became a confidence signal after it raised the balanced score on val with a val-chosen threshold
(from 87.0% to 87.7% at 100 per intent, 74.5% to 75.2% at 10); on test it raised the 100-per-intent balanced
score and left the 10-per-intent one 0.2 points lower, and that is what the tables show. The same options
give 73.9% top-1 on val, so part of the gap is the val-to-test difference, which we may not tune away. The rest is
the setting: with ten short phrasings an entry's vocabulary is thin, and a share of the test questions (given above)
has no content word in common with its own entry's phrasings at all; a lexical engine answers those only by luck,
while the paper's classifiers were trained on 100 phrasings per intent. The discriminative pass has little to learn
from ten examples per entry (+0.9 points on val). What would close the gap is more phrasings per entry (that is what
the 100-per-intent row shows) or synonyms in the KB's `synonyms` table, which is how a real FAQ author would do it.

**Scale.** The 150k row keeps 150 entries and grows each to 1,000 phrasings with generated variants, so it tests
many phrasings per entry rather than many entries. faqbot's query cost follows the number of entries that share a
feature with the question and a fixed fuzzy budget per candidate, so it barely moves from 15k to 150k; a KB with ten
times the entries would cost more per query. Building at 150k takes half a minute and several hundred MB, most of
it the per-phrasing vectors the perceptron trains on; there is no goal at that size.

**Peers.** ChatterBot 1.2.15 installs on Python 3.11 from PyPI (with spaCy), but its default tagger loads spaCy's
`en_core_web_sm` model, which is not on PyPI (spaCy ships it from its own release downloads) and cannot be fetched
here; the benchmark passes ChatterBot's own `LowercaseTagger` and keeps everything else default (best match,
Levenshtein comparison, list trainer with one `[phrasing, intent]` conversation per phrasing). ChatterBot is not run
at 150k phrasings (its list trainer alone would take several minutes, and it answers in seconds at 15k). TF-IDF is
scikit-learn's `TfidfVectorizer` defaults with cosine to the nearest phrasing, BM25 is bm25s defaults with English
stopwords, WRatio is rapidfuzz `WRatio` on `utils.default_process`. Each peer's decline threshold applies to its own
score (similarity, BM25 score or ChatterBot confidence), chosen on val like faqbot's.

**Default knowledge base.** The tables above titled "Quality on CLINC150" measure the lexical tier alone; the
bot ships with the meaning tier on ("Understanding by meaning" below). The bundled KB's thresholds (answer 0.25,
clarify 0.25, margin 0.15, gap 0.10) were chosen on the two visitor dev splits, not on the answer suite; the answer suite
(`faqbot test`) is a regression floor, and its misses are listed by `faqbot test`.
"""


def _load(name: str, results: Path = RESULTS) -> dict[str, Any] | None:
    path = results / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x * 100:.1f}%"


def _ms(x: float) -> str:
    if x >= 1000:
        return f"{x / 1000:.2f} s"
    return f"{x:.2f} ms" if x >= 0.995 else f"{x:.3f} ms"


def _mb(x: float) -> str:
    return f"{x:.0f} MB"


def _points(x: float) -> str:
    return f"{x * 100:.1f} points"


def _goal(label: str, value: float, target: float, *, below: bool = False, fmt: Any = _pct, gap: Any = _points) -> str:
    met = value < target if below else value >= target
    verdict = "met" if met else f"missed by {gap(abs(value - target))}"
    return f"| {label} | {'<' if below else '≥'} {fmt(target)} | {fmt(value)} | {verdict} |"


def quality_section(q: dict[str, Any]) -> list[str]:
    lines = ["## Quality on CLINC150", "",
             ("Each of the 150 intents is one entry whose phrasings are its `train` utterances (all 100, or the first "
             "10). Queries are the `test` split plus `oos_test` (4,500 in-scope, 1,000 out-of-scope). The decline "
             "threshold of every system is chosen on `val` plus `oos_val` only, maximising the balanced score (mean "
             "of in-scope accuracy and out-of-scope recall); nothing is tuned on test. top-1 is accuracy on the "
             "in-scope test queries with no threshold. ChatterBot runs on a fixed random sample of each split "
             "(too slow for all of them)."), "",
             "| setting | system | top-1 | in-scope acc | OOS recall | balanced | p50 per query | build |",
             "|---|---|---|---|---|---|---|---|"]
    for r in q["results"]:
        name = r["system"] + (f" ({r['sample']:,}-query sample)" if r.get("sample") else "")
        lines.append(f"| {r['per_intent']}/intent | {name} | {_pct(r['top1'])} | {_pct(r['inscope_acc'])} | "
                     f"{_pct(r['oos_recall'])} | {_pct(r['balanced'])} | {_ms(r['p50_ms'])} | {r['build_s']:.2f} s |")
    for name, acc in PAPER:
        lines.append(f"| 100/intent | {name} (Larson et al. 2019, published) | | {acc:.1f}% | | | | |")
    lines.append("")
    for key, why in q.get("skipped", {}).items():
        lines.append(f"- {key} was not run: {why}")
    fb = {r["per_intent"]: r for r in q["results"] if r["key"] == "faqbot"}
    if fb:
        lines += ["", "### Goals (test split)", "", "| goal | target | measured | |", "|---|---|---|---|"]
        if 100 in fb:
            lines.append(_goal("100/intent top-1", fb[100]["top1"], 0.90))
            lines.append(_goal("100/intent balanced", fb[100]["balanced"], 0.84))
        if 10 in fb:
            lines.append(_goal("10/intent top-1", fb[10]["top1"], 0.72))
            lines.append(_goal("10/intent balanced", fb[10]["balanced"], 0.74))
        lines.append("")
        for per, r in sorted(fb.items(), reverse=True):
            gap = r.get("lexical_gap")
            if gap:
                lines.append(f"- At {per}/intent, {_pct(gap['share'])} of the in-scope test questions share no content "
                             f"word (stemmed) with any phrasing of their own entry; faqbot answers "
                             f"{_pct(gap['top1_on_them'])} of those right.")
        lines.append("")
        lines += calibration_section(fb)
    return lines


def calibration_section(fb: dict[int, dict[str, Any]]) -> list[str]:
    lines = ["### Confidence calibration", "",
             ("faqbot's confidence is a logistic function of the top entry's lead over the next one, the share of "
             "the question's content words it covers (each weighted by its rarity), the share of them the knowledge "
             "base knows at all, and how closely the whole question resembles one of the entry's phrasings "
             "(`Engine.confidence`). Its five parameters are fitted on CLINC150 `val` + `oos_val` of both settings "
             "together, top two candidates per question (`python -m bench quality --fit`), with out-of-scope "
             "questions weighted to half of the total: CLINC's val is 97% in-scope, a chat widget's traffic is not, "
             "and the decline threshold is judged on that balanced mix too. ECE (expected calibration error, ten "
             "equal-width bins) is given on that balanced mix and on the raw splits (val 3%, test 18% "
             "out-of-scope); the table bins are the balanced ones."), "",
             ("| setting | split | ECE, balanced mix | ECE, raw split | reliability, balanced mix "
             "(bin: mean confidence / share right / n) |"), "|---|---|---|---|---|"]
    for per, r in sorted(fb.items(), reverse=True):
        for split, cal in r.get("calibration_balanced", {}).items():
            raw = r.get("calibration", {}).get(split, {}).get("ece", float("nan"))
            bins = "; ".join(f"{b['bin']}: {b['confidence']:.2f}/{b['accuracy']:.2f}/{b['n']}" for b in cal["bins"])
            lines.append(f"| {per}/intent | {split} | {cal['ece']:.3f} | {raw:.3f} | {bins} |")
    lines += ["", "![Reliability of faqbot's confidence on CLINC150](bench-calibration.png)", ""]
    return lines


def speed_section(s: dict[str, Any]) -> list[str]:
    lines = ["## Speed and scale", "",
             ("1.5k and 15k phrasings are CLINC150 with 10 and 100 phrasings per intent; 150k adds generated variants "
             "of each intent's utterances (dropped, swapped, repeated, borrowed and misspelt words) up to 1,000 per "
             "intent, so the number of entries stays 150 and each entry grows. Queries are a fixed shuffle of "
             "`test` + `oos_test`; the first query is a warm-up and not counted. Each system and size runs in its own "
             "process, after a throw-away build on two entries (imports and one-time setup); memory is the peak "
             "resident size during the build and the queries (`VmHWM`, reset after the data is loaded) minus the "
             "resident size just before the build."), "",
             "| phrasings | system | queries | p50 | p99 | build | memory |", "|---|---|---|---|---|---|---|"]
    rows = sorted((r for r in s["results"] if "error" not in r), key=lambda r: (SIZE_ORDER.index(r["size"]),
                                                                                r["key"] != "faqbot"))
    for r in rows:
        lines.append(f"| {r['phrasings']:,} | {r['system']} | {r['queries']:,} | {_ms(r['p50_ms'])} | "
                     f"{_ms(r['p99_ms'])} | {r['build_s']:.2f} s | {r['memory_mb']:.0f} MB |")
    for r in s["results"]:
        if "error" in r:
            lines.append(f"| {r['size']} | {r['key']} | failed: {' '.join(r['error'])} | | | | |")
    lines.append("")
    for key, why in s.get("skipped", {}).items():
        lines.append(f"- {key}: {why}")
    fb = {r["size"]: r for r in rows if r["key"] == "faqbot"}
    if "15k" in fb:
        r = fb["15k"]
        lines += ["", "### Goals", "", "| goal | target | measured | |", "|---|---|---|---|",
                  _goal("p99 per query at 15k", r["p99_ms"], 1.0, below=True, fmt=_ms, gap=_ms),
                  _goal("build at 15k", r["build_s"] * 1000, 5000, below=True, fmt=_ms, gap=_ms),
                  _goal("memory at 15k", r["memory_mb"], 200, below=True, fmt=_mb, gap=_mb)]
        if "150k" in fb:
            growth = fb["150k"]["p50_ms"] / r["p50_ms"]
            lines.append(f"| p50 growth 15k -> 150k (10x phrasings) | < 10x | {growth:.2f}x | "
                         f"{'met' if growth < 10 else 'missed'} |")
    lines += ["", "![Per-query latency against knowledge-base size](bench-scale-latency.png)", "",
              "![Build time and memory against knowledge-base size](bench-scale-build.png)", ""]
    return lines


def latency_section(lat: dict[str, Any]) -> list[str]:
    lines = ["## One question on the default knowledge base", "",
             (f"The bundled KB ({lat['entries']} entries, {lat['phrasings']} phrasings and questions; mode "
              f"{lat.get('mode', 'lexical')}) loads in {lat['load_s'] * 1000:.0f} ms in the benchmark's process. Each "
              f"of the answer suite's {lat['questions']} questions is asked {lat['rounds']} times after a warm-up "
              "round:"), "",
             "| call | p50 | p99 | questions per second (one core) |", "|---|---|---|---|",
             (f"| `bot.ask`, repeated question (safety, small talk, dialog, engine) | {_ms(lat['ask']['p50_ms'])} | "
              f"{_ms(lat['ask']['p99_ms'])} | {lat['ask']['per_second']:,.0f} |")]
    if "ask_new" in lat:
        lines.append(f"| `bot.ask`, a question never seen before (encoder cache emptied) | "
                     f"{_ms(lat['ask_new']['p50_ms'])} | {_ms(lat['ask_new']['p99_ms'])} | "
                     f"{lat['ask_new']['per_second']:,.0f} |")
    lines += [(f"| `bot.engine.rank` | {_ms(lat['rank']['p50_ms'])} | {_ms(lat['rank']['p99_ms'])} | "
               f"{lat['rank']['per_second']:,.0f} |"), ""]
    if "cold_s" in lat:
        lines += [(f"From `import faqbot` to a first answer in a fresh process: {lat['cold_s']:.2f} s with an empty "
                   f"vector cache (every phrasing embedded), {lat['warm_s']:.2f} s with a warm one."), ""]
    return lines


def load_section(load: dict[str, Any]) -> list[str]:
    by = {r["target"]: r for r in load["results"]}
    fb, echo = by.get("faqbot"), by.get("echo")
    if not fb or not echo:
        return []
    ratio = fb["throughput"] / echo["throughput"]
    m = load["machine"]
    lines = ["## Load: concurrent websocket clients", "",
             (f"`{load['command']}` (measured {load['when']}, {m['cpus']} CPUs, uvicorn {m['uvicorn']} with "
              f"`{m['uvicorn_ws']}`, websockets {m['websockets']}): {fb['clients']:,} clients on loopback, each "
              f"sending {fb['messages']} messages one after another, against the real server with the bundled KB "
              "and, in the same run, against a bare websocket echo server the script starts. The run with the "
              "median throughput of three is shown; the clients share the machine's two cores with the server."),
             "", "| target | connected | replies | lost | throughput | p50 round trip | p99 round trip |",
             "|---|---|---|---|---|---|---|"]
    rows = [(fb["target"], fb), (echo["target"], echo)]
    for name, label in (("load-workers2", "faqbot, `FAQBOT_WORKERS=2`"), ("load-logging", "faqbot, `--logging`")):
        extra = _load(name)
        if extra:
            rows += [(f"{label} (echo in that run: {e['throughput']:,.0f} msg/s)", r)
                     for r in extra["results"] if r["target"] == "faqbot"
                     for e in extra["results"] if e["target"] == "echo"]
    for label, r in rows:
        lines.append(f"| {label} | {r['connected']:,} | {r['replies']:,} | {r['lost']} | "
                     f"{r['throughput']:,.0f} msg/s | {r['p50_ms']:.0f} ms | {r['p99_ms']:.0f} ms |")
    lines += ["", "| goal | target | measured | |", "|---|---|---|---|",
              f"| lost replies at 1,000 clients | 0 | {fb['lost']} | {'met' if fb['lost'] == 0 else 'missed'} |",
              (f"| throughput vs bare echo | >= 50% | {ratio:.0%} | "
               f"{'met' if ratio >= 0.5 else f'missed by {50 - ratio * 100:.0f} points'} |"), "",
              ("The echo server does no work per message. faqbot runs the safety check, small talk, the dialog and "
               "the engine for each one: `bot.ask` alone takes the p50 in the default-KB table above, so one core "
               "could answer at most about 1 / p50 questions a second even with a free transport, which by itself "
               "caps the ratio well under the goal on this machine, where the 1,000 clients share the two cores "
               "with the server. `faqbot serve --workers 2` spreads the work over both cores in production; here "
               "it still competes with the load generator, as the `FAQBOT_WORKERS=2` row shows (same command with that "
               "variable set). The `--logging` row records every turn in the SQLite log, as `faqbot serve` does by "
               "default."), ""]
    return lines


ABUSE_LABELS = {
    "none": "no attack (same run)",
    "sockets": "60 websockets, 2,000-char messages at 2/s each",
    "api": "32 workers flooding `/api/ask` with 2,000-char questions",
    "slow": "1,500 sockets sending half a header",
    "bodies": "4 parallel 400 MB bodies",
    "mixed": "sockets + api + slow at once",
}


def abuse_section(abuse: dict[str, Any], before: dict[str, Any] | None) -> list[str]:
    """One machine against ten visitors (bench/abuse.py), with the previous server's run when there is one."""
    lines = ["## Abuse: one machine against the other visitors", "",
             ("`python -m bench.abuse` (issue 15): the real server (default KB and limits, logging on) on loopback; "
              "ten visitors on 127.0.0.2-11 each ask once a second over a websocket and over `/api/ask`, while an "
              "attacker process on 127.0.0.1 runs one scenario for 20 s. Attacker, visitors and server share the "
              "machine's two cores, and other jobs were running on it (the 1-minute load average after each "
              "scenario is shown), so single runs move a lot: back-to-back runs with no attack gave p99 from 13 to "
              "505 ms for the old server and 24 to 98 ms for this one. Rows marked *before* are the same benchmark "
              "against the server before issue 15 (commit ba609e7), run earlier on the same machine."), "",
             "| attack | visitors' ws p50 / p99 | `/api/ask` p50 / p99 | lost | what the attacker got | server peak RSS | load |",
             "|---|---|---|---|---|---|---|"]

    def rows(data: dict[str, Any], tag: str) -> list[str]:
        out = []
        for r in data["results"]:
            v = r["visitor"]
            got = ", ".join(f"{k} {n:,}" for k, n in r["attacker"].items()) or "-"
            out.append(f"| {tag}{ABUSE_LABELS.get(r['scenario'], r['scenario'])} | {v['ws'].get('p50_ms', 0):.0f} / "
                       f"{v['ws'].get('p99_ms', 0):.0f} ms | {v['http'].get('p50_ms', 0):.0f} / "
                       f"{v['http'].get('p99_ms', 0):.0f} ms | {sum(v['lost'].values()) if v['lost'] else 0} | {got} | "
                       f"{r['server_rss_mb']['peak']:.0f} MB | {r.get('load_average_1min_after', '-')} |")
        return out

    lines += rows(abuse, "")
    if before:
        lines += rows(before, "before: ")
    worst = max(max(r["visitor"]["ws"].get("p99_ms", 0), r["visitor"]["http"].get("p99_ms", 0))
                for r in abuse["results"] if r["scenario"] != "none")
    lost = sum(sum(r["visitor"]["lost"].values()) for r in abuse["results"])
    lines += ["", "| goal | target | measured | |", "|---|---|---|---|",
              f"| a single client cannot raise another visitor's p99 above | 100 ms | worst p99 {worst:.0f} ms | "
              f"{'met' if worst < 100 else 'missed'} |",
              f"| visitors' replies lost under attack | 0 | {lost} | {'met' if lost == 0 else 'missed'} |", "",
              ("Scenarios over 100 ms miss the goal; on this shared machine the visitors' p99 with no attack at "
               "all has ranged from ~20 to ~100 ms between runs, and the attacker's own process takes CPU from the "
               "same two cores, so a miss mixes both. In the latest run the many-sockets attack still pushed a few "
               "websocket replies past 400 ms (its `/api/ask` p99 stayed at 41 ms). The likely cause: the attacker's "
               "allowance lets 30 long messages arrive at once, and they filled the four turn threads ahead of "
               "everyone else. Since that run one address may hold at most half of the turn threads "
               "(`ClientLimits.busy`); an unsaved rerun of that scenario on a busier machine (load 5.6) gave p99 "
               "144 / 163 ms, with 263 / 224 ms for no attack in the same run, so it is not settled either way. "
               "What the limits change is clear in the medians and in what the attacker gets: the old server let "
               "one machine push every visitor's median wait to 0.5 to 5 s and hold 2.2 GB of body or 1,500 idle "
               "sockets; now the medians stay within a few milliseconds of the no-attack run, refused requests "
               "wait a second each, one address holds at most 44 sockets, and a body is cut off at 16 KB. A flood "
               "from many addresses (a botnet) is out of reach of per-address limits; put a CDN or the proxy's own "
               "limits in front."), ""]
    return lines


def faults_section(faults: dict[str, Any]) -> list[str]:
    by = {r["scenario"]: r for r in faults["results"]}
    lines = ["## Faults: Redis down, server stopped", "",
             ("`python -m bench.faults --clients 200` (issue 15): a real redis-server and the real server on "
              "loopback, 200 websocket visitors each asking every 0.5 s, every fifth message a crisis message. Redis "
              "is killed (or SIGSTOPped) 5 s in and back 7 s later. The log scenarios flood `/api/ask` with 32 "
              "workers for 10 s and send the signal while they are still asking. The soak is "
              "`python -m bench.faults --scenarios soak --clients 1000 --soak-seconds 600`."), "",
             "| scenario | replies | lost | crisis replies delivered | `/ready` red after | green again after | slowest reply |",
             "|---|---|---|---|---|---|---|"]
    for name in ("redis-kill", "redis-freeze"):
        r = by.get(name)
        if r:
            lines.append(f"| {name} | {r.get('replies', 0):,} | {r['lost']} | {r.get('crisis delivered', 0):,} of "
                         f"{r.get('crisis asked', 0):,} | {r['ready_red_after_s']} s | {r['ready_green_after_s']} s | "
                         f"{r['slowest_reply_ms']:,} ms |")
    lines += ["", "| scenario | turns answered | rows in the log | lost |", "|---|---|---|---|"]
    for name in ("log-sigterm", "log-sigkill"):
        r = by.get(name)
        if r:
            lines.append(f"| {name} | {r['answered']:,} | {r['rows']:,} | {r['lost_rows']} |")
    soak = by.get("soak")
    if soak:
        c = soak["counts"]
        ready = soak.get("ready_samples")
        seen = (f" `/ready` sampled every 0.5 s: {', '.join(f'{n:,} x {k}' for k, n in ready.items())}; the Redis "
                "restart accounts for a few 503s, the rest are the saturated process's event loop lagging past the "
                "0.3 s Redis timeout, which readiness reports as it should but which also sends sessions to memory "
                "for a moment." if ready else "")
        lines += ["", (f"Soak: {soak['clients']:,} visitors for {soak['seconds']:.0f} s with one Redis restart and one "
                       f"KB reload (HTTP {soak['reload']}): {c.get('replies', 0):,} replies, {soak['lost']} lost, "
                       f"{c.get('crisis delivered', 0):,} of {c.get('crisis asked', 0):,} crisis replies delivered, "
                       f"{soak['log_rows']:,} log rows after SIGTERM ({soak['lost_log_rows']} lost), slowest reply "
                       f"{soak['slowest_reply_ms']:,} ms (1,000 visitors every 0.5 s is more than one process on "
                       f"these two cores answers, so replies queue).{seen}")]
    lines += ["", ("SIGKILL loses what was queued and not yet committed; in these runs the writer kept up and the "
                   "queue was empty when the signal came, so nothing was lost. The bound is the queue (10,000 rows); "
                   "`/health` shows `log.queued` at any moment."), ""]
    return lines


def plots(q: dict[str, Any] | None, s: dict[str, Any] | None, docs: Path = DOCS) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if s:
        ok = [r for r in s["results"] if "error" not in r]
        systems = list(dict.fromkeys(r["system"] for r in ok))
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for name in systems:
            rs = sorted((r for r in ok if r["system"] == name), key=lambda r: r["phrasings"])
            line, = ax.plot([r["phrasings"] for r in rs], [r["p50_ms"] for r in rs], marker="o", label=f"{name} p50")
            ax.plot([r["phrasings"] for r in rs], [r["p99_ms"] for r in rs], ls="--", color=line.get_color(),
                    alpha=0.6)
        ax.axhline(1.0, color="grey", lw=0.8, ls=":")
        ax.set(xscale="log", yscale="log", xlabel="phrasings in the knowledge base",
               ylabel="ms per query (solid p50, dashed p99)", title="Query latency against KB size")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(docs / "bench-scale-latency.png", dpi=110)
        plt.close(fig)
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
        for name in systems:
            rs = sorted((r for r in ok if r["system"] == name), key=lambda r: r["phrasings"])
            a1.plot([r["phrasings"] for r in rs], [r["build_s"] for r in rs], marker="o", label=name)
            a2.plot([r["phrasings"] for r in rs], [max(r["memory_mb"], 0.1) for r in rs], marker="o", label=name)
        a1.set(xscale="log", yscale="log", xlabel="phrasings", ylabel="build time (s)", title="Build time")
        a2.set(xscale="log", yscale="log", xlabel="phrasings", ylabel="peak memory growth (MB)", title="Memory")
        a1.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(docs / "bench-scale-build.png", dpi=110)
        plt.close(fig)
    if q:
        fb = [r for r in q["results"] if r["key"] == "faqbot" and "calibration_balanced" in r]
        if fb:
            fig, ax = plt.subplots(figsize=(5, 5))
            ax.plot([0, 1], [0, 1], color="grey", ls=":")
            for r in fb:
                for split, cal in r["calibration_balanced"].items():
                    ax.plot([b["confidence"] for b in cal["bins"]], [b["accuracy"] for b in cal["bins"]], marker="o",
                            label=f"{r['per_intent']}/intent {split} (ECE {cal['ece']:.3f})")
            ax.set(xlabel="mean confidence in bin", ylabel="share answered right", title="Reliability on CLINC150 (balanced mix)")
            ax.legend(fontsize=8)
            fig.tight_layout()
            fig.savefig(docs / "bench-calibration.png", dpi=110)
            plt.close(fig)


KEEP = "<!-- written by hand: bench render keeps this section -->"
FAULTS_TITLE = "## Faults: Redis down, server stopped"


def _kept(previous: str, title: str) -> list[str] | None:
    """A section of the previous page that carries the KEEP marker (an analysis no template can write), as is."""
    start = previous.find(title + "\n")
    if start < 0:
        return None
    end = previous.find("\n## ", start + len(title))
    section = previous[start:] if end < 0 else previous[start:end + 1]
    return [*section.rstrip("\n").split("\n"), ""] if KEEP in section else None


def render(q: dict[str, Any] | None, s: dict[str, Any] | None, lat: dict[str, Any] | None,
           ablation: dict[str, Any] | None = None, previous: str = "") -> str:
    lines = ["# Benchmarks", "",
             ("Generated by `python -m bench render` from `bench/results/*.json`; reproduce with "
             "`pip install -e .[bench]`, then `python -m bench quality`, `python -m bench speed`, "
             "`python -m bench latency`, `python -m bench.load`, `python -m bench fusion`, `python -m bench thresholds`, "
             "`python -m bench safety` and `python -m bench render`."), ""]
    for data in (q, s, lat, ablation):
        if data:
            m = data["machine"]
            lines.append(f"- `{data['benchmark']}` measured {data['measured']} on Python {m['python']}, "
                         f"{m['cpus']} CPUs, {m['platform']}")
    lines.append("")
    if q:
        lines += quality_section(q)
    if s:
        lines += speed_section(s)
    if lat:
        lines += latency_section(lat)
    load = _load("load")
    if load:
        lines += load_section(load)
    for name, section in (("fusion", fusion_section), ("thresholds", thresholds_section),
                          ("safety", safety_section)):
        data = _load(name)
        if data:
            lines += section(data)
    abuse = _load("abuse")
    kept = _kept(previous, "## Abuse: one machine against the other visitors")
    if kept is not None:
        lines += kept
    elif abuse:
        lines += abuse_section(abuse, _load("abuse-before"))
    faults = _load("faults")
    kept = _kept(previous, FAULTS_TITLE)
    if kept is not None:
        lines += kept
    elif faults:
        lines += faults_section(faults)
    if ablation:
        lines += ["## What each part is worth (CLINC150 val, no threshold)", "",
                  ("`python -m bench quality --ablation`: faqbot with one option changed, top-1 on the 3,000 in-scope "
                  "val questions. Options are chosen on val; test is not looked at."), "",
                  "| setting | variant | val top-1 | p50 per question |", "|---|---|---|---|"]
        lines += [f"| {r['per_intent']}/intent | {r['variant']} | {_pct(r['val_top1'])} | {_ms(r['p50_ms'])} |"
                  for r in ablation["results"]]
        lines.append("")
    lines += [NOTES.strip(), ""]
    return "\n".join(lines)


def main(*, results: Path = RESULTS, docs: Path = DOCS) -> Path:
    q, s, lat = _load("quality", results), _load("speed", results), _load("latency", results)
    docs.mkdir(exist_ok=True)
    plots(q, s, docs)
    out = docs / "benchmarks.md"
    previous = out.read_text(encoding="utf-8") if out.is_file() else ""
    out.write_text(render(q, s, lat, _load("ablation", results), previous), encoding="utf-8")
    print(f"wrote {out}")
    return out
