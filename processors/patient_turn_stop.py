"""End-of-turn detection from the sound, the words and the candidate's own pace.

pipecat's smart-turn strategy ends a turn when the model calls the audio complete and a
transcript is in hand, and otherwise after ``stop_secs`` of silence. This strategy keeps
that and weighs two more kinds of evidence, all as deadlines measured from the moment
the candidate's speech ended:

- **Words** (:func:`interviewer.turn_text.text_verdict`). A stretch that *sounds*
  unfinished but whose transcript is a finished sentence ends after
  ``sentence_pause_secs`` rather than the full ``max_pause_secs``; one that sounds
  finished but ends on "and", "the" or a comma waits the full ``max_pause_secs``.
- **Pace.** When the candidate starts talking again after the turn was released and
  before the reply ended (they talked over it: they had not finished), the pause they
  took is learned, and later turns wait a little longer than it (up to
  ``pace_cap_secs``). Someone who pauses a second between sentences is not cut off at
  every sentence.

It also waits for every transcript (with segmented STT the transcript in hand can be
the previous stretch's; a stretch without words counts once the transcriber says so, see
:class:`~processors.frames.StretchTranscribedFrame`), and gives short answers (fewer than
``min_words``, not a question) ``grace_secs`` more: "Ever tried." is a sentence but rarely a
whole answer. A stretch without words (a cough, a mouth click) does not end the pause it fell
in: the deadlines then count from the end of the words before it again.

Deadlines are on the wall clock, and a turn ends at one only once the audio up to it has been
heard (:class:`~interviewer.audio_clock.AudioClock`): a network that holds the candidate's audio
back is not a silence. If no audio comes at all for ``audio_wait_cap_secs`` (a transport that
sends nothing in silence), the wall clock decides. Pauses are measured on the audio heard too.

Heard is not yet judged: the VAD reports a start only after ``start_secs`` of voice, and pipecat's
user aggregator queues that start frame behind the audio already waiting. So at a deadline the
voice can be back in audio counted as heard, with no start frame yet. Given the session's VAD
(``voice``, :class:`HearsVoice`), a release also waits while the VAD hears voice it has not
settled: a start frame then cancels the release, a false start (a click) lets it go on. And a
turn never ends while the VAD reports the candidate speaking: pipecat would start the reply (its
inference trigger) and only then refuse to end the turn, so the interviewer would talk over them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Protocol

from loguru import logger
from pipecat.frames.frames import (
    BotStoppedSpeakingFrame,
    Frame,
    InputAudioRawFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy

from interviewer.audio_clock import AudioClock
from interviewer.turn_text import text_verdict, words
from processors.frames import StretchTranscribedFrame

PACE_MARGIN_SECS = 0.15  # wait this much longer than the longest pause the candidate went on after
AUDIO_SLACK_SECS = 0.08  # audio comes in 20-32 ms chunks, give or take a chunk's jitter


class HearsVoice(Protocol):
    """The session's VAD, as far as a release needs it."""

    @property
    def hears_voice(self) -> bool:
        """Whether the latest audio it analysed holds voice (starting, under way or pausing)."""
        ...


