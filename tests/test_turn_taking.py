"""End-of-turn decisions: the words of a transcript, the candidate's pace, and how they combine.

The strategy tests drive ``PatientTurnStopStrategy`` with pipecat's own frames and task
manager. The turn analyzer there is a fixed verdict (what smart-turn would say), so each
test controls one piece of evidence; durations are scaled down to keep them fast. The
real model and real speech are exercised in ``test_turn_words_on_real_speech`` below and
in the server-level tests (tests/test_scenarios.py, benchmarks/turn_decisions.py).

The checks are on the order of decisions, not on speed. A timer never fires early, and a
loaded machine only makes it late: a turn held for a pause ends no sooner than the pause
(less ``EARLY``, the clock's granularity), and any lateness up to the gap to the next,
longer, limit is tolerated (half a second at least here). A turn that ends "at once"
ends before the shortest pause that could have held it.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from pipecat.audio.turn.base_turn_analyzer import BaseTurnAnalyzer, BaseTurnParams, EndOfTurnState
from pipecat.clocks.system_clock import SystemClock
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    InputAudioRawFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.utils.asyncio.task_manager import TaskManager, TaskManagerParams

from interviewer.turn_text import ends_mid_sentence, text_verdict
from processors.patient_turn_stop import PACE_MARGIN_SECS, PatientTurnStopStrategy

SENTENCE = 0.5  # scaled-down TURN_SENTENCE_PAUSE_SECS
MAX_PAUSE = 1.2  # scaled-down TURN_MAX_PAUSE_SECS
PACE_CAP = 0.9
GRACE = 0.6
EARLY = 0.02  # clock granularity: how much sooner than its deadline a release may be measured
LATE = 10.0  # how long to wait for a release that must come (a bound on hanging, not on speed)
LONG_ANSWER = "I led the migration of our billing service to a new database last year."


@pytest.mark.parametrize(
    "text, verdict",
    [
        ("I led the migration last year.", "complete"),
        ("Could you repeat the question?", "complete"),
        ("Yes!", "complete"),
        ("and then we rebuilt the index and", "dangling"),
        ("We moved it to the.", "dangling"),
        ("It was the best of times,", "dangling"),
        ("I think, um", "dangling"),
        ("Because...", "dangling"),
        ("so the main reason was because", "dangling"),
        ("we rebalanced the index", "open"),
        ("", "open"),
        ('He said "ship it."', "complete"),
        ("the tail latency dropped by about 60%.", "complete"),
        ("We cut it to 40 ms.", "complete"),
        ("It's what I'd do, and I'd do it again.", "complete"),
    ],
)
def test_text_verdict(text, verdict):
    assert text_verdict(text) == verdict


@pytest.mark.parametrize(
    "text, mid",
    [
        ("It was the age of wisdom,", True),
        ('He said "so,"', True),
        ("The hard part:", True),
        ("Because...", True),
        ("and then we rebuilt the index and", False),  # a dangling word, not a mark
        ("I led the migration, and it worked.", False),
        ("Could you repeat that?", False),
        ("", False),
    ],
)
def test_ends_mid_sentence(text, mid):
    assert ends_mid_sentence(text) is mid


class FixedVerdict(BaseTurnAnalyzer):
    """A turn analyzer that says what the test sets: smart-turn's verdict, without the model."""

    def __init__(self, complete: bool):
        super().__init__(sample_rate=16_000)
        self.complete = complete

    @property
    def speech_triggered(self) -> bool:
        return False

    @property
    def params(self) -> BaseTurnParams:
        return BaseTurnParams()

    def append_audio(self, buffer: bytes, is_speech: bool) -> EndOfTurnState:
        return EndOfTurnState.INCOMPLETE

    async def analyze_end_of_turn(self):
        return (EndOfTurnState.COMPLETE if self.complete else EndOfTurnState.INCOMPLETE), None

    def clear(self):
        pass


