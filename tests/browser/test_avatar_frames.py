"""The avatar's frame rate in Chromium: it draws at 15 frames a second at rest and at 30 while
it speaks or changes face, not at the display's rate (60 here), and its mouth still follows
the bot's level. The microphone meter is drawn on the face's frames, not on each of the 31
levels a second the recorder gives, and the thinking face's dots pulse on its frames, not in a
CSS animation at the display's rate. The built client alone, from a static server: no
interviewer server, no model. Its CPU figures are benchmarks/page_cpu.py's."""

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

LISTEN = """
() => {
  window.__avatar.setExpression('listening');
  let n = 0;  // the page's recorder gives a microphone level with each 32 ms chunk
  window.__mic = setInterval(() => window.__micMeter.push(0.3 + 0.25 * Math.sin(n++ * 0.7)), 32);
}
"""

METER_WATCH = """
() => {
  const head = document.querySelector('#avatar .av-head'), bar = document.getElementById('mic-bar');
  window.__meter = {draws: 0, alone: 0};
  const seen = new MutationObserver(records => {
    if (!records.some(r => r.target === bar)) return;
    window.__meter.draws += 1;
    // Writes in one task arrive together: a meter drawn in a frame of its own comes alone.
    if (!records.some(r => r.target === head)) window.__meter.alone += 1;
  });
  seen.observe(head, {attributes: true, attributeFilter: ['transform']});
  seen.observe(bar, {attributes: true, attributeFilter: ['style']});
}
"""


METER_READ = """
() => {
  const bar = document.getElementById('mic-bar');
  const m = /scaleX\\(([0-9.]+)\\)/.exec(bar.style.transform);
  return {scale: m ? Number(m[1]) : 0,
          now: Number(document.getElementById('mic-meter').getAttribute('aria-valuenow'))};
}
"""

LOUD_THEN_QUIET = (
    "() => new Promise(resolve => { const read = "
    + METER_READ.strip()
    + """;
  const seen = new MutationObserver(() => { seen.disconnect(); resolve(read()); });
  seen.observe(document.getElementById('mic-bar'), {attributes: true, attributeFilter: ['style']});
  window.__micMeter.push(0.64);
  window.__micMeter.push(0.01);
})"""
)

DOTS_WATCH = """
() => {
  const head = document.querySelector('#avatar .av-head');
  const dots = [...document.querySelectorAll('#avatar .av-dot')];
  window.__dots = {draws: 0, alone: 0, low: 1, high: 0};
  const seen = new MutationObserver(records => {
    const written = records.filter(r => dots.includes(r.target));
    if (!written.length) return;
    window.__dots.draws += 1;
    if (!records.some(r => r.target === head)) window.__dots.alone += 1;
    for (const r of written) {
      const o = Number(r.target.getAttribute('opacity'));
      window.__dots.low = Math.min(window.__dots.low, o);
      window.__dots.high = Math.max(window.__dots.high, o);
    }
  });
  seen.observe(head, {attributes: true, attributeFilter: ['transform']});
  for (const d of dots) seen.observe(d, {attributes: true, attributeFilter: ['opacity']});
}
"""

DOTS_SHOWN = """
() => {
  const dots = document.querySelector('#avatar .av-dots');
  return Number(getComputedStyle(dots).opacity);
}
"""


def _dots(page, seconds: float) -> dict[str, float]:
    """The dots' drawings over ``seconds`` (how many, how many outside the face's frames, the
    faintest and brightest dot drawn)."""
    page.evaluate("() => { Object.assign(window.__dots, {draws: 0, alone: 0, low: 1, high: 0}); }")
    time.sleep(seconds)
    return page.evaluate("() => window.__dots")


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


def test_the_microphone_meter_is_drawn_on_the_faces_frames_not_on_every_level(page):
    transition = page.evaluate(
        "() => getComputedStyle(document.getElementById('mic-bar')).transitionDuration"
    )
    assert transition == "0s", "a CSS transition draws the meter at the display's rate"
    page.evaluate(METER_WATCH)
    page.evaluate(LISTEN)
    try:
        time.sleep(SETTLE_S + 0.3)  # the listening face rests at 15 frames a second
        page.evaluate("() => { Object.assign(window.__meter, {draws: 0, alone: 0}); }")
        time.sleep(3.0)
        meter = page.evaluate("() => window.__meter")
    finally:
        page.evaluate("() => clearInterval(window.__mic)")
    print(f"meter over 3 s: {meter}")
    assert meter["draws"] / 3.0 >= 8  # it moves with the voice
    assert meter["draws"] / 3.0 <= REST_FPS + BLINKS  # not 31 times a second
    assert meter["alone"] == 0  # each in one of the face's frames


def test_the_meter_shows_the_loudest_level_since_its_last_frame_then_falls_to_zero(page):
    page.evaluate("() => window.__avatar.setExpression('listening')")
    # A loud chunk and a quiet one, both before the next frame: the loud one is drawn.
    loud = page.evaluate(LOUD_THEN_QUIET)
    time.sleep(1.0)  # no more levels: the microphone stopped
    after = page.evaluate(METER_READ)
    print(f"loud chunk: {loud}, 1 s later: {after}")
    assert loud["scale"] == 0.8 and loud["now"] == 80  # sqrt(0.64): its first drawing
    assert after["scale"] == 0 and after["now"] == 0


def test_the_thinking_dots_pulse_on_the_faces_frames_then_hide_and_stop(page):
    page.evaluate(DOTS_WATCH)
    page.evaluate("() => window.__avatar.setExpression('thinking')")
    time.sleep(SETTLE_S + 0.3)  # the thinking face rests at 15 frames a second
    animation = page.evaluate(
        "() => getComputedStyle(document.querySelector('#avatar .av-dot')).animationName"
    )
    assert animation == "none", "a CSS animation draws the dots at the display's rate"
    thinking = _dots(page, 2.5)  # two of its 1.2 s pulses
    shown = page.evaluate(DOTS_SHOWN)
    page.evaluate("() => window.__avatar.setExpression('listening')")
    time.sleep(1.0)  # they fade out
    hidden = page.evaluate(DOTS_SHOWN)
    after = _dots(page, 2.0)
    print(f"thinking: {thinking} (shown {shown}), listening: {after} (shown {hidden})")
    assert 8 <= thinking["draws"] / 2.5 <= REST_FPS + BLINKS  # with the face, not 60 a second
    assert thinking["alone"] == 0  # each in one of the face's frames
    assert thinking["low"] <= 0.35 and thinking["high"] >= 0.9  # they pulse
    assert shown == 1.0
    assert hidden == 0.0
    assert after["draws"] == 0  # hidden dots are not drawn


def test_with_reduced_motion_the_thinking_dots_hold_still(page):
    context = page.context.browser.new_context(reduced_motion="reduce")
    try:
        still = context.new_page()
        still.goto(page.url)
        still.wait_for_selector("#avatar .av-head")
        still.evaluate(DOTS_WATCH)
        still.evaluate("() => window.__avatar.setExpression('thinking')")
        time.sleep(0.8)
        shown = still.evaluate(DOTS_SHOWN)
        dots = _dots(still, 1.5)
    finally:
        context.close()
    print(f"reduced motion, thinking: {dots} (shown {shown})")
    assert shown == 1.0
    assert dots["draws"] == 0  # drawn once, then left alone
