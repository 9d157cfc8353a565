/**
 * WavMediaManager with the three things the stock one lacks for this app.
 *
 * 1. Barge-in. The websocket transport never flushes bot audio it has already queued
 *    when the server interrupts (DESIGN.md section 5). `flushBotAudio()` calls the
 *    stream player's own `WavStreamPlayer.interrupt()` (what the SDK's
 *    `WavMediaManager.userStartedSpeaking()` calls too): the AudioWorklet drops its
 *    queue and stops at once. `interrupt()` also marks the current track id as
 *    interrupted, and the transport writes every bot chunk with the same id
 *    ("default"), so without more the player would drop all later bot audio for good:
 *    we clear `interruptedTrackIds` once the worklet has answered.
 *    While `holdBotAudio` is set (the candidate is talking), chunks that were still in
 *    flight from the interrupted reply are dropped instead of played.
 * 2. Audio levels. The stock WavMediaManager emits neither `onLocalAudioLevel` nor
 *    `onRemoteAudioLevel`; this one does, through the client's own callbacks, so the
 *    page uses the ordinary SDK events: the microphone level from each recorded chunk,
 *    the bot level from the player's AnalyserNode as the audio actually plays
 *    (so the mouth moves in time with playback, not with the network).
 * 3. Counters for tests (chunks played and dropped).
 */
import { WavMediaManager } from "@pipecat-ai/websocket-transport";

/** The parts of the SDK's WavStreamPlayer we use (not in its public typings). */
interface StreamPlayer {
  analyser: AnalyserNode | null;
  stream: AudioWorkletNode | null;
  interruptedTrackIds: Record<string, boolean>;
  interrupt(): Promise<unknown>;
}

const BOT_PARTICIPANT = { id: "bot", name: "Interviewer", local: false };

export class InterviewMediaManager extends WavMediaManager {
  /** Bot audio chunks handed to the player. */
  botChunksPlayed = 0;
  /** Bot audio chunks dropped because the candidate was talking over the bot. */
  botChunksDropped = 0;
  /** Called with each bot chunk that is played (for first-audio latency). */
  onBotAudio: (() => void) | null = null;
  /** Called with each bot chunk dropped while the candidate talks. */
  onBotAudioDropped: (() => void) | null = null;

  private _hold = false;
  private _levelTimer: number | undefined;
  private _timeData: Float32Array<ArrayBuffer> | null = null;

  constructor(recorderChunkSize: number, recorderSampleRate: number) {
    super(recorderChunkSize, recorderSampleRate);
  }

  private get player(): StreamPlayer {
    return (this as unknown as { _wavStreamPlayer: StreamPlayer })._wavStreamPlayer;
  }

  private get callbacks() {
    return (this as unknown as { _callbacks: Record<string, ((...a: unknown[]) => void) | undefined> })
      ._callbacks ?? {};
  }

  /** Drop bot audio that arrives while set (the candidate is speaking). */
  set holdBotAudio(hold: boolean) {
    this._hold = hold;
  }

  get holdBotAudio(): boolean {
    return this._hold;
  }

  /**
   * Stop the bot's audio now and throw away everything queued in the player.
   * Resolves true if audio was playing (or queued) and got cut.
   */
  async flushBotAudio(): Promise<boolean> {
    const player = this.player;
    if (!player) return false;
    const wasPlaying = !!player.stream;
    try {
      await player.interrupt();
    } finally {
      // Let the next reply play: interrupt() blacklists the (shared) track id.
      player.interruptedTrackIds = {};
    }
    return wasPlaying;
  }

  override setUserAudioCallback(cb: (data: ArrayBuffer) => void): void {
    super.setUserAudioCallback((data: ArrayBuffer) => {
      this.emitLocalLevel(data);
      cb(data);
    });
  }

  override bufferBotAudio(data: ArrayBuffer | Int16Array, id?: string): Int16Array {
    if (this._hold) {
      this.botChunksDropped += 1;
      this.onBotAudioDropped?.();
      return new Int16Array(0);
    }
    this.botChunksPlayed += 1;
    this.onBotAudio?.();
    return super.bufferBotAudio(data, id);
  }

  override async initialize(): Promise<void> {
    await super.initialize();
    this.startRemoteLevel();
  }

  override async disconnect(): Promise<void> {
    window.clearInterval(this._levelTimer);
    this._levelTimer = undefined;
    await super.disconnect();
  }

  private emitLocalLevel(data: ArrayBuffer) {
    const cb = this.callbacks.onLocalAudioLevel;
    if (!cb || !data || data.byteLength < 2) return;
    const pcm = new Int16Array(data);
    let sum = 0;
    for (let i = 0; i < pcm.length; i++) sum += pcm[i] * pcm[i];
    const rms = Math.sqrt(sum / pcm.length) / 32768;
    cb(Math.min(1, rms * 4));
  }

  private startRemoteLevel() {
    window.clearInterval(this._levelTimer);
    this._levelTimer = window.setInterval(() => {
      const cb = this.callbacks.onRemoteAudioLevel;
      const analyser = this.player?.analyser;
      if (!cb || !analyser) return;
      if (!this._timeData || this._timeData.length !== analyser.fftSize) {
        this._timeData = new Float32Array(analyser.fftSize);
      }
      // Only the most recent ~40 ms matter for the mouth.
      analyser.getFloatTimeDomainData(this._timeData);
      const n = Math.min(this._timeData.length, 1024);
      let sum = 0;
      for (let i = this._timeData.length - n; i < this._timeData.length; i++) {
        sum += this._timeData[i] * this._timeData[i];
      }
      const rms = Math.sqrt(sum / n);
      cb(Math.min(1, rms * 3), BOT_PARTICIPANT);
    }, 33);
  }
}
