"""pipecat's speech services as the interviewer uses them: shared models, voices that keep talking.

pipecat's Whisper, Piper, smart-turn and Silero classes load their model in ``__init__``. These
subclasses take the already-loaded model from the :class:`~interviewer.models.ModelBank`
instead, so building a session costs no model load; all inference still runs through
pipecat's own code (segmenting, resampling, metrics, interruption handling).

A sentence the voice fails to say would be silence, and the candidate might miss the question.
pipecat's TTS services report such a failure as an ``ErrorFrame`` in the sentence's audio
context (Piper yields it from ``run_tts``; Cartesia's server sends an ``error`` message for the
context), which the service pushes upstream and to its ``on_error`` handlers; the sentence's
text still reaches the assistant context. Here Piper retries the sentence once, then says
:data:`REPHRASE` and the sentence clause by clause; Cartesia retries the failed context's
unvoiced sentences once on a fresh context. What is still unsaid after that is reported as
before, and the page is sent :data:`UNSPOKEN_NOTICE`. (Every reach into pipecat's internals is
in this file and listed in tests/test_pipecat_internals.py.)
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import numpy as np
from loguru import logger
from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn, SmartTurnParams
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroOnnxModel, SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams, VADState
from pipecat.frames.frames import ErrorFrame, Frame, TranscriptionFrame
from pipecat.processors.frameworks.rtvi.frames import RTVIServerMessageFrame
from pipecat.services.cartesia.tts import CartesiaTTSService
from pipecat.services.moonshine.stt import MoonshineSTTService
from pipecat.services.piper.tts import PiperTTSService
from pipecat.services.tts_service import TTSService
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601

from interviewer.piper_voice import LockedVoice
from processors.frames import StretchTranscribedFrame

REPHRASE = "Sorry, let me put that another way."
UNSPOKEN_NOTICE = (
    "The interviewer's voice failed on part of what it said; the transcript shows the words."
)


def unspoken_notice() -> RTVIServerMessageFrame:
    """The page's notice that some words were not spoken (they are in the transcript)."""
    return RTVIServerMessageFrame(data={"type": "notice", "text": UNSPOKEN_NOTICE})


def clauses(text: str) -> list[str]:
    """``text`` in pieces at its commas, semicolons, colons and dashes (each said on its own)."""
    return [p for p in (part.strip() for part in re.split(r"(?<=[,;:])\s+|\s+[-–—]\s+", text)) if p]


SECOND_OPINION_MAX_SECS = 2.5  # a stretch's audio (with pipecat's pre-roll of up to 1 s)


