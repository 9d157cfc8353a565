"""A candidate over the real WebSocket: streams audio like a microphone, records what happens.

Used by ``interviewer replay``, the scenario tests and the latency benchmark. It speaks
the same protocol as the browser client: ``POST /start``, then pipecat protobuf frames
with RTVI messages on ``/ws-client``, audio paced in real time in 20 ms chunks.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import websockets

from candidate.log import SessionLog, Turn, join_text
from candidate.protocol import audio_msg, client_ready, decode, message_of
from candidate.voice import MicVoice, mic_level
from interviewer.audio import SAMPLE_RATE, rms_dbfs, silence, with_noise_floor

CHUNK_S = 0.02
CHUNK_BYTES = int(SAMPLE_RATE * CHUNK_S) * 2
BOT_AUDIO_DBFS = -60.0
PAUSE_MS = 200  # pipecat's default VAD stop time: shorter pauses cannot end a turn
RESUMED_MS = 300  # the VAD confirms a voice in 0.2 s: a turn cannot end on a pause resumed before


def room_noise(dbfs: float, seconds: float = 1.0) -> list[bytes]:
    """``seconds`` of a steady noise floor at ``dbfs`` RMS, in 20 ms chunks, to loop."""
    pcm = with_noise_floor(silence(seconds), dbfs)
    return [pcm[i : i + CHUNK_BYTES] for i in range(0, len(pcm), CHUNK_BYTES)]


class CandidateSession:
    """One connected candidate. Use as ``async with CandidateSession(url, mode) as s``."""

    def __init__(
        self,
        base_url: str,
        mode: str,
        candidate: dict | None = None,
        origin: str | None = None,
        room_dbfs: float | None = None,
    ):
        """``room_dbfs``: the microphone's noise floor between words (RMS); None sends zeros."""
        self.base_url = base_url.rstrip("/")
        self._room = room_noise(room_dbfs) if room_dbfs is not None else [bytes(CHUNK_BYTES)]
        self.mode = mode
        self.candidate = candidate or {}
        self.origin = origin
        self.log = SessionLog()
        self._ws = None
        self._t0 = 0.0
        self._outgoing: asyncio.Queue[bytes] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._bot_speaking = False
        self._last_bot_audio = 0.0
        self._voice = MicVoice()  # the page's rule for what is voice
        self._mic_ms = 0  # audio the microphone has sent, in ms
        self._last_voiced_ms: int | None = None
        self._user_start_ms: int | None = None
        self._speech_end_ms: int | None = None
        self._silence_since: int | None = None
        self._pauses: list[tuple[int, int]] = []  # (start, end) of each noticeable pause
        self._awaiting_first_audio = False
        self._bot_turn: Turn | None = None
        self._candidate_turn: Turn | None = None
        self._last_bot_turn: Turn | None = None
        self._pending_bot_text: list[str] = []
        self.bot_audio_times: list[int] = []  # when each voiced bot chunk finished playing
        self._play_end_ms = 0.0
        self.closed = asyncio.Event()
        self.bot_ready = asyncio.Event()
        self._held_until = 0.0  # the network holds the mic's audio back until then
        self._held: list[bytes] = []

    def now_ms(self) -> int:
        """Milliseconds since the WebSocket connected."""
        return int((time.monotonic() - self._t0) * 1000)

    def monotonic_at(self, ms: int) -> float:
        """``time.monotonic()`` at ``ms`` on this session's clock (the log's times)."""
        return self._t0 + ms / 1000

    async def __aenter__(self) -> CandidateSession:
        async with httpx.AsyncClient(timeout=30) as http:
            r = await http.post(
                f"{self.base_url}/start",
                json={"transport": "websocket", "body": {"mode": self.mode, **self.candidate}},
            )
            r.raise_for_status()
            info = r.json()
        headers = {"Origin": self.origin} if self.origin else None
        self._ws = await websockets.connect(
            f"{info['wsUrl']}?token={info['token']}", max_size=None, additional_headers=headers
        )
        self._t0 = time.monotonic()
        self._tasks = [
            asyncio.create_task(self._receive()),
            asyncio.create_task(self._send_paced()),
        ]
        await self._ws.send(client_ready("interviewer-replay"))
        return self

    async def __aexit__(self, *exc) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._ws is not None:
            await self._ws.close()
        self._close_bot_turn(self.now_ms())

    # --- sending -------------------------------------------------------------------
    def speak(self, pcm: bytes) -> None:
        """Queue speech; it is sent in real time after what is already queued."""
        for i in range(0, len(pcm), CHUNK_BYTES):
            chunk = pcm[i : i + CHUNK_BYTES]
            if len(chunk) < CHUNK_BYTES:
                chunk = chunk + bytes(CHUNK_BYTES - len(chunk))
            self._outgoing.put_nowait(chunk)

    async def drain(self) -> None:
        """Wait until everything queued by :meth:`speak` has been sent."""
        while not self._outgoing.empty() and not self.closed.is_set():  # noqa: ASYNC110 (paced at the chunk rate)
            await asyncio.sleep(CHUNK_S)

    def hold(self, secs: float) -> None:
        """The network holds back the next ``secs`` of audio, then delivers it at once.

        A stalled TCP stream (a lost packet on poor Wi-Fi): the mic goes on at its pace, the server
        hears nothing, then everything.
        """
        self._held_until = time.monotonic() + secs

    async def hear_greeting(self, timeout_s: float = 60.0, ready_s: float = 30.0) -> bool:
        """Wait for the bot to be ready (``ready_s``) and to finish its greeting. False on timeout."""
        await asyncio.wait_for(self.bot_ready.wait(), ready_s)
        return await self.wait_bot_done(timeout_s=timeout_s)

    async def answer(self, pcm: bytes, timeout_s: float = 60.0, quiet_s: float = 1.2) -> bool:
        """Say ``pcm`` in real time, then wait for the interviewer's reply to end. False on timeout.

        The reply has ended when the interviewer has been quiet for ``quiet_s``.
        """
        self.speak(pcm)
        await self.drain()
        return await self.wait_bot_done(quiet_s=quiet_s, timeout_s=timeout_s)

    async def interview(
        self, answers: list[bytes], timeout_s: float = 60.0, ready_s: float = 30.0
    ) -> None:
        """Hear the greeting, then give each answer after the interviewer finishes (until it closes)."""
        await self.hear_greeting(timeout_s, ready_s)
        for pcm in answers:
            if self.closed.is_set():
                break
            await self.answer(pcm, timeout_s)

    async def _send_paced(self) -> None:
        """Send one 20 ms chunk per 20 ms, speech if queued, otherwise silence, like a mic."""
        n = 0
        start = time.monotonic()
        try:
            while True:
                quiet = self._outgoing.empty()
                chunk = self._room[n % len(self._room)] if quiet else self._outgoing.get_nowait()
                self._hear_mic(chunk, speech=not quiet)
                if time.monotonic() < self._held_until:
                    self._held.append(audio_msg(chunk))
                else:
                    for msg in self._held:
                        await self._ws.send(msg)
                    self._held.clear()
                    await self._ws.send(audio_msg(chunk))
                n += 1
                delay = start + n * CHUNK_S - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
        except websockets.ConnectionClosed:
            self.closed.set()

    def _hear_mic(self, chunk: bytes, speech: bool) -> None:
        """Note a chunk as it is sent: voice by the page's rule, if it is the candidate's speech.

        The rule runs on the microphone's own clock (20 ms a chunk), not on when the chunk went
        out: a busy event loop sends chunks late and then at once, and by the wall clock no
        word would last the 120 ms that makes it voice.
        """
        self._mic_ms += int(CHUNK_S * 1000)
        heard = self._voice.hear(mic_level(chunk), self._mic_ms)
        self._note_voicing(heard and speech)

    def _note_voicing(self, voiced: bool) -> None:
        """Track where the candidate's speech paused (pauses the server's VAD can notice)."""
        now = self.now_ms()
        if voiced:
            if self._silence_since is not None and now - self._silence_since >= PAUSE_MS:
                self._pauses.append((self._silence_since, now))
            self._silence_since = None
            self._last_voiced_ms = now
        elif self._silence_since is None and self._last_voiced_ms is not None:
            self._silence_since = self._last_voiced_ms + int(CHUNK_S * 1000)

    def _speech_end_for_turn(self) -> int:
        """End of the speech a just-ended turn answered, by the voice we sent.

        Normally the start of the silence under way, however short: the server's VAD may hear a
        word's quiet tail as silence before this client's level does. If the candidate talks
        again, or paused for a breath, after resuming within ``RESUMED_MS`` from a noticeable
        pause, the server ended the turn on that pause: it is the end the turn answered.
        """
        now = self.now_ms()
        resumed = self._pauses[-1] if self._pauses else None
        if resumed is not None and now - resumed[1] > RESUMED_MS:
            resumed = None
        if self._silence_since is not None and (
            resumed is None or now - self._silence_since >= PAUSE_MS
        ):
            return self._silence_since
        if self._pauses:
            return self._pauses[-1][0]
        return self._last_voiced_ms if self._last_voiced_ms is not None else now

    # --- receiving -----------------------------------------------------------------
    async def _receive(self) -> None:
        try:
            async for raw in self._ws:
                if isinstance(raw, str):
                    continue
                frame = decode(raw)
                kind = frame.WhichOneof("frame")
                if kind == "audio":
                    self._on_bot_audio(frame.audio.audio, frame.audio.sample_rate)
                elif kind == "message":
                    self._on_message(message_of(frame))
        except websockets.ConnectionClosed:
            pass
        finally:
            self.log.closed_by_server = True
            self.closed.set()

    def _flush_playback(self) -> None:
        """Drop queued bot audio, as the page does when the candidate barges in."""
        now = self.now_ms()
        self.bot_audio_times = [t for t in self.bot_audio_times if t <= now]
        self._play_end_ms = now

    def _on_bot_audio(self, pcm: bytes, rate: int) -> None:
        now = self.now_ms()
        duration = 1000 * len(pcm) / 2 / max(rate, 1)
        self.log.bot_audio_ms += duration
        # Model a player: chunks play back to back from when they arrive.
        play_at = max(now, self._play_end_ms)
        self._play_end_ms = play_at + duration
        if rms_dbfs(pcm) <= BOT_AUDIO_DBFS:
            return
        self._last_bot_audio = time.monotonic()
        self.bot_audio_times.append(int(play_at + duration))
        if self._bot_turn is None:
            latency = None
            if self._awaiting_first_audio and self._speech_end_ms is not None:
                latency = now - self._speech_end_ms
            self._awaiting_first_audio = False
            self._bot_turn = Turn("interviewer", "", start_ms=now, latency_ms=latency)
            self._last_bot_turn = self._bot_turn
            self.log.turns.append(self._bot_turn)
            self.log.events.append((now, "first-bot-audio", latency))

    def _close_bot_turn(self, now: int) -> None:
        if self._bot_turn is not None:
            self._bot_turn.end_ms = now
            self._bot_turn = None

    def _reply_came_first(self, now: int) -> bool:
        """The reply's first audio overtook the turn's end on the way: time it now.

        pipecat's output transport sends RTVI messages at once (urgent frames) and audio from its
        media queue, so an instant reply (a spoken acknowledgement, 13-20 ms after the turn's end
        here) can arrive before ``user-stopped-speaking``. A bot turn that started after the
        candidate's speech ended is that reply, whatever came first. A bot turn opened earlier
        and no longer speaking (a talked-over reply's last chunks) has ended: the reply to come
        is a turn of its own.
        """
        turn, end = self._bot_turn, self._speech_end_ms
        if turn is None or end is None:
            return False
        if turn.latency_ms is None and turn.start_ms >= end:
            turn.latency_ms = turn.start_ms - end
            self.log.events.append((now, "reply-before-turn-end", turn.latency_ms))
            return True
        if not self._bot_speaking:
            self._close_bot_turn(now)
        return False

    def _on_message(self, msg: dict) -> None:
        now = self.now_ms()
        kind = msg.get("type", "")
        data = msg.get("data") or {}
        self.log.events.append((now, kind, data))
        if kind == "bot-ready":
            self.bot_ready.set()
        elif kind == "bot-started-speaking":
            self._bot_speaking = True
        elif kind == "bot-stopped-speaking":
            self._bot_speaking = False
            self._close_bot_turn(now)
        elif kind == "bot-interrupted":
            self._flush_playback()
        elif kind == "user-started-speaking":
            self._flush_playback()
            if self._bot_turn is not None and self._bot_speaking:
                self._bot_turn.interrupted = True
            self._close_bot_turn(now)
            self._user_start_ms = now
            self._awaiting_first_audio = False
            self._candidate_turn = None
        elif kind == "user-stopped-speaking":
            # The candidate's speech ended at the last chunk of voice we sent.
            self._speech_end_ms = self._speech_end_for_turn()
            self._awaiting_first_audio = not self._reply_came_first(now)
            if self._candidate_turn is not None:
                self._candidate_turn.end_ms = self._speech_end_ms
        elif kind == "user-transcription" and data.get("final"):
            text = data.get("text", "")
            if self._candidate_turn is None:
                start = self._user_start_ms if self._user_start_ms is not None else now
                self._candidate_turn = Turn(
                    "candidate", "", start_ms=start, end_ms=self._last_voiced_ms
                )
                self.log.turns.append(self._candidate_turn)
            self._candidate_turn.text = join_text(self._candidate_turn.text.strip(), text.strip())
            self._candidate_turn.end_ms = self._last_voiced_ms
        elif kind == "bot-output":
            # Each sentence comes twice: "new" when queued, "completed" once spoken.
            text = data.get("text", "")
            if text and (data.get("spoken") or data.get("spoken_status") == "completed"):
                target = self._bot_turn or self._last_bot_turn
                if target is None:
                    self._pending_bot_text.append(text)
                else:
                    target.text = join_text(target.text, text)
        elif kind == "server-message":
            self.log.server_messages.append(data)
            if data.get("type") == "final-words":
                self._final_words(str(data.get("live", "")), str(data.get("text", "")))
        if self._bot_turn is not None and self._pending_bot_text:
            for text in self._pending_bot_text:
                self._bot_turn.text = join_text(self._bot_turn.text, text)
            self._pending_bot_text.clear()

    def _final_words(self, live: str, text: str) -> None:
        """The server decoded a turn again: the candidate turn that ends with ``live`` ends with ``text``."""
        live, text = " ".join(live.split()), " ".join(text.split())
        for turn in reversed(self.log.turns):
            said = " ".join(turn.text.split())
            if turn.role == "candidate" and live and said.endswith(live):
                turn.text = join_text(said[: len(said) - len(live)].strip(), text)
                return

    # --- waiting -------------------------------------------------------------------
    def interviewer_turns(self) -> int:
        """How many interviewer turns have started so far."""
        return sum(1 for t in self.log.turns if t.role == "interviewer")

    async def wait_bot_done(self, quiet_s: float = 1.2, timeout_s: float = 60.0) -> bool:
        """Wait until the interviewer has answered the candidate's last speech and fallen quiet.

        "Answered" means an interviewer turn started after the last voiced audio we sent
        (before any speech, the greeting counts). Returns False on timeout.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self.closed.is_set():
            last = self.log.turns[-1] if self.log.turns else None
            answered = (
                last is not None
                and last.role == "interviewer"
                and (self._last_voiced_ms is None or last.start_ms > self._last_voiced_ms)
            )
            quiet = time.monotonic() - self._last_bot_audio >= quiet_s and not self._bot_speaking
            if answered and quiet:
                return True
            await asyncio.sleep(0.05)
        return self.closed.is_set()
