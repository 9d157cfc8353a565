"""Moonshine tiny-en: the fast words a turn decision needs (``STT_MODEL=moonshine-tiny``).

Whisper always encodes 30 s of audio, so on this box tiny.en takes 0.6-1.0 s for any stretch
of speech, however short, and the turn's end waits for those words. Moonshine encodes only the
audio it is given: 4 s of speech in about 0.17 s on one thread (``benchmarks/final_words.py``
compares words and seconds). The model comes with ``moonshine-voice==0.1.0`` (later versions
dropped the weights) and runs on its own engine over ONNX Runtime.

Two facts about that engine shape this module. It runs ONNX Runtime on as many threads as
there are cores unless ``MOONSHINE_ORT_SINGLE_THREAD`` is set when a transcriber loads; one
thread decodes as fast here with half the CPU, so :func:`load_moonshine_tiny` sets it for the
load. And two decodes at once on one transcriber return each other's (or garbled) text, its C
library keeping one result per transcriber: :class:`MoonshineLoad` runs one at a time.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

from interviewer.final_words import FinalWords
from interviewer.whisper_load import DecodeCount

MODEL_NAME = "moonshine-tiny"
SAMPLE_RATE = 16_000
_SINGLE_THREAD_ENV = "MOONSHINE_ORT_SINGLE_THREAD"
_load_lock = threading.Lock()  # the env variable is read while loading: one load at a time


def load_moonshine_tiny() -> Any:
    """Moonshine tiny-en from the package's own files, its ONNX Runtime on the calling thread."""
    from moonshine_voice import ModelArch, get_model_path
    from moonshine_voice.transcriber import Transcriber

    with _load_lock:
        before = os.environ.get(_SINGLE_THREAD_ENV)
        os.environ[_SINGLE_THREAD_ENV] = "1"
        try:
            return Transcriber(str(get_model_path("tiny-en")), model_arch=ModelArch.TINY)
        finally:
            if before is None:
                del os.environ[_SINGLE_THREAD_ENV]
            else:
                os.environ[_SINGLE_THREAD_ENV] = before


def text_of(transcript: Any) -> str:
    """The words of a Moonshine transcript (its lines joined)."""
    return " ".join(line.text.strip() for line in transcript.lines if line.text.strip())


def pcm_to_floats(pcm: bytes) -> list[float]:
    """16-bit PCM as the list of floats in [-1, 1] Moonshine reads."""
    return (np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0).tolist()


class MoonshineLoad(DecodeCount):
    """One Moonshine transcriber shared by every session: one decode at a time, counted.

    pipecat's ``MoonshineSTTService`` calls :meth:`transcribe_without_streaming` from a
    worker thread; the count lets optional decodes (live words) give way to a turn's words.
    """

    def __init__(self, transcriber: Any):
        super().__init__()
        self._transcriber = transcriber
        self._one_at_a_time = threading.Lock()

    def transcribe_without_streaming(self, audio: list[float], sample_rate: int = SAMPLE_RATE):
        """Moonshine's own call, alone on the transcriber."""
        with self.counted(), self._one_at_a_time:
            return self._transcriber.transcribe_without_streaming(audio, sample_rate)

    def words(self, pcm: bytes) -> str:
        """The words of 16 kHz mono 16-bit ``pcm`` (blocking)."""
        return text_of(self.transcribe_without_streaming(pcm_to_floats(pcm)))


class MoonshineLiveWords(FinalWords):
    """Live words on a Moonshine transcriber of their own, on the decoder's low-priority thread.

    The same bounded, one-at-a-time decoder as :class:`~interviewer.final_words.FinalWords`;
    Moonshine's single ONNX Runtime thread is the decoder's own, so it runs at ``nice``.
    """

    def __init__(self, *, nice: int, max_waiting: int = 1, name: str = "live-words"):
        super().__init__(load_moonshine_tiny, nice=nice, max_waiting=max_waiting, name=name)

    def transcribe(self, pcm: bytes, hotwords: str | None = None) -> str:
        """The words of 16 kHz mono 16-bit ``pcm`` (Moonshine knows no hotwords)."""
        return text_of(self._model.transcribe_without_streaming(pcm_to_floats(pcm), SAMPLE_RATE))
