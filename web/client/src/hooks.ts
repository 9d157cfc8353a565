/**
 * What the page exposes for tests and diagnostics (window.__interviewer), and its types.
 */

export type State = "idle" | "connecting" | "loading" | "listening" | "thinking" | "speaking" | "ended" | "error";
export type Role = "candidate" | "interviewer";

export interface TranscriptEntry {
  role: Role;
  text: string;
  /** Interim (not yet final) candidate words, shown while they speak. */
  interim?: string;
}

export interface LatencyEntry {
  /** The end of the candidate's voice at the microphone to the reply's first audible sound. */
  voice_ms?: number;
  /** Voice-to-voice as the server measured it (latency message). */
  server_ms?: number;
  /** End of the candidate's speech (user-stopped-speaking) to the first bot audio here. */
  client_ms?: number;
}

export interface InterviewerHooks {
  /** The connection of the last interview started: "websocket" or "daily". */
  connection: string;
  transcript: TranscriptEntry[];
  botAudioChunks: number;
  botAudioDropped: number;
  /** Times the page cut bot audio that was playing (barge-in). */
  bargeIns: number;
  /** Highest microphone level seen (0..1). */
  micLevelMax: number;
  remoteLevelSamples: number;
  states: State[];
  latencies: LatencyEntry[];
  serverMessages: unknown[];
  errors: string[];
  /** performance.now() marks (ms since page load). */
  timing: Record<string, number>;
  /** Timeline of RTVI events, cuts and audible bot audio: [ms since page load, name]. */
  events: [number, string][];
}

declare global {
  interface Window {
    __interviewer: InterviewerHooks;
  }
}

export const hooks: InterviewerHooks = {
  connection: "",
  transcript: [],
  botAudioChunks: 0,
  botAudioDropped: 0,
  bargeIns: 0,
  micLevelMax: 0,
  remoteLevelSamples: 0,
  states: [],
  latencies: [],
  serverMessages: [],
  errors: [],
  timing: {},
  events: [],
};
window.__interviewer = hooks;

let lastAudibleLog = 0;

export function logEvent(name: string) {
  const t = Math.round(performance.now());
  if (name === "audible") {
    // One entry per 100 ms of audible bot audio is enough.
    if (t - lastAudibleLog < 100) return;
    lastAudibleLog = t;
  }
  hooks.events.push([t, name]);
  if (hooks.events.length > 5000) hooks.events.splice(0, 1000);
}

export function mark(name: string) {
  if (!(name in hooks.timing)) hooks.timing[name] = Math.round(performance.now());
}
