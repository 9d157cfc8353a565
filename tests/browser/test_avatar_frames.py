"""The avatar's frame rate in Chromium: it draws at 15 frames a second at rest and at 30 while
it speaks or changes face, not at the display's rate (60 here), and its mouth still follows
the bot's level. The built client alone, from a static server: no interviewer server, no model.
Its CPU figures are benchmarks/page_cpu.py's."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.browser.chromium import launch, static_site

pytestmark = pytest.mark.browser

DIST = Path(__file__).resolve().parents[2] / "web" / "client" / "dist"
REST_FPS = 15  # web/client/src/avatar.ts
BUSY_FPS = 30
SETTLE_S = 1.6
BLINKS = 3  # frames a second that two blinks in three seconds may add at rest

WATCH = """
() => {
  const root = document.getElementById('avatar');
  const head = root.querySelector('.av-head'), inner = root.querySelector('.av-mouth-inner');
  window.__watch = {head: 0, mouth: 0, open: 0};
  new MutationObserver(() => { window.__watch.head += 1; })
    .observe(head, {attributes: true, attributeFilter: ['transform']});
  new MutationObserver(() => {
    window.__watch.mouth += 1;
    window.__watch.open = Math.max(window.__watch.open, Number(inner.getAttribute('opacity')));
  }).observe(inner, {attributes: true, attributeFilter: ['d']});
}
"""

SPEAK = """
() => {
  const a = window.__avatar;
  a.setExpression('speaking');
  let n = 0;  // the page's player reports the bot's level every 33 ms
  window.__level = setInterval(() => a.setLevel(0.4 + 0.35 * Math.sin(n++ * 0.9)), 33);
}
"""


def _rates(page, seconds: float) -> dict[str, float]:
    """Head and mouth writes a second over ``seconds``, and how far the mouth opened."""
    page.evaluate("() => { Object.assign(window.__watch, {head: 0, mouth: 0, open: 0}); }")
    time.sleep(seconds)
    seen = page.evaluate("() => window.__watch")
    return {"head": seen["head"] / seconds, "mouth": seen["mouth"] / seconds, "open": seen["open"]}


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    assert (DIST / "index.html").exists(), "the client is not built (make client)"
    with static_site(DIST) as url, sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("#avatar .av-head")
            refresh = page.evaluate(
                "() => new Promise(r => { let n = 0; const t0 = performance.now();"
                " const f = () => (++n, performance.now() - t0 < 1000"
                " ? requestAnimationFrame(f) : r(n)); requestAnimationFrame(f); })"
            )
            assert refresh > 45, f"the display ticks {refresh}/s: too slow to tell the rates apart"
            page.evaluate(WATCH)
            time.sleep(SETTLE_S + 0.2)  # past the first face's easing
            yield page
        finally:
            browser.close()


def test_the_face_at_rest_draws_15_frames_a_second_not_the_displays_60(page):
    rest = _rates(page, 3.0)
    print(f"at rest: {rest}")
    # It breathes at 15 frames a second; a blink (160 ms, every 1.8 s or more) draws at 30.
    assert 8 <= rest["head"] <= REST_FPS + BLINKS


def test_speaking_draws_30_frames_a_second_and_the_mouth_follows_the_level(page):
    page.evaluate(SPEAK)
    try:
        time.sleep(0.3)
        speaking = _rates(page, 2.0)
    finally:
        page.evaluate("() => { clearInterval(window.__level); window.__avatar.setLevel(0); }")
    print(f"speaking: {speaking}")
    assert 20 <= speaking["head"] <= BUSY_FPS + 1
    assert 20 <= speaking["mouth"] <= BUSY_FPS + 1  # the mouth moves on every frame
    assert speaking["open"] > 0.9  # and opens with the level


def test_a_change_of_face_eases_at_30_then_rests_at_15(page):
    page.evaluate("() => window.__avatar.setExpression('thinking')")
    easing = _rates(page, 1.0)
    time.sleep(SETTLE_S - 1.0 + 0.3)
    rested = _rates(page, 3.0)
    print(f"easing: {easing}, then: {rested}")
    assert easing["head"] >= 20
    assert rested["head"] <= REST_FPS + BLINKS
