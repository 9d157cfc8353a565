"""Interim transcripts while the candidate speaks: Whisper on the growing stretch, now and then.

pipecat's segmented Whisper service transcribes a stretch of speech once it has ended, so
the page shows nothing while the candidate talks. This stage, before it, keeps the audio of
the stretch being spoken and every ``interval_secs`` re-transcribes it, pushing pipecat's
``InterimTranscriptionFrame``: the page shows the words live, in italics, until the final
transcript replaces them. After a decode the next waits at least as long as it took, so a
long stretch (whose decodes grow) costs at most half a core. The decodes run on the process's
live-words decoder (the STT model's own instance at a low CPU priority, one decode at a time
for every session), and start only while the shared STT model
(:class:`interviewer.whisper_load.WhisperLoad`) runs no final decode: a stretch's final
transcript neither queues behind live words nor shares the CPU with them when the candidate
pauses while a live decode runs. A decode still running when the stretch ends finishes on its
thread and its words are dropped. The VAD frames come upstream from the user aggregator.
"""

from __future__ import annotations

import asyncio
import time

from loguru import logger
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.utils.time import time_now_iso8601

from interviewer.audio import STRETCH_TRAILING_SILENCE_SECS, silence

PRE_ROLL_SECS = 0.5  # audio kept from before the VAD's start (it starts start_secs late)
MIN_SECS = 0.8  # a stretch shorter than this is not worth a decode
LOOP_WORDS = 3  # a word said this many times in a row is the model looping, not the candidate
WHISPER_RATE = 16_000


def interim_audio(pcm: bytes) -> bytes:
    """The stretch so far as it is decoded: followed by silence, as a whole stretch is.

    The STT gives every whole stretch ``STRETCH_TRAILING_SILENCE_SECS`` of silence. Decoded
    without it, Moonshine often begins with a word nobody said ("You", "Yeah", "1"): on
    two_cities.wav cut every 0.5 s, the first word shown was not in the stretch's final words
    in 34 of 64 interims, and 6 of 65 with it (83 % -> 95 % of the words shown confirmed).
    """
    return pcm + silence(STRETCH_TRAILING_SILENCE_SECS, WHISPER_RATE)


def settled_words(text: str) -> str:
    """The words of an interim decode worth showing: all but the last, up to any loop.

    The audio ends where the candidate is, often mid-word, and the last word is then a guess
    ("That was the e. p." for "It was the epoch"). Before :func:`interim_audio` added silence,
    on two_cities.wav, endgame_nagg_nell.wav, hotwords.mp3 and beckett.wav cut every 0.5 s
    (0.5-0.57 s of the recording before each stretch), 79.6 % of Moonshine's interim words were
    in the stretch's final words, 82.4 % without the last word, and interims of which under half
    were fell from 48 of 301 to 25 of 279. Cut mid-word, Moonshine also loops ("noisy histori
    tho tho tho tho ..."): the words stop where a word repeats ``LOOP_WORDS`` times in a row.
    """
    said = text.split()[:-1]
    bare = [w.strip(".,;:!?\"'").lower() for w in said]
    for i in range(len(bare) - LOOP_WORDS + 1):
        if len(set(bare[i : i + LOOP_WORDS])) == 1:
            said = said[:i]
            break
    return " ".join(said)


class InterimTranscriber(FrameProcessor):
    """Pushes interim transcripts of the stretch being spoken every ``interval_secs``."""

    def __init__(
        self, whisper, decoder, *, interval_secs: float = 1.0, language: str = "en", **kwargs
    ):
        """``whisper``: the shared STT model's load; ``decoder``: the live-words decoder."""
        super().__init__(**kwargs)
        self._whisper = whisper
        self._decoder = decoder
        self._interval = interval_secs
        self._language = language
        self._audio = bytearray()
        self._speaking = False
        self._stretch = 0  # counts stretches: a decode of an ended one is dropped
        self._next_at = 0.0  # seconds of stretch audio at which the next decode may start
        self._decode: asyncio.Task | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Keep the stretch's audio; decode it now and then; pass every frame on."""
        await super().process_frame(frame, direction)
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._speaking = True
            self._stretch += 1
            self._next_at = self._interval
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._speaking = False
            self._audio.clear()
        elif isinstance(frame, InputAudioRawFrame):
            self._keep(frame)
        await self.push_frame(frame, direction)

    def _keep(self, frame: InputAudioRawFrame) -> None:
        if frame.sample_rate != WHISPER_RATE or frame.num_channels != 1:
            return  # the pipeline hears 16 kHz mono; anything else is not ours to decode
        self._audio += frame.audio
        if not self._speaking:
            keep = 2 * int(PRE_ROLL_SECS * WHISPER_RATE)
            del self._audio[:-keep]
            return
        secs = len(self._audio) / 2 / WHISPER_RATE
        if (
            secs >= max(self._next_at, MIN_SECS)
            and self._decode is None
            and self._whisper.idle  # only when no decode runs: finals come first
        ):
            self._next_at = secs + self._interval
            self._decode = self.create_task(
                self._transcribe(bytes(self._audio), self._stretch), f"{self}::interim"
            )

    async def _transcribe(self, pcm: bytes, stretch: int) -> None:
        # Claimed here, not when the task was made: a task cancelled before it starts never
        # runs its ``finally``, and its claim would keep every session's live words off.
        if not self._whisper.claim_optional():
            self._decode = None  # another session's decode started first
            return
        started = time.perf_counter()
        try:
            text = await self._decoder.decode(interim_audio(pcm))
        except Exception as e:  # interim words are a nicety: never let them stop a session
            logger.warning(f"{self}: interim transcript failed: {e}")
            return
        finally:
            self._whisper.release_optional()
            self._decode = None
            # Rest at least as long as the decode took (measured in stretch audio).
            heard = len(self._audio) / 2 / WHISPER_RATE
            self._next_at = max(self._next_at, heard + time.perf_counter() - started)
        text = settled_words(text or "")
        if text and self._speaking and stretch == self._stretch:
            await self.push_frame(
                InterimTranscriptionFrame(text, "", time_now_iso8601(), self._language)
            )

    async def cleanup(self):
        """Stop a decode in flight."""
        if self._decode is not None:
            await self.cancel_task(self._decode)
            self._decode = None
        await super().cleanup()
