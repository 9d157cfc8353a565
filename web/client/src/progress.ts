/** Interview progress (question n of m, time left) and reply latency, as the page shows them. */
import { hooks, type LatencyEntry } from "./hooks";
import { ui } from "./ui";

const PHASE_TEXT: Record<string, string> = {
  intro: "Introduction",
  wrap_up: "Wrapping up",
  closed: "Closed",
};

export function formatSeconds(total: number): string {
  const s = Math.max(0, Math.round(total));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/**
 * The candidate's voice at the microphone, from its level (0..1, 4x each chunk's RMS). Voice
 * starts with readings above VOICE_LEVEL for VOICE_RUN_MS (or one right after the voice, within
 * VOICE_GAP_MS: the dip between syllables) and lasts while the level stays above VOICE_HOLD_LEVEL
 * (a word's fading end). A room's hiss, raised by the browser's gain control, or a click or breath
 * after the last word is not voice: with every reading above 0.02 counted, a mouth click 1.25 s
 * after the last word of a real recording became "the end of your voice", and the page showed
 * 107 ms for a reply that came 1.3 s after it.
 */
const VOICE_LEVEL = 0.06;
const VOICE_HOLD_LEVEL = 0.03;
const VOICE_RUN_MS = 120;
const VOICE_GAP_MS = 200;
/** Bot audio level above which the interviewer counts as audible. */
const AUDIBLE_LEVEL = 0.01;

export class Progress {
  private deadline: number | null = null;
  private timer: number | undefined;
  private userStoppedAt: number | null = null;
  private currentLatency: LatencyEntry | null = null;
  /** When the candidate's voice was last heard at the microphone. */
  private lastVoiceAt: number | null = null;
  /** Whether the voice is under way (the latest reading was part of it). */
  private voicing = false;
  /** The first of the loud readings in a row not yet taken for voice. */
  private runStart: number | null = null;
  /** The voice-end time of a finished turn whose reply has not been heard yet. */
  private awaitingSince: number | null = null;

  /** Reset for a new session. */
  reset() {
    hooks.latencies.length = 0;
    this.userStoppedAt = null;
    this.lastVoiceAt = null;
    this.voicing = false;
    this.runStart = null;
    this.awaitingSince = null;
    this.currentLatency = null;
    this.deadline = null;
    ui.progress.textContent = "Starting";
    ui.timeLeft.textContent = "–";
    this.renderLatency();
  }

  /** The session is over: stop the clock. */
  stop() {
    if (this.deadline !== null) {
      window.clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** The candidate stopped speaking (or started again: ``null``). */
  userStopped(at: number | null) {
    this.userStoppedAt = at;
    // The reply is timed from the end of the voice the microphone heard, not the server's VAD.
    this.awaitingSince = at === null ? null : (this.lastVoiceAt ?? at);
  }

  /** The microphone's level, as the candidate speaks. */
  micLevel(level: number, now: number) {
    if (this.voicing && level > VOICE_HOLD_LEVEL) {
      this.lastVoiceAt = now;
      return;
    }
    this.voicing = false;
    if (level <= VOICE_LEVEL) {
      this.runStart = null;
      return;
    }
    this.runStart ??= now;
    const resumed = this.lastVoiceAt !== null && now - this.lastVoiceAt <= VOICE_GAP_MS;
    if (resumed || now - this.runStart >= VOICE_RUN_MS) {
      this.voicing = true;
      this.runStart = null;
      this.lastVoiceAt = now;
    }
  }

  /** The bot's audio level as it plays: the first audible sound of a reply ends the wait. */
  botLevel(level: number, now: number) {
    if (level <= AUDIBLE_LEVEL || this.awaitingSince === null) return;
    const since = this.awaitingSince;
    this.awaitingSince = null;
    // The candidate spoke again before the reply was heard (it talked over them): no wait to time.
    if (this.lastVoiceAt !== null && this.lastVoiceAt > since) return;
    const ms = now - since;
    if (!this.currentLatency || this.currentLatency.voice_ms !== undefined) {
      hooks.latencies.push((this.currentLatency = {}));
    }
    this.currentLatency.voice_ms = ms;
    this.renderLatency();
  }

  private tick() {
    if (this.deadline === null) return;
    ui.timeLeft.textContent = formatSeconds((this.deadline - Date.now()) / 1000);
  }

  /** A progress message: question n of m, phase, time left. */
  onProgress(msg: Record<string, unknown>) {
    const q = Number(msg.question);
    const total = Number(msg.total);
    const phase = typeof msg.phase === "string" ? msg.phase : "";
    if (phase === "questions" && Number.isFinite(q) && Number.isFinite(total) && total > 0) {
      ui.progress.textContent = `Question ${q} of ${total}`;
    } else if (phase in PHASE_TEXT) {
      const extra = Number.isFinite(total) && total > 0 ? ` · ${total} questions` : "";
      ui.progress.textContent = `${PHASE_TEXT[phase]}${phase === "intro" ? extra : ""}`;
    } else if (Number.isFinite(q) && Number.isFinite(total) && total > 0) {
      ui.progress.textContent = `Question ${q} of ${total}`;
    }
    const left = Number(msg.time_left_s);
    if (Number.isFinite(left)) {
      this.deadline = Date.now() + left * 1000;
      this.tick();
      if (this.timer === undefined) this.timer = window.setInterval(() => this.tick(), 1000);
    }
  }

  private renderLatency() {
    const last = hooks.latencies[hooks.latencies.length - 1];
    if (!last) {
      ui.latency.textContent = "–";
      return;
    }
    // The main figure is what the candidate lived: the end of their voice at the microphone to
    // the interviewer's first audible sound. The server's figure (from its own turn start) and
    // the VAD-based one are details.
    const main = last.voice_ms ?? last.client_ms ?? last.server_ms ?? 0;
    const details: string[] = [];
    if (last.voice_ms !== undefined) details.push("end of your voice to the first sound");
    if (last.server_ms !== undefined) details.push(`server ${Math.round(last.server_ms)} ms`);
    const all = hooks.latencies
      .map((l) => l.voice_ms ?? l.client_ms ?? l.server_ms)
      .filter((v): v is number => v !== undefined);
    if (all.length > 1) details.push(`avg ${Math.round(all.reduce((a, b) => a + b, 0) / all.length)} ms over ${all.length}`);
    const small = document.createElement("small");
    small.textContent = details.join(" · ");
    ui.latency.replaceChildren(document.createTextNode(`${Math.round(main)} ms`), small);
  }

  /** The first bot audio of a reply arrived: time it from the end of the candidate's speech. */
  botAudio() {
    if (this.userStoppedAt === null) return;
    const ms = performance.now() - this.userStoppedAt;
    this.userStoppedAt = null;
    if (!this.currentLatency || this.currentLatency.client_ms !== undefined || this.awaitingSince !== null) {
      hooks.latencies.push((this.currentLatency = {}));
    }
    this.currentLatency.client_ms = ms;
    this.renderLatency();
  }

  /** The server's voice-to-voice figure for the reply that just started. */
  serverLatency(ms: number) {
    // The server reports the reply that just started: attach it to the latest measurement.
    if (this.currentLatency && this.currentLatency.server_ms === undefined) this.currentLatency.server_ms = ms;
    else hooks.latencies.push((this.currentLatency = { server_ms: ms }));
    this.renderLatency();
  }
}
