/**
 * Interviewer browser client: pipecat RTVI over WebSocket with an animated avatar.
 *
 * SDK: @pipecat-ai/client-js (PipecatClient) + @pipecat-ai/websocket-transport
 * (WebSocketTransport with our WavMediaManager subclass, see media.ts).
 * Every piece of server or user text reaches the page through textContent.
 */
import {
  PipecatClient,
  RTVIMessage,
  StartBotError,
  TransportStartError,
  type BotOutputData,
  type PipecatClientOptions,
  type TranscriptData,
  type TransportState,
} from "@pipecat-ai/client-js";
import { WebSocketTransport } from "@pipecat-ai/websocket-transport";
import { Avatar, EMOTIONS, EXPRESSIONS, type Emotion, type Expression } from "./avatar";
import { InterviewMediaManager } from "./media";
import "./style.css";

// ---------------------------------------------------------------------------
// Types and test hooks

type State = "idle" | "connecting" | "loading" | "listening" | "thinking" | "speaking" | "ended" | "error";
type Role = "candidate" | "interviewer";

interface TranscriptEntry {
  role: Role;
  text: string;
  /** Interim (not yet final) candidate words, shown while they speak. */
  interim?: string;
}

interface LatencyEntry {
  /** Voice-to-voice as the server measured it (latency message). */
  server_ms?: number;
  /** End of the candidate's speech (user-stopped-speaking) to the first bot audio here. */
  client_ms?: number;
}

