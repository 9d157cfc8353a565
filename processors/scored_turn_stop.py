"""End-of-turn from a score of how finished the candidate's words are.

:class:`~processors.patient_turn_stop.PatientTurnStopStrategy` ends a turn by rules on the
last transcript. Measured on labelled pauses (``benchmarks/turn_decisions.py``: real
recordings, the scenarios and synthesized answers with hesitations), a small LM's
probability that the whole turn's words end here (:mod:`interviewer.eot`, SmolLM2-135M)
does better, and smart-turn's probability adds nothing to it there (it calls finished
sentences finished, mid-answer too; it is logged beside the score). At each pause, once
every stretch is transcribed, the turn ends after ``fast_secs`` of silence when the score
reaches ``threshold``, else after ``slow_secs``. Words that stop on a comma (a colon, a dash,
an ellipsis) wait ``slow_secs`` unscored: the scorer strips the transcriber's trailing marks
and judges the words alone, so it reads "It was the age of wisdom," as finished as often as
not (3 of 4 such pauses in the labelled set scored above the threshold, and the candidate
went on after all 4). A question to the interviewer ends after ``fast_secs``; the
candidate's learned pace still holds (see the parent class). With a
:class:`~interviewer.rhythm.CandidateRhythm`, ``fast_secs`` shrinks to the candidate's own
rhythm: every pause they went on after is fed to it, unless its words were judged unfinished
(the long wait held there anyway); one they went on after before the words could be judged
counts, being the short pause of a fluent speaker. A pause counts once what followed it is
heard as words (live or final): a cough or a chair's creak after a finished sentence is not
the candidate going on, and would have set the short wait to its floor; the pause goes on
through it, and the wait counts from the words before it.

The score takes one call on a loopback server: 50-90 ms for words it has read before, about
15 ms more per new word (a new 12-word stretch: 190-330 ms). It may take until the long wait
runs out (``slow_secs`` after the speech), since only then could it no longer shorten the
wait; if it fails or is later, the turn ends after ``slow_secs``. Words transcribed with less
than ``score_budget_floor_secs`` of the long wait left are not scored at all.

With ``may_speculate`` (an OpenAI-compatible LLM, ``TURN_SPECULATE``), a judged pause starts
the reply ``speculate_lead_secs`` before the turn would end (about the LLM's time to its first
token; at once if that is already past): pipecat's speculative inference, on a provisional context
with the words so far, its response held by the LLM service's ``SpeculationGate``. The turn's end
confirms it if the words are still the same (no second inference); the candidate's voice coming
back, or other words by then, withdraws it. A pause the candidate ends before that moment starts
none, so most pauses inside an answer (shorter than the long wait less the lead) cost nothing;
nor does one whose voice is back by then in audio the VAD has not reported yet (see the parent
class): the start waits until the VAD reports it (nothing starts) or settles (a click).
The LLM's time to first token is then spent inside the silence the turn waits anyway.
A brain that writes its own line early (the local model's line writer) is told at the same
moment, through ``write_early``; it hears the candidate go on by itself.

While the candidate speaks, the live (interim) words are scored too and the result dropped,
one call at a time: that keeps the scorer's prompt cache up with the answer, so the score at
the pause reads only the last few words. Without it, on two cores busy with Whisper, most
pauses' scores (14 of 17 in one run of ``benchmarks/latency.py``) missed their budget.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from loguru import logger
from pipecat.frames.frames import (
    BotStoppedSpeakingFrame,
    Frame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.metrics.metrics import MetricsData
from pipecat.turns.types import ProcessFrameResult, UserTurnSpeculation

from interviewer.rhythm import CandidateRhythm
from interviewer.turn_text import ends_mid_sentence
from processors.patient_turn_stop import PatientTurnStopStrategy

# A speculation needs this much time before the turn's end to be worth starting: any later and
# the turn ends as it starts (the reply then runs the ordinary way).
SPECULATION_MIN_LEAD_SECS = 0.15


def reads_finished(words: str, score: float | None, threshold: float) -> bool:
    """Whether a pause's words read as a finished answer (the short wait's condition).

    Scored at least ``threshold``, and not stopped on a comma (or a colon, a dash): the score
    never sees the transcriber's trailing marks.
    """
    return score is not None and score >= threshold and not ends_mid_sentence(words)


class TurnScorer(Protocol):
    """How likely the candidate's ``words`` end their answer to ``question`` (0..1)."""

    async def score(self, question: str, words: str) -> float:
        """P(the answer ends here)."""
        ...

    async def aclose(self) -> None:
        """The session is over: free what the scorer holds."""
        ...


@dataclass
class _GoneOn:
    """A pause the candidate's voice came back after; learned once that voice is words."""

    since: float  # wall-clock time the pause began (the speech before it ended)
    pause_secs: float
    earlier: int  # stretches before it still to be transcribed: their words are not its own


