/**
 * Interviewer browser client: pipecat RTVI with an animated avatar.
 *
 * SDK: @pipecat-ai/client-js (PipecatClient) + @pipecat-ai/websocket-transport
 * (WebSocketTransport with our WavMediaManager subclass, see media.ts), or
 * @pipecat-ai/daily-transport for a Daily room when the server offers one (connection.ts).
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
import type { DailyTransport } from "@pipecat-ai/daily-transport";
import { WebSocketTransport } from "@pipecat-ai/websocket-transport";
import { Avatar, EMOTIONS, EXPRESSIONS, type Emotion, type Expression } from "./avatar";
import { chosenConnection, dailyUnreachable, useLocalConnection, type ConnectionKind } from "./connection";
import { recordConsent } from "./consent";
import { hooks, logEvent, mark, type State } from "./hooks";
import { InterviewMediaManager } from "./media";
import { MicMeter } from "./meter";
import { Progress } from "./progress";
import { loadServerOptions } from "./serverOptions";
import { Transcript } from "./transcript";
import { ui } from "./ui";
import "./style.css";

const avatar = new Avatar(ui.avatar);
const micMeter = new MicMeter(ui.micMeter, ui.micBar);
avatar.onDraw = (now) => micMeter.draw(now);
const transcript = new Transcript();
const progress = new Progress();

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
// Session

let session: {
  client: PipecatClient;
  /** The WebSocket's player (a Daily room plays the bot's audio track itself). */
  media: InterviewMediaManager | null;
  kind: ConnectionKind;
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
      progress.onProgress(msg);
      break;
    case "latency": {
      const ms = Number(msg.ms);
      if (Number.isFinite(ms) && ms >= 0) progress.serverLatency(ms);
      break;
    }
    case "interview":
      if (msg.state === "ended") endInterview(safeReportUrl(msg.report_url));
      break;
    case "notice":
      if (typeof msg.text === "string") showNotice(msg.text);
      break;
    case "final-words":
      if (typeof msg.live === "string" && typeof msg.text === "string") transcript.onFinalWords(msg.live, msg.text);
      break;
    default:
      break;
  }
}

