/**
 * The microphone meter: a bar that shows how loud the candidate is.
 *
 * A level comes with every recorded chunk (about 31 a second); the bar is drawn only on the
 * avatar's frames (`draw`), with the loudest level since the frame before, so a short
 * syllable still shows. Between levels it falls back smoothly (RELEASE_S), and to zero once
 * the levels stop. Drawn with each chunk, or eased by a CSS transition (which runs at the
 * display's rate), it cost the page frames of its own while the candidate spoke: Chromium
 * 3.8-5.5 points of a core (benchmarks/page_cpu.py), taken from the models transcribing them.
 * window.__micMeter is the meter, for tests and benchmarks.
 */

declare global {
  interface Window {
    __micMeter?: MicMeter;
  }
}

/** Time constant of the bar's fall once the voice gets quieter (seconds). */
const RELEASE_S = 0.12;

export class MicMeter {
  private peak = 0;
  private shown = 0;
  private pct = -1;
  private last = 0;

  constructor(
    private readonly meter: HTMLElement,
    private readonly bar: HTMLElement,
  ) {
    window.__micMeter = this;
  }

  /** A microphone level (0..1, the RMS of a chunk scaled by the media manager). */
  push(level: number) {
    if (Number.isFinite(level) && level > this.peak) this.peak = Math.min(1, level);
  }

  /** Draw the loudest level since the last frame, or the bar falling from the one before. */
  draw(now: number) {
    const dt = this.last ? Math.max(0, now - this.last) / 1000 : 0;
    this.last = now;
    const target = Math.sqrt(this.peak);
    this.peak = 0;
    this.shown = Math.max(target, this.shown * Math.exp(-dt / RELEASE_S));
    const pct = Math.round(this.shown * 100);
    if (pct === this.pct) return;
    this.pct = pct;
    this.bar.style.transform = `scaleX(${pct / 100})`;
    this.meter.setAttribute("aria-valuenow", String(pct));
  }
}