class ScoredTurnStopStrategy(PatientTurnStopStrategy):
    """Ends a turn after a short silence when its words score finished, a longer one otherwise."""

    def __init__(
        self,
        *,
        scorer: TurnScorer,
        question: Callable[[], str],
        threshold: float = 0.15,
        fast_secs: float = 1.2,
        slow_secs: float = 1.5,
        score_budget_floor_secs: float = 0.05,
        rhythm: CandidateRhythm | None = None,
        may_speculate: Callable[[], bool] | None = None,
        speculate_lead_secs: float = 0.6,
        write_early: Callable[[], None] | None = None,
        **kwargs,
    ):
        """``may_speculate``: whether a pause may start the reply before the turn ends (None: never).

        ``speculate_lead_secs``: how long before the turn's end it starts. ``write_early``: called
        at that moment, for a brain that starts its own line (None: none does).
        """
        super().__init__(**kwargs)
        self._scorer = scorer
        self._question = question
        self._threshold = threshold
        self._fast_secs = fast_secs
        self._slow_secs = slow_secs
        self._score_budget_floor_secs = score_budget_floor_secs
        self.rhythm = rhythm  # None: finished-reading turns always wait fast_secs
        self._pause_from: float | None = None  # speech end of the pause under way, if learnable
        self._gone_on: _GoneOn | None = None  # the voice came back after a learnable pause
        self._said: list[str] = []  # every transcript of this turn
        self._smart_p: float | None = None  # smart-turn's probability for the latest stretch
        self.decisions: list[dict] = []  # one per pause judged: words, scores, wait (for tests)
        self._warming: asyncio.Task | None = None  # a score of live words, to warm the cache
        self.warmed = 0  # live-word scores made (for tests and logs)
        self._may_speculate = may_speculate
        self._speculate_lead_secs = speculate_lead_secs
        self._write_early = write_early
        self._speculation: str | None = None  # the words a reply is being written for, held
        self.speculations: list[str] = []  # how each speculation ended: confirmed | withdrawn

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        """Also score the live words, so that the pause's score finds them read already."""
        result = await super().process_frame(frame)
        if isinstance(frame, InterimTranscriptionFrame) and frame.text.strip():
            self._learn()  # live words are the stretch under way: the candidate went on
            self._warm(" ".join([*self._said, frame.text.strip()]))
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._pause_from = None  # the reply was heard out: what follows is a new turn
            self._gone_on = None
        return result

    def _learn(self) -> None:
        """The voice after a learnable pause was words: the rhythm learns that pause."""
        if self._gone_on is None or self.rhythm is None:
            return
        pause, self._gone_on = self._gone_on.pause_secs, None
        self.rhythm.went_on(pause)
        logger.debug(
            f"{self}: went on after a {pause:.2f}s pause (its words read finished or were not yet judged)"
        )

    def _warm(self, words: str) -> None:
        if self._warming is not None and not self._warming.done():
            return  # one at a time: the next live words will do
        self._warming = self.task_manager.create_task(self._warm_on(words), f"{self}::warm")

    async def _warm_on(self, words: str) -> None:
        try:
            await self._scorer.score(self._question(), words)
            self.warmed += 1
        except asyncio.CancelledError:
            raise
        except Exception as e:  # only a cache warm-up: the pause's own score decides
            logger.debug(f"{self}: warming the text score failed ({type(e).__name__})")

    async def cleanup(self):
        """Stop a warm-up in flight and close the scorer."""
        self._speculation = None  # the session is over: nothing left to withdraw it from
        if self._warming is not None:
            await self.task_manager.cancel_task(self._warming)
            self._warming = None
        await super().cleanup()
        await self._scorer.aclose()

    # -- evidence ----------------------------------------------------------------------

    async def _reset(self):
        self._said = []
        await self._withdraw("the turn ended another way")
        await super()._reset()

    async def _handle_vad_user_started_speaking(self, frame: VADUserStartedSpeakingFrame):
        await self._withdraw("the candidate went on")
        if self._pause_from is not None and self.rhythm is not None:
            # Until the VAD hears the voice again: what a wait must outlast not to cut in.
            pause = self.clock.since(self._pause_from, frame.timestamp)
            self._gone_on = _GoneOn(self._pause_from, pause, earlier=self._untranscribed)
            self._pause_from = None
        self._smart_p = None
        await super()._handle_vad_user_started_speaking(frame)

    async def _handle_prediction_result(self, result: MetricsData | None):
        probability = getattr(result, "probability", None)
        if isinstance(probability, float):
            self._smart_p = probability
        await super()._handle_prediction_result(result)

    async def _handle_vad_user_stopped_speaking(self, frame: VADUserStoppedSpeakingFrame):
        # A pause begins. Learned if the candidate goes on before its words are judged (a pause
        # that short is the rhythm of a fluent speaker) or after they were judged finished.
        self._pause_from = frame.timestamp - frame.stop_secs
        await super()._handle_vad_user_stopped_speaking(frame)

    async def _handle_transcription(self, frame: TranscriptionFrame):
        if frame.text.strip():
            self._said.append(frame.text.strip())
        self._stretch_heard(bool(frame.text.strip()))
        await super()._handle_transcription(frame)

    async def _handle_wordless_stretch(self):
        self._stretch_heard(False)
        await super()._handle_wordless_stretch()

    def _stretch_heard(self, has_words: bool) -> None:
        """A stretch is transcribed: was the voice after a learnable pause the candidate going on?"""
        gone_on = self._gone_on
        if gone_on is None:
            return
        if gone_on.earlier > 0:
            gone_on.earlier -= 1  # a stretch before the pause
        elif has_words:
            self._learn()  # before the judgment these words may bring on
        else:  # the voice after the pause held no words: not going on, the pause goes on
            self._gone_on = None
            if not self._vad_user_speaking:
                self._pause_from = gone_on.since

    # -- decision ----------------------------------------------------------------------

    async def _consider_words(self):
        """Judge the pause once the candidate is silent and every stretch is transcribed."""
        if self._vad_user_speaking or not self._vad_stopped or not self._text:
            return
        if self._untranscribed == 0:
            await self._judge()

    async def trigger_user_turn_stopped(self, **kwargs):
        """Smart-turn's own verdict (or its silence limit) defers to the scored decision."""
        if self._untranscribed > 0 and not self._timeout_expired:
            return
        self._unheard.clear()
        await self._judge()

    async def _judge(self):
        if self._release_task is not None:
            return  # this pause is being judged, or its release is already set
        self._release_task = self.task_manager.create_task(
            self._score_and_release(), f"{self}::score"
        )

    async def _text_score(self, words: str) -> float | None:
        """The scorer's reading of ``words``; None if it came too late, slow, or failed."""
        # Worth waiting for until the long wait runs out (past it, it could change nothing).
        budget = self._speech_end + self._slow_secs - time.time()
        if budget < self._score_budget_floor_secs:
            logger.debug(f"{self}: words came too late to score ({budget:.2f}s left)")
            return None
        try:
            return await asyncio.wait_for(self._scorer.score(self._question(), words), budget)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a slow or failed score: judge by the sound alone
            logger.warning(f"{self}: no text score ({type(e).__name__}); judging by the sound")
            return None

    async def _score_and_release(self):
        words = " ".join(self._said)
        smart = self._smart_p
        t0 = time.perf_counter()
        mid_sentence = ends_mid_sentence(words)  # the long wait, whatever a score would say
        text_score = None if mid_sentence else await self._text_score(words)
        ms = 1000 * (time.perf_counter() - t0)
        asked = words.rstrip().endswith("?")  # a question to us yields the turn
        finished = reads_finished(words, text_score, self._threshold)
        fast = self.rhythm.fast_wait(self._fast_secs) if self.rhythm else self._fast_secs
        wait = fast if asked or finished else self._slow_secs
        if not finished:
            self._pause_from = None  # the long wait held here anyway: nothing to learn
        if not asked:
            wait = max(wait, self.pace_secs)
        self.decisions.append(
            {
                "words": words,
                "smart": smart,
                "text": text_score,
                "mid_sentence": mid_sentence,
                "wait": wait,
            }
        )
        read = (
            "ends mid-sentence" if mid_sentence else f"text score {_fmt(text_score)} in {ms:.0f} ms"
        )
        logger.debug(
            f"{self}: turn ends {wait:.2f}s after speech ({read}, smart-turn {_fmt(smart)}): "
            f"{words[-80:]!r}"
        )
        await self._speculate(self._speech_end + wait)
        await self._release(self._speech_end + wait)

    # -- speculation -------------------------------------------------------------------

    async def _speculate(self, turn_end: float) -> None:
        """Start the reply the lead before ``turn_end``, held until the turn ends.

        Runs in the release task: the candidate's voice coming back first cancels it. Voice the
        VAD hears but has not reported yet holds it too: most such voice is the candidate going
        on, whose start frame is queued behind the audio; a click settles, and it starts then.
        """
        if self._may_speculate is None and self._write_early is None:
            return
        if self._speculation is not None:
            return
        await asyncio.sleep(max(0.0, turn_end - self._speculate_lead_secs - time.time()))
        await self._while_voice_unreported()
        if self._write_early is not None:
            self._write_early()  # a line started even late is a line started before the turn ends
        if self._may_speculate is None:
            return
        if turn_end - time.time() < SPECULATION_MIN_LEAD_SECS or not self._may_speculate():
            return
        words = " ".join(self._said)
        self._speculation = words
        logger.debug(f"{self}: the reply starts now, held until the turn ends: {words[-80:]!r}")
        await self.trigger_user_turn_inference_triggered(
            speculation=UserTurnSpeculation(text=words)
        )

    async def _withdraw(self, why: str) -> None:
        """Drop the reply started for this pause (if any): it answers words not yet finished."""
        if self._speculation is None:
            return
        self._speculation = None
        self.speculations.append("withdrawn")
        logger.debug(f"{self}: the reply started early is dropped ({why})")
        await self.trigger_user_turn_speculation_cancelled()

    async def _end_turn(self):
        """Confirm the reply started early if it answers these words; else run it now."""
        if self._speculation is not None and self._speculation == " ".join(self._said):
            self._speculation = None
            self.speculations.append("confirmed")
            await self.trigger_user_turn_finalized(confirms_speculation=True)
            return
        await self._withdraw("the words changed")
        await super()._end_turn()


def _fmt(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.2f}"