interface InterviewerHooks {
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

const hooks: InterviewerHooks = {
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

function logEvent(name: string) {
  const t = Math.round(performance.now());
  if (name === "audible") {
    // One entry per 100 ms of audible bot audio is enough.
    if (t - lastAudibleLog < 100) return;
    lastAudibleLog = t;
  }
  hooks.events.push([t, name]);
  if (hooks.events.length > 5000) hooks.events.splice(0, 1000);
}

function mark(name: string) {
  if (!(name in hooks.timing)) hooks.timing[name] = Math.round(performance.now());
}

// ---------------------------------------------------------------------------
// Elements

function $<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing #${id}`);
  return node as T;
}

const ui = {
  status: $<HTMLParagraphElement>("status"),
  stateLabel: $<HTMLParagraphElement>("state-label"),
  avatar: $<HTMLDivElement>("avatar"),
  progress: $<HTMLElement>("progress"),
  timeLeft: $<HTMLElement>("time-left"),
  latency: $<HTMLElement>("latency"),
  micMeter: $<HTMLDivElement>("mic-meter"),
  micBar: $<HTMLDivElement>("mic-bar"),
  notice: $<HTMLDivElement>("notice"),
  error: $<HTMLDivElement>("error"),
  report: $<HTMLParagraphElement>("report"),
  reportLink: $<HTMLAnchorElement>("report-link"),
  form: $<HTMLFormElement>("setup"),
  fields: $<HTMLFieldSetElement>("fields"),
  mode: $<HTMLSelectElement>("mode"),
  name: $<HTMLInputElement>("name"),
  role: $<HTMLInputElement>("role"),
  jobDescription: $<HTMLTextAreaElement>("job_description"),
  resume: $<HTMLTextAreaElement>("resume"),
  start: $<HTMLButtonElement>("start"),
  stop: $<HTMLButtonElement>("stop"),
  transcript: $<HTMLOListElement>("transcript"),
};

const avatar = new Avatar(ui.avatar);

// ---------------------------------------------------------------------------
// State

const STATE_TEXT: Record<State, string> = {
  idle: "Ready",
  connecting: "Connecting…",
  loading: "Preparing the interviewer…",
  listening: "Listening",
  thinking: "Thinking…",
  speaking: "Speaking",
  ended: "Interview ended",
  error: "Stopped",
};

let state: State = "idle";

function setState(next: State) {
  if (state === next && hooks.states.length) return;
  state = next;
  document.body.dataset.state = next;
  hooks.states.push(next);
  ui.stateLabel.textContent = STATE_TEXT[next];
  const inSession = !["idle", "ended", "error"].includes(next);
  ui.fields.disabled = inSession;
  ui.fields.hidden = inSession;
  ui.start.disabled = inSession || modesLoaded === false;
  ui.start.hidden = inSession;
  ui.stop.hidden = !inSession;
  ui.start.textContent = next === "ended" || next === "error" ? "Start again" : "Start";
}

function setStatus(text: string) {
  ui.status.textContent = text;
}

function showError(text: string) {
  hooks.errors.push(text);
  ui.error.textContent = text;
  ui.error.hidden = false;
}

function clearError() {
  ui.error.textContent = "";
  ui.error.hidden = true;
}

function showNotice(text: string) {
  ui.notice.textContent = text;
  ui.notice.hidden = !text;
}

function setExpression(expression: Expression) {
  avatar.setExpression(expression);
}

// ---------------------------------------------------------------------------
// Transcript

interface Line {
  entry: TranscriptEntry;
  li: HTMLLIElement;
  textEl: HTMLSpanElement;
  interimEl: HTMLSpanElement;
  open: boolean;
  segments: Map<string, string>;
}

const lines: Line[] = [];
let botLineNeeded = true;
let segmentCounter = 0;

function addLine(role: Role): Line {
  for (const l of lines) l.open = false;
  const entry: TranscriptEntry = { role, text: "" };
  hooks.transcript.push(entry);
  const li = document.createElement("li");
  li.className = role;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = role === "candidate" ? "You" : "Interviewer";
  const textEl = document.createElement("span");
  textEl.className = "text";
  const interimEl = document.createElement("span");
  interimEl.className = "interim";
  li.append(who, textEl, interimEl);
  ui.transcript.appendChild(li);
  const line: Line = { entry, li, textEl, interimEl, open: true, segments: new Map() };
  lines.push(line);
  return line;
}

function scrollTranscript() {
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
}

function openLine(role: Role): Line {
  const last = lines[lines.length - 1];
  if (last && last.open && last.entry.role === role) return last;
  return addLine(role);
}

function onUserTranscript(data: TranscriptData) {
  const text = typeof data?.text === "string" ? data.text.trim() : "";
  const line = openLine("candidate");
  if (data.final) {
    if (text) line.entry.text = `${line.entry.text} ${text}`.trim();
    line.entry.interim = undefined;
    line.textEl.textContent = line.entry.text;
    line.interimEl.textContent = "";
  } else {
    line.entry.interim = text;
    line.interimEl.textContent = text ? (line.entry.text ? ` ${text}` : text) : "";
  }
  if (!line.entry.text && !line.entry.interim) {
    // Nothing to show (an empty final): drop the empty line again.
    line.li.remove();
    lines.splice(lines.indexOf(line), 1);
    hooks.transcript.splice(hooks.transcript.indexOf(line.entry), 1);
    return;
  }
  scrollTranscript();
}

function onBotOutput(data: BotOutputData) {
  if (!data || typeof data.text !== "string") return;
  const last = lines[lines.length - 1];
  const line = botLineNeeded || !last || last.entry.role !== "interviewer" ? addLine("interviewer") : last;
  botLineNeeded = false;
  const key = data.segment_id !== undefined && data.segment_id !== null ? String(data.segment_id) : `n${segmentCounter++}`;
  let text = data.text;
  if (data.spoken_status === "in-progress") {
    // Word-level progress of a segment we have (or will have) in full.
    if (line.segments.has(key)) return;
    const p = data.spoken_progress;
    if (p) text = `${p.accumulated_text ?? ""} ${p.remaining_text ?? ""}`;
  }
  line.segments.set(key, text.replace(/\s+/g, " ").trim());
  line.entry.text = [...line.segments.values()].filter(Boolean).join(" ");
  line.textEl.textContent = line.entry.text;
  scrollTranscript();
}

// ---------------------------------------------------------------------------
// Progress, time and latency

const PHASE_TEXT: Record<string, string> = {
  intro: "Introduction",
  wrap_up: "Wrapping up",
  closed: "Closed",
};

let deadline: number | null = null;
let timer: number | undefined;

function formatSeconds(total: number): string {
  const s = Math.max(0, Math.round(total));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function tickTime() {
  if (deadline === null) return;
  ui.timeLeft.textContent = formatSeconds((deadline - Date.now()) / 1000);
}

function onProgress(msg: Record<string, unknown>) {
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
    deadline = Date.now() + left * 1000;
    tickTime();
    if (timer === undefined) timer = window.setInterval(tickTime, 1000);
  }
}

function renderLatency() {
  const last = hooks.latencies[hooks.latencies.length - 1];
  if (!last) {
    ui.latency.textContent = "–";
    return;
  }
  const main = last.server_ms ?? last.client_ms ?? 0;
  const details: string[] = [];
  if (last.server_ms === undefined) details.push("measured here");
  else if (last.client_ms !== undefined) details.push(`${Math.round(last.client_ms)} ms after turn end here`);
  const all = hooks.latencies
    .map((l) => l.server_ms ?? l.client_ms)
    .filter((v): v is number => v !== undefined);
  if (all.length > 1) details.push(`avg ${Math.round(all.reduce((a, b) => a + b, 0) / all.length)} ms over ${all.length}`);
  const small = document.createElement("small");
  small.textContent = details.join(" · ");
  ui.latency.replaceChildren(document.createTextNode(`${Math.round(main)} ms`), small);
}

let userStoppedAt: number | null = null;
let currentLatency: LatencyEntry | null = null;

function measureReply() {
  if (userStoppedAt === null) return;
  const ms = performance.now() - userStoppedAt;
  userStoppedAt = null;
  currentLatency = { client_ms: ms };
  hooks.latencies.push(currentLatency);
  renderLatency();
}

function onServerLatency(ms: number) {
  // The server reports the reply that just started: attach it to the latest measurement.
  if (currentLatency && currentLatency.server_ms === undefined) currentLatency.server_ms = ms;
  else hooks.latencies.push((currentLatency = { server_ms: ms }));
  renderLatency();
}

// ---------------------------------------------------------------------------
// Session

let session: {
  client: PipecatClient;
  media: InterviewMediaManager;
  ended: boolean;
  stoppedByUser: boolean;
  botSpeaking: boolean;
  fatalError?: string;
} | null = null;

let modesLoaded: boolean | null = null;

function safeReportUrl(raw: unknown): string | null {
  if (typeof raw !== "string" || !raw) return null;
  try {
    const url = new URL(raw, window.location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

function endInterview(reportUrl: string | null) {
  if (!session) return;
  session.ended = true;
  setState("ended");
  setStatus("The interview has ended. Thank you!");
  if (reportUrl) {
    ui.reportLink.href = reportUrl;
    ui.report.hidden = false;
  }
  const s = session;
  // Let the goodbye finish playing, then hang up.
  const hangUp = () => {
    if (session === s) void stopSession("ended");
  };
  if (s.botSpeaking) {
    s.client.once?.("botStoppedSpeaking", () => window.setTimeout(hangUp, 500));
    window.setTimeout(hangUp, 20000);
  } else {
    window.setTimeout(hangUp, 1500);
  }
}

function onServerMessage(data: unknown) {
  hooks.serverMessages.push(data);
  if (!data || typeof data !== "object") return;
  const msg = data as Record<string, unknown>;
  switch (msg.type) {
    case "avatar": {
      if (typeof msg.emotion === "string" && (EMOTIONS as readonly string[]).includes(msg.emotion)) {
        avatar.setEmotion(msg.emotion as Emotion);
      }
      if (typeof msg.expression === "string" && (EXPRESSIONS as readonly string[]).includes(msg.expression)) {
        setExpression(msg.expression as Expression);
      }
      break;
    }
    case "progress":
      onProgress(msg);
      break;
    case "latency": {
      const ms = Number(msg.ms);
      if (Number.isFinite(ms) && ms >= 0) onServerLatency(ms);
      break;
    }
    case "interview":
      if (msg.state === "ended") endInterview(safeReportUrl(msg.report_url));
      break;
    case "notice":
      if (typeof msg.text === "string") showNotice(msg.text);
      break;
    default:
      break;
  }
}

/** Barge-in: stop the bot's audio at once (see media.ts and README). */
function bargeIn() {
  if (!session) return;
  session.media
    .flushBotAudio()
    .then((cut) => {
      if (cut) {
        hooks.bargeIns += 1;
        logEvent("cut");
      }
    })
    .catch((e) => console.warn("flush failed", e));
}

function describeStartError(e: unknown): string {
  if (e instanceof StartBotError) {
    if (e.status === undefined) {
      return `Cannot reach the interview server at ${window.location.origin} (${e.message}). Check that it is running and press Start again.`;
    }
    return `The server could not start the interview (HTTP ${e.status}: ${e.message}). Check your details and press Start again.`;
  }
  if (e instanceof TransportStartError) {
    return "The live connection to the interview server failed. Check that the server is running and that nothing blocks WebSockets, then press Start again.";
  }
  if (e instanceof SyntaxError) {
    return "The server could not start the interview (it answered /start with an error). Press Start again; if it keeps failing, check the server's log.";
  }
  if (e instanceof TypeError) {
    return `Cannot reach the interview server at ${window.location.origin}. Check that it is running and press Start again.`;
  }
  const text = e instanceof Error ? e.message : String(e);
  return `The interview could not start: ${text}. Press Start again.`;
}

const MIC_DENIED = "Allow microphone access in your browser's site settings and press Start again.";

async function checkMicrophone(): Promise<string | null> {
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    return "The microphone is only available on secure pages: open the interviewer over https:// or http://localhost and press Start again.";
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    for (const track of stream.getTracks()) track.stop();
    return null;
  } catch (e) {
    const name = e instanceof DOMException ? e.name : "";
    if (name === "NotAllowedError" || name === "SecurityError") return MIC_DENIED;
    if (name === "NotFoundError" || name === "OverconstrainedError") {
      return "No microphone was found. Connect one and press Start again.";
    }
    if (name === "NotReadableError") {
      return "The microphone is in use by another application or could not be opened. Close that application and press Start again.";
    }
    return `The microphone could not be opened (${name || String(e)}). ${MIC_DENIED}`;
  }
}

class InterviewTransport extends WebSocketTransport {
  /** Sees every RTVI message first (client-js 1.13 ignores "bot-interrupted"). */
  onRawMessage: ((msg: RTVIMessage) => void) | null = null;

  override initialize(options: PipecatClientOptions, messageHandler: (ev: RTVIMessage) => void): void {
    super.initialize(options, (msg: RTVIMessage) => {
      try {
        this.onRawMessage?.(msg);
      } catch (e) {
        console.error(e);
      }
      messageHandler(msg);
    });
  }
}

async function startSession() {
  clearError();
  showNotice("");
  ui.report.hidden = true;
  const mode = ui.mode.value;
  const name = ui.name.value.trim();
  const role = ui.role.value.trim();
  if (!mode || !name || !role) {
    showError("Choose an interview type and enter your name and target role, then press Start.");
    (!mode ? ui.mode : !name ? ui.name : ui.role).focus();
    return;
  }
  mark("startClicked");
  setState("connecting");
  setStatus("Checking your microphone…");
  const micError = await checkMicrophone();
  if (micError) {
    setState("error");
    setStatus("The microphone is not available.");
    showError(micError);
    return;
  }

  // Reset per-session views.
  ui.transcript.replaceChildren();
  lines.length = 0;
  hooks.transcript.length = 0;
  hooks.latencies.length = 0;
  botLineNeeded = true;
  userStoppedAt = null;
  currentLatency = null;
  deadline = null;
  ui.progress.textContent = "Starting";
  ui.timeLeft.textContent = "–";
  renderLatency();

  // 16 kHz mono, 32 ms chunks (1024 bytes): what the server's VAD works with.
  const media = new InterviewMediaManager(1024, 16000);
  media.onBotAudio = () => {
    hooks.botAudioChunks += 1;
    mark("firstBotAudio");
    if (userStoppedAt !== null) measureReply();
  };
  media.onBotAudioDropped = () => {
    hooks.botAudioDropped += 1;
  };
  const transport = new InterviewTransport({ mediaManager: media, recorderSampleRate: 16000 });
  const s: NonNullable<typeof session> = {
    client: null as unknown as PipecatClient,
    media,
    ended: false,
    stoppedByUser: false,
    botSpeaking: false,
  };

  transport.onRawMessage = (msg) => {
    if (typeof msg.type === "string" && /speaking|interrupted|ready/.test(msg.type)) logEvent(msg.type);
    if (msg.type === "bot-interrupted") {
      bargeIn();
    }
  };

  const client = new PipecatClient({
    transport,
    enableMic: true,
    enableCam: false,
    callbacks: {
      onTransportStateChanged: (ts: TransportState) => {
        if (session !== s) return;
        if (ts === "connected") {
          setState("loading");
          setStatus("Connected. The interviewer is getting ready…");
        }
      },
      onBotReady: () => {
        if (session !== s) return;
        mark("botReady");
        setState("listening");
        setStatus("Interview in progress: speak whenever the interviewer has asked. You can interrupt.");
      },
      onUserStartedSpeaking: () => {
        if (session !== s) return;
        media.holdBotAudio = true;
        bargeIn();
        userStoppedAt = null;
        if (!s.ended) setState("listening");
      },
      onUserStoppedSpeaking: () => {
        if (session !== s) return;
        media.holdBotAudio = false;
        userStoppedAt = performance.now();
        if (!s.ended) setState("thinking");
      },
      onBotStartedSpeaking: () => {
        if (session !== s) return;
        s.botSpeaking = true;
        media.holdBotAudio = false;
        botLineNeeded = true;
        if (userStoppedAt !== null) measureReply();
        if (!s.ended) setState("speaking");
      },
      onBotStoppedSpeaking: () => {
        if (session !== s) return;
        s.botSpeaking = false;
        avatar.setLevel(0);
        if (!s.ended) setState("listening");
        else setExpression("idle"); // the interview is over: the server sends no more faces
      },
      onUserTranscript: (data: TranscriptData) => {
        if (session === s) onUserTranscript(data);
      },
      onBotOutput: (data: BotOutputData) => {
        if (session === s) onBotOutput(data);
      },
      onServerMessage: (data: unknown) => {
        if (session === s) onServerMessage(data);
      },
      onLocalAudioLevel: (level: number) => {
        if (level > hooks.micLevelMax) hooks.micLevelMax = level;
        const pct = Math.round(Math.min(1, Math.sqrt(level)) * 100);
        ui.micBar.style.transform = `scaleX(${pct / 100})`;
        ui.micMeter.setAttribute("aria-valuenow", String(pct));
      },
      onRemoteAudioLevel: (level: number) => {
        if (level > 0.01) {
          hooks.remoteLevelSamples += 1;
          logEvent("audible");
        }
        avatar.setLevel(level);
      },
      onDeviceError: (error) => {
        if (session !== s) return;
        const denied = error?.type === "permissions";
        showError(denied ? MIC_DENIED : `Microphone problem: ${error?.message ?? "unknown"}. Check your microphone and press Start again.`);
      },
      onError: (message: RTVIMessage) => {
        if (session !== s) return;
        const data = (message?.data ?? {}) as { message?: string; error?: string; fatal?: boolean };
        const text = data.message ?? data.error ?? "Unknown error";
        if (data.fatal) {
          // The client disconnects after a fatal error; onSessionGone tells the candidate.
          hooks.errors.push(text);
          s.fatalError = text;
        } else {
          hooks.errors.push(text);
          console.warn("server error", text);
        }
      },
      onDisconnected: () => {
        if (session !== s) return;
        onSessionGone();
      },
      onBotDisconnected: () => {
        if (session !== s) return;
        onSessionGone();
      },
    },
  });
  s.client = client;
  session = s;

  setStatus("Connecting to the interviewer…");
  try {
    await client.startBotAndConnect({
      endpoint: "/start",
      requestData: {
        transport: "websocket",
        body: {
          mode,
          name,
          role,
          job_description: ui.jobDescription.value.trim(),
          resume: ui.resume.value.trim(),
        },
      },
      timeout: 20000,
    });
  } catch (e) {
    if (session !== s) return;
    console.error(e);
    const text = describeStartError(e);
    session = null;
    try {
      await client.disconnect();
    } catch {
      /* already down */
    }
    setState("error");
    setStatus("The interview could not start.");
    showError(text);
  }
}

function onSessionGone() {
  const s = session;
  if (!s) return;
  session = null;
  void s.media.flushBotAudio().catch(() => undefined);
  avatar.setLevel(0);
  setExpression("idle");
  if (deadline !== null) {
    window.clearInterval(timer);
    timer = undefined;
  }
  if (s.ended || s.stoppedByUser) {
    setState("ended");
    if (s.stoppedByUser) setStatus("You ended the interview. Press Start again to begin a new one.");
    return;
  }
  setState("ended");
  setStatus("The interview session ended.");
  const why = s.fatalError && !/closed/i.test(s.fatalError) ? ` (${s.fatalError})` : "";
  showError(
    `The interview session ended: the connection to the server closed${why}. Press Start again to begin a new interview.`,
  );
}

async function stopSession(reason: "user" | "ended") {
  const s = session;
  if (!s) return;
  if (reason === "user") s.stoppedByUser = true;
  try {
    await s.client.disconnect();
  } catch (e) {
    console.warn(e);
  }
  if (session === s) onSessionGone();
}

// ---------------------------------------------------------------------------
// Modes

interface Mode {
  id: string;
  title: string;
  questions?: number;
}

async function loadModes(attempt = 0): Promise<void> {
  try {
    const res = await fetch("/api/modes", { headers: { Accept: "application/json" } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const modes = (await res.json()) as Mode[];
    if (!Array.isArray(modes) || modes.length === 0) throw new Error("no interview modes");
    const options = modes
      .filter((m) => m && typeof m.id === "string")
      .map((m) => {
        const opt = document.createElement("option");
        opt.value = m.id;
        const q = Number(m.questions);
        opt.textContent = `${typeof m.title === "string" ? m.title : m.id}${Number.isFinite(q) && q > 0 ? ` (${q} questions)` : ""}`;
        return opt;
      });
    ui.mode.replaceChildren(...options);
    const wanted = new URLSearchParams(window.location.search).get("mode");
    if (wanted && modes.some((m) => m.id === wanted)) ui.mode.value = wanted;
    modesLoaded = true;
    clearError();
    if (state === "idle") {
      setStatus("Choose an interview, enter your details and press Start.");
      ui.start.disabled = false;
    }
  } catch (e) {
    if (state !== "idle" && modesLoaded !== null) return; // a session's own error stays on screen
    modesLoaded = false;
    ui.mode.replaceChildren(Object.assign(document.createElement("option"), { value: "", textContent: "Unavailable" }));
    ui.start.disabled = true;
    setStatus("Waiting for the interview server…");
    showError(
      `Cannot reach the interview server at ${window.location.origin} (${e instanceof Error ? e.message : String(e)}). ` +
        "Check that it is running; this page retries by itself.",
    );
    window.setTimeout(() => void loadModes(attempt + 1), Math.min(10000, 1000 * 2 ** Math.min(attempt, 3)));
  }
}

// ---------------------------------------------------------------------------
// Wiring

ui.form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  if (session) return;
  void startSession();
});
ui.stop.addEventListener("click", () => void stopSession("user"));
window.addEventListener("pagehide", () => {
  if (session) void session.client.disconnect();
});

setState("idle");
mark("pageReady");
void loadModes();