class TunedWhisper:
    """A faster-whisper model with the decoding options chosen by measurement."""

    def __init__(self, model: Any, beam_size: int):
        self._model = model
        self._beam_size = beam_size

    def transcribe(self, audio, **kwargs):
        """Transcribe with fixed beam size, no timestamps and no context carry-over."""
        return self._model.transcribe(
            audio,
            beam_size=self._beam_size,
            without_timestamps=True,
            condition_on_previous_text=False,
            **kwargs,
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


class _TellsStretches:
    """An STT service that tells ``on_stretch`` each stretch's audio with the words heard in it.

    (The final decode of the whole turn, :mod:`interviewer.final_words`, joins them again.)
    """

    _on_stretch: Callable[[bytes, str], None] | None = None

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        """Transcribe the stretch (pipecat), and tell ``on_stretch`` its audio and words.

        Then say the stretch is done (:class:`StretchTranscribedFrame`), words or none.
        """
        heard: list[str] = []
        async for frame in super().run_stt(audio):  # type: ignore[misc]
            if isinstance(frame, TranscriptionFrame):
                heard.append(frame.text)
                if self._on_stretch is not None:
                    self._on_stretch(audio, frame.text)
            yield frame
        if not heard and (text := await self._words_missed(audio)):
            heard.append(text)
            if self._on_stretch is not None:
                self._on_stretch(audio, text)
            yield TranscriptionFrame(text, self._user_id, time_now_iso8601(), Language.EN)  # type: ignore[attr-defined]
        yield StretchTranscribedFrame(" ".join(heard).strip())

    async def _words_missed(self, audio: bytes) -> str:
        """Words another model hears in a stretch this one found none in ("": none)."""
        return ""


class SharedWhisperSTTService(_TellsStretches, WhisperSTTService):
    """pipecat's segmented Whisper STT on a model loaded once per process."""

    def __init__(
        self,
        *,
        model: Any,
        model_name: str,
        beam_size: int = 1,
        language: str = "en",
        hotwords: str | None = None,
        on_stretch: Callable[[bytes, str], None] | None = None,
        **kwargs,
    ):
        self._shared_model = TunedWhisper(model, beam_size)
        self._on_stretch = on_stretch
        super().__init__(
            settings=WhisperSTTService.Settings(
                model=model_name, language=language, hotwords=hotwords
            ),
            **kwargs,
        )

    def _load(self):
        self._model = self._shared_model


class SharedMoonshineSTTService(_TellsStretches, MoonshineSTTService):
    """pipecat's segmented Moonshine STT on the process's one transcriber (never downloads).

    pipecat's service loads (and downloads) a model per session; this one takes the
    :class:`~interviewer.moonshine.MoonshineLoad` the process loaded from the package's files.
    """

    def __init__(
        self,
        *,
        model: Any,
        on_stretch: Callable[[bytes, str], None] | None = None,
        second_opinion: Any = None,
        **kwargs,
    ):
        self._shared_model = model
        self._on_stretch = on_stretch
        self._second_opinion = TunedWhisper(second_opinion, 1) if second_opinion else None
        super().__init__(
            settings=MoonshineSTTService.Settings(model="tiny", language=Language.EN), **kwargs
        )

    async def _words_missed(self, audio: bytes) -> str:
        """A short stretch Moonshine heard no words in, heard again by Whisper (the second opinion).

        Moonshine misses a bare "Yes." or "No." now and then, depending on where the word sits
        in its stretch; Whisper tiny.en does not (0.27-0.28 s a stretch here, quiet: it always reads
        30 s, so only a stretch of up to ``SECOND_OPINION_MAX_SECS`` is asked about). Whisper drops what it
        thinks holds no speech itself (faster-whisper's no-speech rule): in a real click from
        two_cities.wav, or in silence, it hears nothing.
        """
        if self._second_opinion is None or len(audio) / 2 / 16_000 > SECOND_OPINION_MAX_SECS:
            return ""
        floats = np.frombuffer(audio, dtype=np.int16).astype(np.float32) / 32768.0

        def hear() -> str:
            segments, _ = self._second_opinion.transcribe(floats, language="en")
            return " ".join(seg.text.strip() for seg in segments).strip()

        try:
            text = await asyncio.to_thread(hear)
        except Exception as e:  # only a second opinion: the stretch stays without words
            logger.warning(f"{self}: Whisper's second opinion failed ({type(e).__name__}: {e})")
            return ""
        logger.debug(f"{self}: no words from Moonshine; Whisper heard [{text}]")
        return text

    def _load(self):
        return self._shared_model


class SharedPiperTTSService(PiperTTSService):
    """pipecat's in-process Piper TTS on a voice loaded once per process (never downloads)."""

    def __init__(
        self,
        *,
        voice: Any,
        lock: threading.Lock,
        phrases: dict[str, list] | None = None,
        voice_name: str = "en_US-joe-medium",
        **kwargs,
    ):
        # Skip PiperTTSService.__init__ (it loads or downloads a voice); set up as it would.
        TTSService.__init__(
            self,
            push_start_frame=True,
            push_stop_frames=True,
            settings=PiperTTSService.Settings(model=None, voice=voice_name, language=None),
            **kwargs,
        )
        self._voice = LockedVoice(voice, lock, phrases)

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        """Say ``text`` with pipecat's Piper code; retry once, then replace it if it fails again.

        The replacement is :data:`REPHRASE` and the sentence clause by clause, so a question is
        still heard when one part of it cannot be synthesised. Whatever stays unsaid is
        reported (pipecat's ``ErrorFrame``) and the page gets a notice.
        """
        errors: list[ErrorFrame] = []
        for attempt in (1, 2):
            failed_before = len(errors)
            async for frame in self._attempt(text, context_id, errors):
                yield frame
            if len(errors) == failed_before:
                if attempt > 1:
                    logger.info(f"{self}: said [{text}] on the second try")
                return
            logger.warning(f"{self}: could not say [{text}] ({errors[-1].error}), try {attempt}")
        unsaid = []
        for piece in (REPHRASE, *clauses(text)):
            failed_before = len(errors)
            async for frame in self._attempt(piece, context_id, errors):
                yield frame
            if len(errors) > failed_before:
                unsaid.append(piece)
        if unsaid:
            logger.error(f"{self}: could not say {unsaid} of [{text}]")
            yield errors[-1]  # pipecat reports it (upstream, on_error, the page's RTVI error)
            yield unspoken_notice()
        else:
            logger.warning(f"{self}: said [{text}] clause by clause after {REPHRASE!r}")

    async def _attempt(
        self, text: str, context_id: str, errors: list[ErrorFrame]
    ) -> AsyncGenerator[Frame, None]:
        """One synthesis of ``text`` by pipecat's Piper code: its frames; a failure into ``errors``."""
        try:
            async for frame in super().run_tts(text, context_id):
                if isinstance(frame, ErrorFrame):
                    errors.append(frame)
                else:
                    yield frame
        except Exception as e:  # pipecat yields its errors; this catches any it would not
            errors.append(ErrorFrame(error=f"Piper failed: {e}"))


class SharedSmartTurnAnalyzer(LocalSmartTurnAnalyzerV3):
    """Smart-turn v3 end-of-turn model on an ONNX session shared by all sessions."""

    def __init__(self, *, session: Any, params: SmartTurnParams | None = None):
        BaseSmartTurn.__init__(self, params=params)
        self._log_data = False
        self._session = session


def _json_dict(message: str | bytes) -> dict:
    """A JSON object message as a dict ({} for anything else, which passes through untouched)."""
    try:
        msg = json.loads(message)
    except ValueError:
        return {}
    return msg if isinstance(msg, dict) else {}


class _RetryingCartesiaSocket:
    """Cartesia's WebSocket, on which a context the server fails is retried once.

    Cartesia ends a context it cannot voice with an ``error`` message (``"done": true``). Its
    requests whose words were not yet voiced (timed) are sent again on a fresh context; that
    context's messages reach pipecat under the original id, their word times shifted past the
    audio already received, and pipecat's later requests for the original id go to it. If the
    retry fails too, its error reaches pipecat as the original context's.
    """

    def __init__(self, ws: Any, on_given_up: Callable[[str], Awaitable[None]]):
        self._ws = ws
        self._on_given_up = on_given_up
        self._requests: dict[str, list[dict]] = {}  # generation requests sent, per context
        self._words: dict[str, int] = {}  # words voiced (timed) so far, per context
        self._seconds: dict[str, float] = {}  # audio received so far, per context
        self._offset: dict[str, float] = {}  # where a retry's audio starts in its context
        self._retry: dict[str, str] = {}  # context -> its retry
        self._original: dict[str, str] = {}  # retry -> its context
        self._gave_up: set[str] = set()  # contexts whose retry failed too (retried only once)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ws, name)

    async def send(self, message: str | bytes) -> None:
        """Send ``message``, to the retry of its context if there is one."""
        msg = _json_dict(message)
        ctx = msg.get("context_id", "")
        if "transcript" in msg:
            self._requests.setdefault(ctx, []).append(msg)
        if ctx in self._retry:
            message = json.dumps({**msg, "context_id": self._retry[ctx]})
        await self._ws.send(message)
        if msg.get("cancel"):  # interrupted: no more word of it is wanted
            self._forget(ctx)

    def __aiter__(self):
        return self._receive()

    async def _receive(self):
        async for raw in self._ws:
            msg = _json_dict(raw)
            ctx = msg.get("context_id", "")
            kind = msg.get("type")
            if kind == "error" and ctx in self._retry:
                continue  # more of the failed context, whose requests went to its retry
            if kind == "error" and ctx in self._requests and ctx not in self._gave_up:
                if await self._retry_context(ctx, msg):
                    continue
            original = self._original.get(ctx)
            if original is not None:
                msg["context_id"] = ctx = original
                if kind == "timestamps":
                    times = msg["word_timestamps"]
                    for key in ("start", "end"):
                        times[key] = [t + self._offset[ctx] for t in times.get(key, [])]
                raw = json.dumps(msg)
                if kind == "error":
                    logger.error(f"Cartesia failed context {ctx} again: {msg}")
                    self._gave_up.add(ctx)
                    await self._on_given_up(ctx)
            self._note(ctx, msg)
            yield raw

    def _note(self, ctx: str, msg: dict) -> None:
        """Count the words voiced and the audio received in ``ctx``; forget it once done."""
        kind = msg.get("type")
        if kind == "timestamps":
            self._words[ctx] = self._words.get(ctx, 0) + len(msg["word_timestamps"]["words"])
        elif kind == "chunk" and ctx in self._requests:
            rate = self._requests[ctx][0].get("output_format", {}).get("sample_rate") or 24000
            audio_s = len(base64.b64decode(msg.get("data", ""))) / 2 / rate
            self._seconds[ctx] = self._seconds.get(ctx, 0.0) + audio_s
        elif kind in ("done", "error"):
            self._forget(ctx)

    def _forget(self, ctx: str) -> None:
        """Drop what is kept about ``ctx`` (it is done, failed or cancelled)."""
        for table in (self._requests, self._words, self._seconds, self._offset):
            table.pop(ctx, None)
        retry = self._retry.pop(ctx, None)
        self._original.pop(retry, None)

    async def _retry_context(self, ctx: str, error: dict) -> bool:
        """Send ``ctx``'s unvoiced requests again on a new context; False if none are left."""
        voiced, words, pending = self._words.get(ctx, 0), 0, []
        for msg in self._requests[ctx]:
            n = len(msg.get("transcript", "").split())
            if pending or words + n > voiced:
                pending.append(msg)
            words += n
        if not any(m.get("transcript", "").strip() for m in pending):
            return False
        retry = f"{ctx}-retry"
        self._retry[ctx], self._original[retry] = retry, ctx
        self._offset[ctx] = self._seconds.get(ctx, 0.0)
        logger.warning(
            f"Cartesia failed context {ctx} ({error.get('title') or error.get('error')}); "
            f"sending its {len(pending)} unvoiced requests again as {retry}"
        )
        for msg in pending:
            await self._ws.send(json.dumps({**msg, "context_id": retry}))
        return True


class RetryingCartesiaTTSService(CartesiaTTSService):
    """pipecat's Cartesia TTS, whose failed sentences are retried once on the same connection.

    A context Cartesia fails is sent again, once, from its first unvoiced sentence (see
    :class:`_RetryingCartesiaSocket`). A retry that fails is reported by pipecat as before
    (an ``ErrorFrame``; the words still reach the transcript when the context ends), and the
    page gets a notice.
    """

    async def _websocket_connect(self, uri: str, **kwargs):
        """Open the connection through :class:`_RetryingCartesiaSocket`."""
        ws = await super()._websocket_connect(uri, **kwargs)
        return _RetryingCartesiaSocket(ws, self._given_up)

    async def _given_up(self, context_id: str) -> None:
        await self.push_frame(unspoken_notice())


class SharedSileroModel(SileroOnnxModel):
    """pipecat's Silero model with its recurrent state of its own, on an ONNX session shared by all.

    The model's state and context live in this object and go into each run as inputs, so one
    session serves every candidate. pipecat builds a session per analyzer instead: 37 ms in the
    event loop as each interview starts, and native memory that a long-running server did not
    get back when the session ended.
    """

    def __init__(self, session: Any):
        self.session = session
        # While holding, a reset pipecat asks for is only noted (InlineSileroVADAnalyzer counts
        # the windows the model did not hear as pipecat would, without touching its state).
        self.holding_resets = False
        self.reset_asked = False
        self.reset_states()
        self.sample_rates = [8000, 16000]

    def reset_states(self, batch_size: int = 1) -> None:
        """Clear the recurrent state and context, or note the reset while holding resets."""
        if self.holding_resets:
            self.reset_asked = True
            return
        super().reset_states(batch_size)


class InlineSileroVADAnalyzer(SileroVADAnalyzer):
    """pipecat's Silero VAD, run in the event loop, quicker to hear the candidate who has the floor.

    It runs on the :class:`~interviewer.models.ModelBank`'s Silero session
    (:class:`SharedSileroModel`).

    pipecat hands every 20 ms frame to a thread of its own and waits for it. The model's work
    on a frame is well under a millisecond, but the hop costs two GIL hand-offs, and on two
    busy cores that made the user aggregator, which waits on it, slower than real time: with
    four candidates talking its queue grew to seconds of audio, every reply came seconds late
    and, once, a late transcript lost a turn. Inline, the same code runs at once.

    While ``listening`` (the candidate has the floor: see :class:`processors.floor_watch.
    FloorWatch`), speech starts after ``listening_start_secs`` of voice instead of the params'
    ``start_secs``. A bare "Yes." or "No." holds 0.15-0.2 s of voice: with 0.2 s the VAD never
    started on the two in endgame_nagg_nell.wav, and the words were lost. While the interviewer
    speaks, a false start would cut it off, so the longer start holds then. The change touches
    only pipecat's start count (no reset of a stretch under way).

    A window too quiet to be speech does not run the model then (:meth:`voice_confidence`): a
    silent candidate's VAD costs the volume alone, and what it hears is still what pipecat's
    hears, window for window.
    """

    RESET_SETTLE_WINDOWS = 16  # 0.5 s of quiet after a reset falls due before it is done
    MAX_UNHEARD_WINDOWS = 125  # 4 s of 32 ms windows (resets keep fewer waiting)
    HEAR_AHEAD_WINDOWS = 8  # fewer are heard at once, in the event loop

    def __init__(
        self,
        *,
        session: Any,
        listening_start_secs: float | None = None,
        sample_rate: int | None = None,
        params: VADParams | None = None,
    ):
        self._listening_start_secs = listening_start_secs
        self._listening = False
        self._state = VADState.QUIET  # after the latest audio analysed
        self._hearing = threading.Lock()  # held while the model hears waiting windows
        # pipecat's __init__ less its model load: the model runs on the process's ONNX session.
        VADAnalyzer.__init__(self, sample_rate=sample_rate, params=params)
        self._model = SharedSileroModel(session)
        self._windows_since_reset = 0
        self._low_confidence_windows = 0
        # Quiet windows the model has yet to hear, each with the VAD state of its time (see
        # voice_confidence); pipecat's reset counts from before them; a reset fallen due among
        # them (windows before it, low count then); the latest window's smoothed volume.
        self._unheard: list[tuple[bytes, VADState]] = []
        self._counts_before = (0, 0)
        self._reset_due: tuple[int, int] | None = None
        self._measured: tuple[bytes, float] | None = None

    @property
    def _rising(self) -> float:
        """The least smoothed volume from which the next window's can reach ``min_volume``.

        pipecat moves it by ``_smoothing_factor`` of the way to the volume of the latest 0.4 s
        (at most 1) with each window: from 0.5 at most to 0.6, pipecat's ``min_volume``.
        """
        f = self._smoothing_factor
        return (self._params.min_volume - f) / (1 - f) - 0.01

    @property
    def listening(self) -> bool:
        """Whether the candidate has the floor (speech starts on ``listening_start_secs``)."""
        return self._listening

    @listening.setter
    def listening(self, value: bool) -> None:
        self._listening = value
        self._set_start_frames()

    @property
    def params(self) -> VADParams:
        """The params, with the start that holds now (pipecat reports it with each start)."""
        params = super().params
        if self._listening and self._listening_start_secs is not None:
            return params.model_copy(update={"start_secs": self._listening_start_secs})
        return params

    def set_params(self, params: VADParams) -> None:
        """Set pipecat's params (its counts reset), with the start count for who has the floor."""
        with self._hearing:  # not while a worker thread replays windows with their states
            super().set_params(params)
        self._state = VADState.QUIET  # pipecat's counts start again
        self._set_start_frames()

    def _set_start_frames(self) -> None:
        if not self.sample_rate or not getattr(self, "_vad_frames", 0):
            return  # before set_sample_rate: pipecat's set_params will call back
        start_secs = self.params.start_secs
        self._vad_start_frames = max(1, round(start_secs * self.sample_rate / self._vad_frames))

    @property
    def hears_voice(self) -> bool:
        """Whether the latest audio analysed holds voice: speech starting, under way or pausing.

        Current to the last chunk, ahead of the start frame pipecat queues for it (see
        :class:`processors.patient_turn_stop.HearsVoice`).
        """
        return self._state is not VADState.QUIET

    async def analyze_audio(self, buffer: bytes) -> VADState:
        """Analyse ``buffer`` with pipecat's code, in the caller's thread.

        When quiet windows wait for the model (see :meth:`voice_confidence`) and the smoothed
        volume could reach ``min_volume`` with the next window, the model hears them in a worker
        thread first: up to 80 of them (25 ms) would otherwise stall every session's event loop.
        """
        if len(self._unheard) >= self.HEAR_AHEAD_WINDOWS and self._prev_volume >= self._rising:
            await asyncio.to_thread(self._hear_held)
        self._state = self._run_analyzer(buffer)
        return self._state

    def voice_confidence(self, buffer: bytes) -> float:
        """Silero's confidence for one window, or 0 without running it if too quiet for speech.

        pipecat calls a window speech only if its smoothed volume reaches ``min_volume`` as well
        as its confidence the threshold: below that volume no confidence counts, so the model
        need not run (it is about three quarters of the VAD's cost on a silent candidate). The
        quiet window waits instead, and the first window loud enough runs the model on the
        waiting ones first, each as pipecat would have at its time, so the model's recurrent
        state and pipecat's resets of it end up as pipecat's own.
        """
        volume = super()._get_smoothed_volume(buffer)  # pipecat's, measured ahead of its turn
        self._measured = (buffer, volume)
        if volume < self._params.min_volume:
            self._hold(buffer)
            return 0.0
        if self._unheard:
            self._hear_held()
        return super().voice_confidence(buffer)

    def _hold(self, window: bytes) -> None:
        """Keep a quiet window for the model, and let a reset it makes due drop the older ones.

        pipecat resets the model after 2 s of audio once five windows in a row scored under
        0.1 while the VAD was quiet. Counted here as pipecat counts (confidence taken as 0), a
        reset that falls due is held for :attr:`RESET_SETTLE_WINDOWS` more quiet windows, then
        done: the windows before it no longer matter. The wait keeps the guess off the voice's
        onset, whose first windows are quiet, by the lagging smoothed volume, yet confident.
        """
        if not self._unheard:
            self._counts_before = (self._windows_since_reset, self._low_confidence_windows)
        self._unheard.append((window, self._vad_state))
        self._model.holding_resets = True
        try:
            self._maybe_reset_model(0.0)  # pipecat's count of the windows since its last reset
        finally:
            self._model.holding_resets = False
        if self._model.reset_asked:
            self._model.reset_asked = False
            self._reset_due = (len(self._unheard), self._low_confidence_windows)
        if self._reset_due and len(self._unheard) - self._reset_due[0] >= self.RESET_SETTLE_WINDOWS:
            index, low = self._reset_due
            del self._unheard[:index]
            self._model.reset_states()
            self._counts_before = (0, low)
            self._reset_due = None
        if len(self._unheard) >= self.MAX_UNHEARD_WINDOWS:  # not reached: resets keep it shorter
            self._hear_held()

    def _hear_held(self) -> None:
        """Run the model on the waiting windows, each with the VAD state that held at its time."""
        with self._hearing:
            self._windows_since_reset, self._low_confidence_windows = self._counts_before
            now = self._vad_state
            for window, state in self._unheard:
                self._vad_state = state  # pipecat's reset waits for a quiet VAD
                super().voice_confidence(window)
            self._vad_state = now
            self._unheard.clear()
            self._reset_due = None

    def _get_smoothed_volume(self, audio: bytes) -> float:
        """The smoothed volume pipecat measures, taken from :meth:`voice_confidence` for ``audio``."""
        if self._measured is not None and self._measured[0] is audio:
            return self._measured[1]
        return super()._get_smoothed_volume(audio)
