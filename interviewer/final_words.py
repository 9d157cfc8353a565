"""The words a candidate turn is stored with: the whole turn decoded again, after the reply ended.

Turn decisions need words at once, so Whisper transcribes each stretch of speech on its own
the moment it ends (beam 1). Cut into stretches at every short pause, words lose the sentence
around them ("It was the epoch of belief" heard as "that was the epoch of belief"). Decoded
again as one piece with beam 5, the turn's words come out better: measured by
``benchmarks/final_words.py`` on the real recordings and the scenarios' synthesized answers.

:class:`FinalWords` is the process's decoder: its own Whisper instance on one thread (the live
transcriptions keep theirs) and one decode at a time for every session, refusing work when two
are already waiting, so a busy box keeps the live words rather than falling behind.
:class:`TurnRedecoder` is one session's: it keeps each stretch's audio with the words Whisper
gave it, takes a turn's stretches when the turn ends, waits for the reply's first audio (the
decode never delays it), decodes, and hands the better words to ``on_final``.

Whisper reads 30 s at a time. Told to write no timestamps, faster-whisper moves on by a whole
30 s window, cutting through whatever is said there: a turn longer than that lost words about the
cut and after it ("we were all going direct to Heaven" in two_cities.wav, endgame_nagg_nell.wav's
closing "No."). With timestamps it lost others (a "No." again, and "the day" said twice). So a
long turn is decoded in pieces of whole stretches, each within one window (:func:`pieces`): the
cuts fall in the candidate's own pauses.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from loguru import logger

from interviewer.cpu import lower_this_thread
from interviewer.turn_text import words

REPLY_WAIT_SECS = 20.0  # a turn whose reply has not ended within this is decoded anyway
WINDOW_BYTES = 30 * 16_000 * 2  # what Whisper reads at a time (16 kHz, 16-bit)
MAX_WAITING = 2  # decodes queued or running in the process beyond which a turn keeps its words


def _words(text: str) -> list[str]:
    return [w.lower() for w in words(text)]


class FinalWords:
    """One Whisper decoder for the whole process; whole turns, beam 5, one at a time.

    ``load`` builds the model on the decoder's own daemon thread, at a low CPU priority
    (``nice``, 19: the lowest): the threads CTranslate2 starts for it inherit that, so a decode
    takes only the CPU the live sessions leave, and never holds up the process's exit. It
    refuses a decode when ``max_waiting`` are already queued or running.
    """

    def __init__(
        self,
        load: Callable[[], Any],
        *,
        beam_size: int = 5,
        language: str = "en",
        nice: int = 19,
        max_waiting: int = MAX_WAITING,
        name: str = "final-words",
    ):
        self._model: Any = None
        self._beam_size = beam_size
        self._language = language
        self._nice = nice
        self._max_waiting = max_waiting
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._waiting = 0
        self.decoded = 0
        self.refused = 0
        loaded = concurrent.futures.Future()
        threading.Thread(target=self._work, args=(load, loaded), name=name, daemon=True).start()
        self._model = loaded.result()  # a model that cannot load fails the start-up

    def transcribe(self, pcm: bytes, hotwords: str | None = None) -> str:
        """The words of 16 kHz mono 16-bit ``pcm`` (blocking; its thread's work, and benchmarks')."""
        audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        segments, _ = self._model.transcribe(
            audio,
            language=self._language,
            beam_size=self._beam_size,
            # Past one window (a stretch that long), timestamps say where the next starts.
            without_timestamps=len(pcm) <= WINDOW_BYTES,
            condition_on_previous_text=False,
            hotwords=hotwords,
        )
        return " ".join(s.text.strip() for s in segments).strip()

    async def decode(self, pcm: bytes, hotwords: str | None = None) -> str | None:
        """The words of ``pcm``, or None when the decoder is too busy to take it."""
        with self._lock:
            if self._waiting >= self._max_waiting:
                self.refused += 1
                return None
            self._waiting += 1
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._jobs.put((loop, future, pcm, hotwords))
        try:
            text = await future
            self.decoded += 1
            return text
        finally:
            with self._lock:
                self._waiting -= 1

    def _work(self, load: Callable[[], Any], loaded: concurrent.futures.Future) -> None:
        lower_this_thread(self._nice, f"The {threading.current_thread().name} decoder")
        try:
            loaded.set_result(load())
        except BaseException as e:
            loaded.set_exception(e)
            return
        while (job := self._jobs.get()) is not None:
            loop, future, pcm, hotwords = job
            if future.cancelled():
                continue  # its session ended before its turn came
            try:
                outcome = (future.set_result, self.transcribe(pcm, hotwords))
            except Exception as e:
                outcome = (future.set_exception, e)
            try:
                loop.call_soon_threadsafe(_settle, future, *outcome)
            except RuntimeError:
                pass  # its event loop is closed: nobody waits for it

    def close(self) -> None:
        """Stop after the decodes already queued."""
        self._jobs.put(None)


def _settle(future: asyncio.Future, set_outcome: Callable[[Any], None], value: Any) -> None:
    if not future.done():
        set_outcome(value)


@dataclass
class Stretch:
    """One stretch of speech as Whisper heard it live: its audio and its words."""

    pcm: bytes
    text: str


def take_turn(stretches: list[Stretch], turn_text: str) -> list[Stretch] | None:
    """Remove from the front of ``stretches`` those whose words make up ``turn_text``.

    None when they do not add up to it (a transcript that reached the turn late, or words
    changed on the way): then every stretch kept so far is dropped, so one mismatch never
    holds audio for the rest of the session nor spoils the turns after it.
    """
    want, got, taken = _words(turn_text), [], 0
    for stretch in stretches:
        more = got + _words(stretch.text)
        if more != want[: len(more)]:
            break
        got, taken = more, taken + 1
        if got == want:
            break
    if got != want or not taken:
        stretches.clear()
        return None
    turn = stretches[:taken]
    del stretches[:taken]
    return turn


def pieces(stretches: list[Stretch], window_bytes: int = WINDOW_BYTES) -> list[bytes]:
    """A turn's audio in pieces of whole stretches, each within one Whisper window if it can be.

    A stretch longer than a window is a piece of its own (decoded with timestamps).
    """
    out: list[bytes] = []
    for stretch in stretches:
        if out and len(out[-1]) + len(stretch.pcm) <= window_bytes:
            out[-1] += stretch.pcm
        else:
            out.append(stretch.pcm)
    return out


FinalCallback = Callable[[int, str, str], Awaitable[None]]


class TurnRedecoder:
    """One session's candidate turns, decoded again as wholes once the reply has ended."""

    def __init__(self, decoder: FinalWords, on_final: FinalCallback, hotwords: str | None = None):
        self._decoder = decoder
        self._on_final = on_final
        self._hotwords = hotwords
        self._stretches: list[Stretch] = []
        self._reply_done = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self.improved = 0

    def stretch(self, pcm: bytes, text: str) -> None:
        """A stretch Whisper transcribed live (called by the STT service)."""
        if text.strip():
            self._stretches.append(Stretch(pcm, text))

    def turn_ended(self) -> None:
        """The candidate's turn ended: the next reply to end is this turn's."""
        self._reply_done.clear()

    def reply_done(self) -> None:
        """The interviewer's reply ended (said to its end, or cut off)."""
        self._reply_done.set()

    def turn_stored(self, seq: int, text: str) -> None:
        """The turn was stored as ``seq`` with the live ``text``: decode it again, later."""
        turn = take_turn(self._stretches, text)
        if turn is None:
            logger.debug(f"Turn {seq}: its stretches do not add up to its words; kept as heard")
            return
        task = asyncio.create_task(self._refine(seq, text, pieces(turn)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refine(self, seq: int, live: str, audio: list[bytes]) -> None:
        try:
            await asyncio.wait_for(self._reply_done.wait(), REPLY_WAIT_SECS)
        except TimeoutError:
            pass
        said: list[str] = []
        for piece in audio:
            try:
                text = await self._decoder.decode(piece, self._hotwords)
            except Exception as e:  # better words are a nicety: the live ones stand
                logger.warning(f"Turn {seq}: decoding it again failed: {e}")
                return
            if text is None:
                return  # the decoder is busy: the turn keeps its live words
            said.append(text.strip())
        final = " ".join(t for t in said if t)
        if not final or _words(final) == _words(live):
            return
        self.improved += 1
        await self._on_final(seq, live, final)

    async def settle(self, wait_secs: float) -> None:
        """Wait up to ``wait_secs`` for the decodes in flight; those left keep their live words."""
        tasks = list(self._tasks)
        if not tasks:
            return
        self._reply_done.set()  # the session is over: no reply is coming
        _done, left = await asyncio.wait(tasks, timeout=wait_secs)
        for task in left:
            task.cancel()
        if left:
            logger.info(f"{len(left)} turn(s) keep their live words (session ended first)")