class Turns:
    """A strategy with the part of pipecat's turn controller these tests need."""

    def __init__(
        self, complete: bool = True, analyzer=None, strategy=PatientTurnStopStrategy, **kw
    ):
        self.analyzer = analyzer or FixedVerdict(complete)
        self.strategy = strategy(
            turn_analyzer=self.analyzer,
            min_words=8,
            grace_secs=GRACE,
            sentence_pause_secs=SENTENCE,
            max_pause_secs=MAX_PAUSE,
            pace_cap_secs=PACE_CAP,
            **kw,
        )
        self.stops: list[float] = []
        self.in_turn = False

        @self.strategy.event_handler("on_user_turn_stopped")
        async def on_stopped(strategy, *_):
            self.stops.append(time.time())
            self.in_turn = False
            await strategy.handle_user_turn_stopped()

    async def __aenter__(self):
        tm = TaskManager()
        tm.setup(TaskManagerParams(loop=asyncio.get_running_loop()))
        await self.strategy.setup(
            FrameProcessorSetup(
                clock=SystemClock(),
                task_manager=tm,
                pipeline_worker=None,
                audio_in_sample_rate=16_000,
            )
        )
        return self

    async def __aexit__(self, *exc):
        await self.strategy.cleanup()

    async def start(self, at: float | None = None, start_secs: float = 0.0):
        """The VAD confirms a stretch of speech (at wall-clock ``at``, ``start_secs`` after it began)."""
        if not self.in_turn:
            self.in_turn = True
            await self.strategy.handle_user_turn_started()
        await self.strategy.process_frame(
            VADUserStartedSpeakingFrame(start_secs=start_secs, timestamp=at or time.time())
        )

    async def say(self, text: str, *, transcript: bool = True, start_secs: float = 0.0) -> float:
        """One stretch: speech starts and ends now; returns the moment it ended."""
        await self.start(start_secs=start_secs)
        end = time.time()
        await self.strategy.process_frame(VADUserStoppedSpeakingFrame(stop_secs=0.0, timestamp=end))
        if transcript:
            await self.transcript(text)
        return end

    async def transcript(self, text: str):
        await self.strategy.process_frame(TranscriptionFrame(text, "candidate", "", finalized=True))

    async def released_after(self, since: float, within: float = LATE) -> float | None:
        """Seconds from ``since`` to the turn's end, or None if it did not end ``within``."""
        deadline = time.time() + within
        while time.time() < deadline:
            if self.stops:
                return self.stops[-1] - since
            await asyncio.sleep(0.01)
        return None

    async def waited(self, since: float) -> float:
        """Seconds from ``since`` to the turn's end, which must come."""
        waited = await self.released_after(since)
        assert waited is not None, "the turn never ended"
        return waited


async def test_finished_sound_and_words_end_the_turn_at_once():
    async with Turns(complete=True) as t:
        end = await t.say(LONG_ANSWER)
        assert await t.waited(end) < SENTENCE  # no pause held it


async def test_a_finished_sentence_that_sounds_unfinished_ends_after_the_sentence_pause():
    async with Turns(complete=False) as t:
        end = await t.say(LONG_ANSWER)
        assert SENTENCE - EARLY <= await t.waited(end) < MAX_PAUSE


async def test_unfinished_sound_and_words_are_left_to_smart_turns_silence_limit():
    async with Turns(complete=False) as t:
        end = await t.say("and then the second thing we did was to move the")
        assert await t.released_after(end, MAX_PAUSE + 0.3) is None


async def test_words_ending_on_and_hold_a_turn_that_sounds_finished():
    async with Turns(complete=True) as t:
        end = await t.say("We measured every request with tracing and then, and")
        assert await t.waited(end) >= MAX_PAUSE - EARLY


async def test_speaking_again_cancels_a_pending_release():
    async with Turns(complete=True) as t:
        await t.say("We measured every request with tracing and then, and")
        await asyncio.sleep(MAX_PAUSE / 2)
        await t.start()  # went on before the held turn was released
        assert await t.released_after(time.time(), MAX_PAUSE) is None
        end = await t.say("we rebalanced the index, and the tail latency dropped by sixty percent.")
        assert await t.waited(end) < SENTENCE


async def test_the_turn_waits_for_the_last_stretchs_transcript():
    async with Turns(complete=True) as t:
        end = await t.say(LONG_ANSWER, transcript=False)
        assert await t.released_after(end, 0.3) is None
        heard = time.time()
        await t.transcript(LONG_ANSWER)
        assert await t.waited(heard) < SENTENCE  # once the words came, and no pause held it


async def test_short_answers_get_grace_but_questions_do_not():
    async with Turns(complete=True) as t:
        end = await t.say("Ever tried.")
        assert await t.waited(end) >= GRACE - EARLY
    async with Turns(complete=True) as t:
        end = await t.say("Sorry, what?")
        assert await t.waited(end) < GRACE


