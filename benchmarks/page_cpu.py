"""What the page costs the machine: Chromium's CPU while the avatar rests, speaks, listens, thinks.

Serves the built client (web/client/dist) from a loopback static server, opens it in Debian's
headless Chromium and, for each phase, sums the CPU time of every Chromium process over the
window, with the avatar's frames a second (its head's transform written, seen by a
MutationObserver):

- rest: the page as it opens (the face breathes, blinks, its gaze drifts);
- speaking: the face speaking, fed a bot level every 33 ms as the page's player does;
- listening: the face listening and the microphone meter fed a level every 32 ms, one per
  recorded chunk as the page's recorder gives them (window.__micMeter.push);
- thinking: the face thinking, as it does from the end of each answer to the reply's first
  audio (its three dots pulse), the time the server's STT, LLM and TTS are busiest;
- no frames: the same page with requestAnimationFrame stubbed out (the page without its face).

On a laptop the page has a machine of its own; run locally (`make run`) it shares two cores
with Whisper and the LLM, so every per cent here is taken from them. Run it on a quiet
machine. Needs the client built (`make client`) and /usr/bin/chromium.

    python benchmarks/page_cpu.py [--seconds 10] [--rounds 3] [--dist DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.chromium import launch, static_site  # noqa: E402

DIST = ROOT / "web" / "client" / "dist"
TICKS = os.sysconf("SC_CLK_TCK")

COUNT_FRAMES = """
() => {
  window.__frames = 0;
  const head = document.querySelector('#avatar .av-head');
  new MutationObserver(r => { window.__frames += r.length; })
    .observe(head, {attributes: true, attributeFilter: ['transform']});
}
"""

SPEAK = """
() => {
  const a = window.__avatar;
  a.setExpression('speaking');
  let n = 0;
  window.__speaking = setInterval(() => a.setLevel(0.35 + 0.3 * Math.sin(n++ * 0.9)), 33);
}
"""

LISTEN = """
() => {
  window.__avatar.setExpression('listening');
  let n = 0;
  window.__listening = setInterval(() => window.__micMeter.push(0.3 + 0.25 * Math.sin(n++ * 0.7)), 32);
}
"""

THINK = "() => window.__avatar.setExpression('thinking')"

SETUP = {"speaking": SPEAK, "listening": LISTEN, "thinking": THINK}


def chromium_cpu_s() -> float:
    """CPU seconds (user + system) of every running Chromium process.

    Its binary's folder is named for it: /usr/bin/chromium is a script that runs
    /usr/lib/chromium/chromium.
    """
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if "chromium" not in os.path.dirname(os.path.realpath(f"/proc/{pid}/exe")):
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def measure(page, seconds: float) -> tuple[float, float]:
    """(Chromium's CPU in % of a core, avatar frames a second) over ``seconds``."""
    page.evaluate("() => { window.__frames = 0; }")
    cpu0, t0 = chromium_cpu_s(), time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    cpu = 100 * (chromium_cpu_s() - cpu0) / elapsed
    return cpu, page.evaluate("() => window.__frames") / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="length of one measurement")
    ap.add_argument("--rounds", type=int, default=3, help="measurements per phase")
    ap.add_argument(
        "--dist", type=Path, default=DIST, help="a built client (default web/client/dist)"
    )
    args = ap.parse_args()
    if not (args.dist / "index.html").exists():
        sys.exit(f"{args.dist} has no built client: run `make client` first")
    if chromium_cpu_s():
        print("warning: Chromium is already running; its CPU is counted too")

    results: dict[str, list[tuple[float, float]]] = {}
    with static_site(args.dist) as url, sync_playwright() as pw:
        browser = launch(pw)
        for phase in ("rest", "speaking", "listening", "thinking", "no frames"):
            page = browser.new_page()
            if phase == "no frames":
                page.add_init_script("window.requestAnimationFrame = () => 0;")
            page.goto(url)
            page.wait_for_selector("#avatar .av-head")
            page.evaluate(COUNT_FRAMES)
            if phase in SETUP:
                page.evaluate(SETUP[phase])
            time.sleep(2.0)  # past the page's start and the first change of face
            results[phase] = [measure(page, args.seconds) for _ in range(args.rounds)]
            for cpu, fps in results[phase]:
                print(
                    f"{phase:9s}  Chromium {cpu:5.1f} % of a core, avatar {fps:5.1f} frames/s",
                    flush=True,
                )
            page.close()
        browser.close()

    summary = ", ".join(
        f"{phase} {statistics.median(c for c, _ in r):.1f} % at {statistics.median(f for _, f in r):.0f} fps"
        for phase, r in results.items()
    )
    print(f"RESULT page CPU (median of {args.rounds} x {args.seconds:.0f} s): {summary}")


if __name__ == "__main__":
    main()