class PatientTurnStopStrategy(TurnAnalyzerUserTurnStopStrategy):
    """Smart-turn end-of-turn, weighed with the transcript's words and the candidate's pace."""

    def __init__(
        self,
        *,
        min_words: int = 8,
        grace_secs: float = 1.0,
        sentence_pause_secs: float = 0.7,
        max_pause_secs: float = 2.0,
        pace_cap_secs: float = 1.0,
        audio_wait_cap_secs: float = 1.0,
        voice: HearsVoice | None = None,
        **kwargs,
    ):
        """``voice``: the session's VAD, asked at a release whether voice is back (None: not asked)."""
        super().__init__(**kwargs)
        self._min_words = min_words
        self._grace_secs = grace_secs
        self._sentence_pause_secs = sentence_pause_secs
        self._max_pause_secs = max_pause_secs
        self._pace_cap_secs = pace_cap_secs
        self._audio_wait_cap_secs = audio_wait_cap_secs
        self._voice = voice
        self.clock = AudioClock()
        self._audio_came = asyncio.Event()
        self.audio_waits: list[float] = []  # how long each release waited for held-back audio
        self.voice_holds = 0  # releases (and early starts) held as the voice was back (tests, logs)
        self._words = 0
        self._unheard: deque[float] = deque()  # ends of closed stretches not yet transcribed
        self._speech_end = 0.0  # wall-clock time the latest stretch of speech ended
        self._words_end: float | None = None  # ... the latest one with words (this turn)
        self._grace_deadline: float | None = None
        self._release_task: asyncio.Task | None = None
        self._released_after: float | None = (
            None  # speech end of a released turn, until the reply is over
        )
        self.pace_secs = 0.0  # learned: silence this candidate needs before a turn may end

    @property
    def _untranscribed(self) -> int:
        """Stretches of speech the VAD closed whose transcript has not come yet."""
        return len(self._unheard)

    def _heard(self) -> float | None:
        """The oldest untranscribed stretch is transcribed: its end (None if none was counted)."""
        return self._unheard.popleft() if self._unheard else None

    # -- turn boundaries ---------------------------------------------------------------

    async def _reset(self):
        self._words = 0
        self._words_end = None
        await super()._reset()

    async def _discard_pending_end_of_turn(self):
        self._grace_deadline = None
        if self._release_task:
            await self.task_manager.cancel_task(self._release_task)
            self._release_task = None
        await super()._discard_pending_end_of_turn()

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        """Track the audio heard, and the reply's end: talking after it is a new turn."""
        if isinstance(frame, InputAudioRawFrame) and frame.sample_rate and frame.num_channels:
            self.clock.hear(len(frame.audio) / (2 * frame.num_channels * frame.sample_rate))
            self._audio_came.set()  # the audio clock: what has been heard
        result = await super().process_frame(frame)
        if isinstance(frame, BotStoppedSpeakingFrame):
            self._released_after = None
        elif isinstance(frame, StretchTranscribedFrame) and not frame.text.strip():
            await self._handle_wordless_stretch()
        return result

    # -- evidence ------------------------------------------------------------------------

    async def _handle_vad_user_started_speaking(self, frame: VADUserStartedSpeakingFrame):
        logger.debug(
            f"{self}: voice again ({self.clock.heard_secs:.2f}s heard"
            f"{', a release pending' if self._release_task else ''})"
        )
        if self._released_after is not None:
            pause = self.clock.since(self._released_after, frame.timestamp) - frame.start_secs
            self._learn_pace(pause)
            self._released_after = None
        await super()._handle_vad_user_started_speaking(frame)

    def _learn_pace(self, pause: float) -> None:
        if not 0 < pause <= self._max_pause_secs:
            return  # a new thought after a long silence, not a pause inside one
        pace = min(self._pace_cap_secs, pause + PACE_MARGIN_SECS)
        if pace > self.pace_secs:
            logger.info(
                f"{self}: the candidate went on after a {pause:.2f}s pause; turns now wait at least {pace:.2f}s"
            )
            self.pace_secs = pace

    async def _handle_vad_user_stopped_speaking(self, frame: VADUserStoppedSpeakingFrame):
        logger.debug(f"{self}: voice stopped ({self.clock.heard_secs:.2f}s heard)")
        self.clock.mark(frame.timestamp)
        self._speech_end = frame.timestamp - frame.stop_secs
        self._unheard.append(self._speech_end)
        await super()._handle_vad_user_stopped_speaking(frame)
        await self._consider_words()

    async def _handle_transcription(self, frame: TranscriptionFrame):
        end = self._heard()
        if frame.text.strip():
            self._words_end = self._speech_end if end is None else end
        self._words += len(words(frame.text))
        await super()._handle_transcription(frame)
        await self._consider_words()

    async def _handle_wordless_stretch(self):
        """The transcriber found no words in a stretch (a cough, a click): it is transcribed.

        If it was the last voice and the candidate is silent, the pause it fell in goes on: the
        turn's deadlines count from the end of the words before it.
        """
        logger.debug(f"{self}: a stretch without words")
        self._heard()
        if not self._unheard and not self._vad_user_speaking and self._words_end is not None:
            self._speech_end = self._words_end
        await self._consider_words()

    async def _consider_words(self):
        """A stretch smart-turn calls unfinished may still end here if its words are finished."""
        if (
            self._turn_complete
            or self._vad_user_speaking
            or not self._vad_stopped
            or not self._text
        ):
            return
        if self._untranscribed == 0 and text_verdict(self._text) == "complete":
            await self._release_at(self._speech_end + self._sentence_pause_secs)

    # -- release ---------------------------------------------------------------------------

    async def trigger_user_turn_stopped(self, **kwargs):
        """Smart-turn (or its silence limit) calls the turn over: release it when the rest agrees."""
        if self._untranscribed > 0 and not self._timeout_expired:
            return  # the last stretch's transcript is still coming; it will re-check
        self._unheard.clear()
        deadline = self._speech_end
        if text_verdict(self._text) == "dangling":
            deadline = self._speech_end + self._max_pause_secs
        await self._release_at(deadline)

    async def _release_at(self, deadline: float):
        """End the turn at ``deadline`` (wall clock), or later if pace or a short answer asks."""
        asked = self._text.rstrip().endswith(
            "?"
        )  # a question to us ("could you repeat that?") yields the turn
        if not asked:
            deadline = max(deadline, self._speech_end + self.pace_secs)
            if self._words < self._min_words and self._grace_secs > 0:
                if self._grace_deadline is None:
                    self._grace_deadline = time.time() + self._grace_secs
                deadline = max(deadline, self._grace_deadline)
        logger.debug(
            f"{self}: turn ends {max(0.0, deadline - self._speech_end):.2f}s after speech "
            f"(sounds {'finished' if self._turn_complete else 'unfinished'}, "
            f"reads {text_verdict(self._text)}, {self._words} words): {self._text!r}"
        )
        if self._release_task:
            await self.task_manager.cancel_task(self._release_task)
        self._release_task = self.task_manager.create_task(
            self._release(deadline), f"{self}::release"
        )

    async def _release(self, deadline: float):
        try:
            await asyncio.sleep(max(0.0, deadline - time.time()))
            await self._hear_until(deadline)
            await self._while_voice_unreported()
        except asyncio.CancelledError:
            return
        self._release_task = None
        if self._vad_user_speaking:
            # The candidate is talking (a start this release was not cancelled by): their next
            # pause is judged afresh.
            self.voice_holds += 1
            logger.info(f"{self}: the turn stays open: the candidate is speaking")
            return
        self._released_after = self._speech_end
        await self._end_turn()

    async def _end_turn(self):
        """The turn is over: the aggregator writes it to the context and the reply runs."""
        await super().trigger_user_turn_stopped()

    async def _hear_until(self, deadline: float) -> None:
        """Wait until the audio up to ``deadline`` is heard: the candidate may be talking in it.

        A VAD start in that audio cancels the release (see ``_discard_pending_end_of_turn``).
        """
        if self.clock.behind(deadline) <= AUDIO_SLACK_SECS:
            return
        t0 = time.time()
        give_up = t0 + self._audio_wait_cap_secs
        while self.clock.behind(deadline) > AUDIO_SLACK_SECS:
            if not await self._next_audio(give_up):
                logger.warning(
                    f"{self}: no audio for {self._audio_wait_cap_secs:.1f}s past the turn's end; "
                    "ending it by the clock"
                )
                break
        waited = time.time() - t0
        self.audio_waits.append(waited)
        logger.info(f"{self}: waited {waited:.2f}s for audio the network held back")

    async def _while_voice_unreported(self) -> None:
        """Wait while the VAD hears voice it has not reported (its start frame may be queued).

        The start frame cancels the release; a false start (a click) settles back to quiet within
        a chunk or two. With no audio coming, ``audio_wait_cap_secs`` on, the release goes ahead.
        """
        if self._voice is None or not self._voice.hears_voice:
            return
        self.voice_holds += 1
        logger.debug(f"{self}: the voice is back in audio not yet judged; the turn waits")
        give_up = time.time() + self._audio_wait_cap_secs
        while self._voice.hears_voice and await self._next_audio(give_up):
            pass

    async def _next_audio(self, give_up: float) -> bool:
        """Wait for the next chunk of audio until wall-clock ``give_up``; False if none came."""
        left = give_up - time.time()
        if left <= 0:
            return False
        self._audio_came.clear()
        try:
            async with asyncio.timeout(left):
                await self._audio_came.wait()
        except TimeoutError:
            return False
        return True

    async def cleanup(self):
        """Cancel a pending release."""
        if self._release_task:
            await self.task_manager.cancel_task(self._release_task)
            self._release_task = None
        await super().cleanup()