async def test_talking_over_a_reply_teaches_the_candidates_pace():
    async with Turns(complete=True) as t:
        end = await t.say(LONG_ANSWER)
        assert await t.waited(end) < SENTENCE
        await t.strategy.process_frame(BotStartedSpeakingFrame())
        await t.start(at=end + 0.4)  # they had only paused: 0.4 s, then talked over the reply
        pace = 0.4 + PACE_MARGIN_SECS
        assert t.strategy.pace_secs == pytest.approx(pace, abs=0.01)
        t.stops.clear()
        end = await t.say(LONG_ANSWER)
        assert await t.waited(end) >= pace - EARLY
        # A question to the interviewer still gets an answer at once.
        t.stops.clear()
        await t.strategy.process_frame(BotStoppedSpeakingFrame())
        end = await t.say("Could you repeat the question?")
        assert await t.waited(end) < pace


async def test_pace_is_capped_and_only_learned_from_pauses_inside_a_reply():
    async with Turns(complete=True) as t:
        end = await t.say(LONG_ANSWER)
        await t.waited(end)
        await t.start(at=end + 0.85)  # a long pause: learned, but capped
        assert t.strategy.pace_secs == pytest.approx(PACE_CAP)
    async with Turns(complete=True) as t:
        end = await t.say(LONG_ANSWER)
        await t.waited(end)
        await t.strategy.process_frame(BotStoppedSpeakingFrame())  # the reply was heard to the end
        await t.start(at=end + 0.4)
        assert t.strategy.pace_secs == 0.0
    async with Turns(complete=True) as t:
        end = await t.say(LONG_ANSWER)
        await t.waited(end)
        await t.start(at=end + MAX_PAUSE + 0.5)  # a new thought after a long silence
        assert t.strategy.pace_secs == 0.0


@pytest.mark.slow
def test_turn_words_on_real_speech(models, settings):
    """The stretch model's punctuation of synthesized speech carries the verdicts the strategy needs."""
    from benchmarks.turn_decisions import stretch_words
    from interviewer.audio import synthesize

    words = stretch_words(models, settings)

    def hear(text: str) -> str:
        return words(synthesize(models.piper_voice, text))

    finished = hear("We ran a small experiment and let the numbers decide.")
    asked = hear("Could you repeat the question?")
    assert text_verdict(finished) == "complete", finished
    assert text_verdict(asked) == "complete", asked
    dangling = [hear(t) for t in ("I moved the whole team over to the", "We tried caching, and")]
    assert all(text_verdict(d) == "dangling" for d in dangling), dangling


# --- a network that holds the audio back ---------------------------------------------------


async def _hear(turns: Turns, secs: float) -> None:
    """``secs`` of the candidate's silence arrive at once, in 20 ms chunks."""
    for _ in range(round(secs / 0.02)):
        frame = InputAudioRawFrame(audio=bytes(640), sample_rate=16_000, num_channels=1)
        await turns.strategy.process_frame(frame)


async def test_a_turn_ends_only_once_the_audio_up_to_its_end_is_heard():
    """The network holds the pause's audio back: the deadline passes, the turn waits for it."""
    async with Turns(complete=False) as t:
        await _hear(t, 1.0)  # the call so far
        end = await t.say(LONG_ANSWER)  # finished words: the turn ends SENTENCE after the speech
        assert await t.released_after(end, within=SENTENCE + 0.5) is None
        await _hear(t, SENTENCE / 2)  # half the held audio, silence
        assert await t.released_after(end, within=0.2) is None
        heard = time.time()
        await _hear(t, SENTENCE / 2)
        assert await t.waited(heard) < 0.2  # the rest: the turn ends at once
        assert len(t.strategy.audio_waits) == 1 and t.strategy.audio_waits[0] > SENTENCE


async def test_held_back_audio_in_which_the_candidate_goes_on_keeps_the_turn():
    async with Turns(complete=False) as t:
        await _hear(t, 1.0)
        end = await t.say(LONG_ANSWER)
        await asyncio.sleep(SENTENCE + 0.3)  # the deadline passes with nothing heard
        await _hear(t, 0.3)
        await t.start()  # the held audio has them talking again
        assert await t.released_after(end, within=MAX_PAUSE + 0.5) is None
        assert t.strategy.audio_waits == []


async def test_without_any_audio_the_clock_ends_the_turn():
    """A transport that sends nothing in silence: ``audio_wait_cap_secs`` on, the clock decides."""
    cap = 0.4
    async with Turns(complete=False, audio_wait_cap_secs=cap) as t:
        await _hear(t, 1.0)
        end = await t.say(LONG_ANSWER)
        waited = await t.waited(end)
        assert SENTENCE + cap - EARLY <= waited < SENTENCE + cap + 0.5, waited