/** Barge-in: stop the bot's audio at once (see media.ts and README). */
function bargeIn() {
  if (!session?.media) return;
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
  ui.useLocal.hidden = true;
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
  transcript.clear();
  progress.reset();

  const kind = chosenConnection();
  hooks.connection = kind;
  let media: InterviewMediaManager | null = null;
  let transport: InterviewTransport | DailyTransport;
  if (kind === "daily") {
    // Loaded only for a Daily room (daily-js is 300 kB): the local page stays light.
    const daily = await import("@pipecat-ai/daily-transport");
    transport = new daily.DailyTransport();
  } else {
    // 16 kHz mono, 32 ms chunks (1024 bytes): what the server's VAD works with.
    media = new InterviewMediaManager(1024, 16000);
    media.onBotAudio = () => {
      hooks.botAudioChunks += 1;
      mark("firstBotAudio");
      progress.botAudio();
    };
    media.onBotAudioDropped = () => {
      hooks.botAudioDropped += 1;
    };
    const ws = new InterviewTransport({ mediaManager: media, recorderSampleRate: 16000 });
    ws.onRawMessage = (msg) => {
      if (typeof msg.type === "string" && /speaking|interrupted|ready/.test(msg.type)) logEvent(msg.type);
      if (msg.type === "bot-interrupted") {
        bargeIn();
      }
    };
    transport = ws;
  }
  const s: NonNullable<typeof session> = {
    client: null as unknown as PipecatClient,
    media,
    kind,
    ended: false,
    stoppedByUser: false,
    botSpeaking: false,
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
        if (media) media.holdBotAudio = true;
        bargeIn();
        progress.userStopped(null);
        if (!s.ended) setState("listening");
      },
      onUserStoppedSpeaking: () => {
        if (session !== s) return;
        if (media) media.holdBotAudio = false;
        progress.userStopped(performance.now());
        if (!s.ended) setState("thinking");
      },
      onBotStartedSpeaking: () => {
        if (session !== s) return;
        s.botSpeaking = true;
        if (media) media.holdBotAudio = false;
        transcript.newBotLine();
        progress.botAudio();
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
        if (session === s) transcript.onUserTranscript(data);
      },
      onBotOutput: (data: BotOutputData) => {
        if (session === s) transcript.onBotOutput(data);
      },
      onServerMessage: (data: unknown) => {
        if (session === s) onServerMessage(data);
      },
      onLocalAudioLevel: (level: number) => {
        progress.micLevel(level, performance.now());
        if (level > hooks.micLevelMax) hooks.micLevelMax = level;
        micMeter.push(level);
      },
      onRemoteAudioLevel: (level: number) => {
        progress.botLevel(level, performance.now());
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
  const requestData = {
    transport: kind,
    body: {
      mode,
      name,
      role,
      job_description: ui.jobDescription.value.trim(),
      resume: ui.resume.value.trim(),
      record: recordConsent(),
    },
  };
  try {
    if (kind === "daily") {
      // The room first, then the call engine: /start answers {dailyRoom, dailyToken} and the
      // transport joins it (the SDK's startBotAndConnect would load the engine first). Devices
      // are initialised here, not inside connect(), which never settles when that fails.
      const room = await startDailyRoom(requestData);
      await client.initDevices();
      await client.connect(room);
    } else {
      await client.startBotAndConnect({ endpoint: "/start", requestData, timeout: 20000 });
    }
  } catch (e) {
    // A Daily room that was granted but cannot be joined (offline: daily-js cannot load its
    // call engine) gets its own message even if the transport has already reported the loss.
    const dailyFailed = kind === "daily" && !(e instanceof StartBotError);
    if (session !== s && !dailyFailed) return;
    console.error(e);
    const text = dailyFailed
      ? dailyUnreachable(e instanceof Error && !(e instanceof TransportStartError) ? e.message : "")
      : describeStartError(e);
    session = null;
    try {
      await client.disconnect();
    } catch {
      /* already down */
    }
    setState("error");
    setStatus("The interview could not start.");
    showError(text);
    ui.useLocal.hidden = !dailyFailed;
  }
}

/** POST /start for a Daily room (pipecat runner convention); a failure is a StartBotError. */
async function startDailyRoom(requestData: object): Promise<{ dailyRoom: string; dailyToken?: string }> {
  let res: Response;
  try {
    res = await fetch("/start", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(requestData),
      signal: AbortSignal.timeout(20000),
    });
  } catch (e) {
    throw new StartBotError(e instanceof Error ? e.message : String(e));
  }
  const answer = (await res.json().catch(() => ({}))) as { detail?: unknown; dailyRoom?: unknown; dailyToken?: unknown };
  if (!res.ok || typeof answer.dailyRoom !== "string") {
    throw new StartBotError(typeof answer.detail === "string" ? answer.detail : res.statusText, res.status);
  }
  return { dailyRoom: answer.dailyRoom, dailyToken: typeof answer.dailyToken === "string" ? answer.dailyToken : undefined };
}

function onSessionGone() {
  const s = session;
  if (!s) return;
  session = null;
  void s.media?.flushBotAudio().catch(() => undefined);
  avatar.setLevel(0);
  setExpression("idle");
  progress.stop();
  if (s.kind === "daily" && !hooks.timing.botReady && !s.stoppedByUser) {
    setState("error");
    setStatus("The interview could not start.");
    showError(dailyUnreachable(s.fatalError ?? ""));
    ui.useLocal.hidden = false;
    return;
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
ui.useLocal.addEventListener("click", () => {
  ui.useLocal.hidden = true;
  useLocalConnection();
  if (!session) void startSession();
});
window.addEventListener("pagehide", () => {
  if (session) void session.client.disconnect();
});

setState("idle");
mark("pageReady");
void loadModes();
void loadServerOptions();
