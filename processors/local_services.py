"""pipecat's local model services, fed with the process-wide shared models.

pipecat's Whisper, Piper and smart-turn classes load their model in ``__init__``. These
subclasses take the already-loaded model from the :class:`~interviewer.models.ModelBank`
instead, so building a session costs no model load; all inference still runs through
pipecat's own code (segmenting, resampling, metrics, interruption handling).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn, SmartTurnParams
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.services.piper.tts import PiperTTSService
from pipecat.services.tts_service import TTSService
from pipecat.services.whisper.stt import WhisperSTTService


class _TunedWhisper:
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


class SharedWhisperSTTService(WhisperSTTService):
    """pipecat's segmented Whisper STT on a model loaded once per process."""

    def __init__(
        self,
        *,
        model: Any,
        model_name: str,
        beam_size: int = 1,
        language: str = "en",
        hotwords: str | None = None,
        **kwargs,
    ):
        self._shared_model = _TunedWhisper(model, beam_size)
        super().__init__(
            settings=WhisperSTTService.Settings(
                model=model_name, language=language, hotwords=hotwords
            ),
            **kwargs,
        )

    def _load(self):
        self._model = self._shared_model


class _LockedVoice:
    """A Piper voice whose synthesis steps are serialised across sessions."""

    def __init__(self, voice: Any, lock: threading.Lock):
        self._voice = voice
        self._lock = lock
        self.config = voice.config

    def synthesize(self, text: str) -> Iterator[Any]:
        """Yield audio chunks (one per sentence) holding the lock only while computing one."""
        with self._lock:
            it = iter(self._voice.synthesize(text))
        while True:
            with self._lock:
                try:
                    chunk = next(it)
                except StopIteration:
                    return
            yield chunk


class SharedPiperTTSService(PiperTTSService):
    """pipecat's in-process Piper TTS on a voice loaded once per process (never downloads)."""

    def __init__(
        self, *, voice: Any, lock: threading.Lock, voice_name: str = "en_US-joe-medium", **kwargs
    ):
        # Skip PiperTTSService.__init__ (it loads or downloads a voice); set up as it would.
        TTSService.__init__(
            self,
            push_start_frame=True,
            push_stop_frames=True,
            settings=PiperTTSService.Settings(model=None, voice=voice_name, language=None),
            **kwargs,
        )
        self._voice = _LockedVoice(voice, lock)


class SharedSmartTurnAnalyzer(LocalSmartTurnAnalyzerV3):
    """Smart-turn v3 end-of-turn model on an ONNX session shared by all sessions."""

    def __init__(self, *, session: Any, params: SmartTurnParams | None = None):
        BaseSmartTurn.__init__(self, params=params)
        self._log_data = False
        self._session = session