async def test_pauses_are_learned_from_the_audio_heard_not_the_stall():
    """The candidate went on after 0.6 s of silence; the network stretched it by 1 s."""
    async with Turns(complete=False) as t:
        await _hear(t, 1.0)
        end = await t.say(LONG_ANSWER)
        await _hear(t, 0.6)  # the pause, heard ahead of the clock
        assert await t.waited(end) < SENTENCE + 0.5  # released after SENTENCE
        await asyncio.sleep(1.0)  # the network holds the rest back
        await t.start()  # then: they went on (they had not finished)
        assert t.strategy.pace_secs == pytest.approx(0.6 + PACE_MARGIN_SECS, abs=0.03)


def test_the_audio_clock_counts_what_was_heard_against_the_wall_clock():
    from interviewer.audio_clock import AudioClock

    clock = AudioClock()
    assert clock.behind(10.0) == 0.0 and clock.since(1.0, 3.0) == 2.0  # no audio: the wall clock
    clock.hear(1.0)
    clock.mark(100.0)  # a VAD stop at wall-clock 100 s
    clock.hear(0.3)
    assert clock.behind(100.2) == 0.0
    assert clock.behind(100.5) == pytest.approx(0.2)  # 0.5 s since the mark, 0.3 s heard
    assert clock.since(99.8, 105.0) == pytest.approx(0.5)  # the wall clock says 5.2 s


# --- voice back in audio heard but not yet reported ----------------------------------------


class VADSays:
    """What the session's VAD hears in the latest audio it analysed (ahead of its frames)."""

    hears_voice = False


async def test_voice_the_vad_hears_but_has_not_reported_holds_the_release():
    """pipecat queues the VAD's start frame behind the audio already waiting: at the deadline the
    audio is heard, the voice in it is too, and its start frame is still on the way."""
    vad = VADSays()
    async with Turns(complete=False, voice=vad) as t:
        await _hear(t, 1.0)
        end = await t.say(LONG_ANSWER)
        await _hear(t, SENTENCE - 0.1)
        vad.hears_voice = True  # the candidate goes on, in audio counted as heard
        await _hear(t, 0.2)
        assert await t.released_after(end, within=SENTENCE + 0.3) is None
        await t.start()  # the start frame arrives: the release is cancelled
        await _hear(t, 0.2)
        assert await t.released_after(end, within=0.3) is None
        assert t.strategy.voice_holds == 1


async def test_a_false_start_holds_the_release_only_until_the_vad_settles():
    vad = VADSays()
    async with Turns(complete=False, voice=vad) as t:
        await _hear(t, 1.0)
        end = await t.say(LONG_ANSWER)
        vad.hears_voice = True  # a click: voice for a chunk, not enough for a start
        await _hear(t, SENTENCE + 0.1)
        assert await t.released_after(end, within=SENTENCE + 0.2) is None
        vad.hears_voice = False
        settled = time.time()
        await _hear(t, 0.02)
        assert await t.waited(settled) < 0.2


async def test_a_voice_that_never_settles_without_audio_is_waited_out_by_the_clock():
    """Audio stops coming mid-voice (a transport that sends nothing): the cap ends the wait."""
    vad = VADSays()
    cap = 0.4
    async with Turns(complete=False, voice=vad, audio_wait_cap_secs=cap) as t:
        await _hear(t, 1.0)
        end = await t.say(LONG_ANSWER)
        await _hear(t, SENTENCE + 0.1)
        vad.hears_voice = True
        waited = await t.waited(end)
        assert SENTENCE + cap - EARLY <= waited < SENTENCE + cap + 0.5, waited


async def test_no_turn_ends_while_the_vad_reports_the_candidate_speaking():
    """Whatever calls the turn over (here smart-turn's own trigger), the candidate is talking.

    pipecat starts the reply on the trigger and only then refuses to end the turn while the
    candidate speaks: the interviewer would answer half an answer, over the candidate.
    """
    async with Turns(complete=True) as t:
        end = await t.say(LONG_ANSWER, transcript=False)
        await t.start()  # they go on
        await t.transcript(LONG_ANSWER)
        await t.strategy.trigger_user_turn_stopped()
        assert await t.released_after(end, within=SENTENCE + 0.3) is None
