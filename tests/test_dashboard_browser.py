"""The dashboard page (``faqbot report --format html``) in headless Debian chromium: charts drawn, rates right."""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from conftest import SMALL_KB
from playwright.sync_api import Browser

from faqbot import Recorder
from faqbot.cli import main
from faqbot.models import Reply, ReplyType

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]
ANSWER = Reply(ReplyType.ANSWER, "..", entry="booking", confidence=1.0)
FALLBACK = Reply(ReplyType.FALLBACK, "Sorry.")


@pytest.fixture
def page_file(tmp_path: Path) -> Path:
    """Two days of log: a busy day with 3 of 4 turns answered, a quiet day with 1 of 2; votes on the busy day."""
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "faq.yaml").write_text(SMALL_KB, encoding="utf-8")
    log = tmp_path / "log.sqlite3"
    with Recorder(log) as rec:
        for i, (text, reply) in enumerate([("book", ANSWER), ("book it", ANSWER), ("booking", ANSWER),
                                           ("can I bring my dog", FALLBACK)]):
            rec.record_turn("session-busy-xxxxxxxx", f"t{i}", text, reply, "test")
        rec.record_feedback("session-busy-xxxxxxxx", "t0", "up")
        rec.record_feedback("session-busy-xxxxxxxx", "t1", "down")
        for i, (text, reply) in enumerate([("book", ANSWER), ("what about parking", FALLBACK)]):
            rec.record_turn("session-quiet-xxxxxxx", f"t{i}", text, reply, "test")
    with sqlite3.connect(log) as db:
        db.execute("UPDATE turns SET ts = ? WHERE session = (SELECT session FROM turns WHERE text = "
                   "'what about parking')", (time.time() - 86_400,))
    out = io.StringIO()
    assert main(["report", "--db", str(log), "-k", str(kb), "--format", "html"], out=out) == 0
    path = tmp_path / "dashboard.html"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def test_dashboard_draws_one_full_height_bar_per_day_split_by_rate(browser: Browser, page_file: Path,
                                                                    tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(page_file.as_uri())
    bars = page.eval_on_selector_all(
        "svg.rates rect.bar", "els => els.map(e => [e.dataset.day, e.dataset.series, "
                              "e.getBoundingClientRect().height])")
    days = sorted({d for d, _, _ in bars})
    assert len(days) == 2
    heights = {(d, s): h for d, s, h in bars}
    full = [sum(h for (d, _), h in heights.items() if d == day) for day in days]
    assert full[0] == pytest.approx(full[1], abs=1)  # rates, not sums: a quiet day is as tall as a busy one
    quiet, busy = days
    assert heights[(quiet, "answer")] == pytest.approx(full[0] / 2, abs=1)
    assert heights[(busy, "answer")] == pytest.approx(full[1] * 3 / 4, abs=1)
    assert page.inner_text(".tile[data-rate='answer'] b") == "67%"  # 4 of 6 turns
    assert page.inner_text(".tile[data-rate='up'] b") == "50%"
    assert page.locator("svg.votes rect.bar").count() == 1
    assert "faqbot accept" in page.inner_text("table.proposals")
    assert requests == [page_file.as_uri()]  # self-contained: nothing else fetched
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    if os.environ.get("FAQBOT_SCREENSHOTS"):
        shutil.copy(tmp_path / "dashboard.png", os.environ["FAQBOT_SCREENSHOTS"])
    assert (tmp_path / "dashboard.png").stat().st_size > 5000
    page.close()
