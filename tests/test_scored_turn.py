"""The scored end of turn: a short wait when words and voice read finished, a longer one else.

Drives ``ScoredTurnStopStrategy`` with pipecat's frames and task manager (the harness of
tests/test_turn_taking.py), a smart-turn stand-in that reports a probability, and a scorer
that reads a table: each test controls the evidence. Waits are scaled down. The real
SmolLM2 scorer is tested in tests/test_eot.py and, in the real pipeline, by every scenario.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from pipecat.audio.turn.base_turn_analyzer import EndOfTurnState
from pipecat.frames.frames import BotStoppedSpeakingFrame, InterimTranscriptionFrame
from pipecat.metrics.metrics import TurnMetricsData

from interviewer.rhythm import CandidateRhythm
from processors.scored_turn_stop import ScoredTurnStopStrategy
from tests.test_turn_taking import EARLY, FixedVerdict, Turns, VADSays, _hear

FAST = 0.3
SLOW = 0.9
QUESTION = "Tell me about a project you're proud of."


class SmartTurnSays(FixedVerdict):
    """Smart-turn's verdict with the probability it reports in its metrics."""

    def __init__(self, probability: float):
        super().__init__(complete=probability >= 0.5)
        self.probability = probability

    async def analyze_end_of_turn(self):
        state = EndOfTurnState.COMPLETE if self.complete else EndOfTurnState.INCOMPLETE
        return state, TurnMetricsData(
            processor="smart-turn",
            is_complete=self.complete,
            probability=self.probability,
            e2e_processing_time_ms=1.0,
        )


class TableScorer:
    """Scores from a table of words; records what it was asked."""

    def __init__(self, table: dict[str, float], delay: float = 0.0, fail: bool = False):
        self.table, self.delay, self.fail = table, delay, fail
        self.asked: list[tuple[str, str]] = []

    async def score(self, question: str, words: str) -> float:
        self.asked.append((question, words))
        await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionError("the scorer is down")
        return self.table.get(words, 0.0)

    async def aclose(self) -> None:
        self.closed = True


def scored(smart: float, scorer: TableScorer, **kw) -> Turns:
    return Turns(
        analyzer=SmartTurnSays(smart),
        strategy=ScoredTurnStopStrategy,
        scorer=scorer,
        question=lambda: QUESTION,
        threshold=0.15,
        fast_secs=FAST,
        slow_secs=SLOW,
        **kw,
    )


async def test_words_that_read_finished_end_after_the_short_wait_whatever_smart_turn_says():
    scorer = TableScorer({"We cut the p99 in half.": 0.6})
    async with scored(0.1, scorer) as t:
        end = await t.say("We cut the p99 in half.")
        assert FAST - EARLY <= await t.waited(end) < SLOW
        assert scorer.asked == [(QUESTION, "We cut the p99 in half.")]
        assert t.strategy.decisions[-1]["smart"] == 0.1  # smart-turn's probability, logged


async def test_a_finished_sounding_sentence_whose_words_go_on_waits_the_long_wait():
    # Smart-turn calls "We shipped it in March." finished; the text model does not (0.04).
    async with scored(0.98, TableScorer({"We shipped it in March.": 0.04})) as t:
        end = await t.say("We shipped it in March.")
        assert await t.released_after(end, SLOW - 0.1) is None
        assert await t.waited(end) >= SLOW - EARLY


async def test_words_that_stop_on_a_comma_wait_the_long_wait_however_they_would_score():
    # The model scores some comma endings finished (0.48 in a CI run); the candidate went on.
    scorer = TableScorer({"We ran both for two weeks with a shadow reader,": 0.9})
    async with scored(0.9, scorer) as t:
        end = await t.say("We ran both for two weeks with a shadow reader,")
        assert await t.released_after(end, SLOW - 0.1) is None
        assert await t.waited(end) >= SLOW - EARLY
        assert scorer.asked == []  # no score can shorten the wait: none is asked for
        assert t.strategy.decisions[-1]["mid_sentence"] is True


async def test_the_whole_turn_is_scored_and_going_on_cancels_the_wait():
    scorer = TableScorer({"I led the migration. It took six months.": 0.9})
    async with scored(0.9, scorer) as t:
        await t.say("I led the migration.")
        await asyncio.sleep(FAST / 2)
        await t.start()  # they went on before the long wait ran out
        assert await t.released_after(time.time(), SLOW) is None
        end = await t.say("It took six months.")
        assert FAST - EARLY <= await t.waited(end) < SLOW
        assert scorer.asked[-1][1] == "I led the migration. It took six months."


async def test_a_scorer_that_fails_or_is_slow_leaves_the_long_wait():
    for scorer in (TableScorer({}, fail=True), TableScorer({"Done.": 1.0}, delay=1.0)):
        async with scored(0.99, scorer) as t:
            end = await t.say("Done.")
            assert await t.waited(end) >= SLOW - EARLY
            assert t.strategy.decisions[-1]["text"] is None


async def test_a_question_to_the_interviewer_ends_after_the_short_wait():
    async with scored(0.2, TableScorer({})) as t:
        end = await t.say("Sorry, could you repeat the question?")
        assert FAST - EARLY <= await t.waited(end) < SLOW


async def test_a_slow_score_still_shortens_the_wait_while_it_can():
    # The score may take until the long wait runs out: one in 0.5 s still ends the turn early.
    scorer = TableScorer({"We cut the p99 in half.": 0.6}, delay=0.5)
    async with scored(0.1, scorer) as t:
        end = await t.say("We cut the p99 in half.")
        assert 0.5 - EARLY <= await t.waited(end) < SLOW - 0.1
        assert t.strategy.decisions[-1]["text"] == 0.6


async def test_live_words_are_scored_one_at_a_time_while_the_candidate_speaks():
    # Scoring the live words keeps the scorer's cache up with the answer; a call in flight is
    # not doubled, and words before the live ones (finished stretches) lead the prompt.
    scorer = TableScorer({"We cut it. And then we shipped.": 0.6}, delay=0.2)
    async with scored(0.1, scorer) as t:
        end = await t.say("We cut it.")
        await t.start()
        for live in ("And then", "And then we", "And then we ship"):
            await t.strategy.process_frame(InterimTranscriptionFrame(live, "", "", "en"))
        await asyncio.sleep(0.3)
        assert (QUESTION, "We cut it. And then") in scorer.asked
        assert not any(w.startswith("We cut it. And then we") for _, w in scorer.asked)
        assert t.strategy.warmed == 1
        end = await t.say("And then we shipped.")  # the stretch ends: the pause is judged
        assert FAST - EARLY <= await t.waited(end) < SLOW
        assert scorer.asked[-1] == (QUESTION, "We cut it. And then we shipped.")


def with_rhythm(scorer: TableScorer) -> Turns:
    """Scaled down: the wait becomes the longest pause gone on after plus 0.05 s (floor 0.1)."""
    return scored(0.9, scorer, rhythm=CandidateRhythm(margin_secs=0.05, floor_secs=0.1))


async def test_a_candidate_who_went_on_after_a_short_pause_is_answered_sooner():
    scorer = TableScorer({"We cut it.": 0.6, "We cut it. Then we shipped.": 0.6})
    async with with_rhythm(scorer) as t:
        await t.say("We cut it.")
        await asyncio.sleep(0.05)  # reads finished, but they go on after a short pause
        # The pause lasts until the VAD hears the voice again (it confirms 0.2 s of it): the
        # silence a turn end must outlast, the same silence the wait is measured in.
        end = await t.say("Then we shipped.", start_secs=0.2)
        assert t.strategy.rhythm.pauses == [pytest.approx(0.05, abs=0.04)]
        assert 0.1 - EARLY <= await t.waited(end) < FAST - 0.1
        assert t.strategy.decisions[-1]["wait"] < FAST


async def test_a_pause_judged_unfinished_and_a_new_turn_are_not_learned():
    scorer = TableScorer(
        {"So we used Redis, and": 0.01, "So we used Redis, and Done.": 0.6, "Done.": 0.6}
    )
    async with with_rhythm(scorer) as t:
        await t.say("So we used Redis, and")
        await asyncio.sleep(0.05)  # an unfinished pause: the short wait was never at stake
        await t.start()
        assert t.strategy.rhythm.pauses == []
        end = await t.say("Done.")
        assert FAST - EARLY <= await t.waited(end) < SLOW
        # The reply is heard out: the candidate's next words start a new turn, not a pause.
        await t.strategy.process_frame(BotStoppedSpeakingFrame())
        t.stops.clear()
        end = await t.say("Done.")
        assert t.strategy.rhythm.pauses == []
        assert FAST - EARLY <= await t.waited(end) < SLOW


async def test_a_pause_gone_on_after_before_its_words_are_judged_is_learned():
    # A fluent speaker goes on before the stretch's words are even transcribed: their rhythm.
    scorer = TableScorer({"We cut it. Then we shipped.": 0.6})
    async with with_rhythm(scorer) as t:
        await t.say("We cut it.", transcript=False)
        await asyncio.sleep(0.05)
        await t.start()
        await t.transcript("We cut it.")  # the words come in while they speak on
        end = await t.say("Then we shipped.")
        assert t.strategy.rhythm.pauses == [pytest.approx(0.05, abs=0.04)]
        assert 0.1 - EARLY <= await t.waited(end) < FAST - 0.1


async def test_a_voice_without_words_after_a_finished_sentence_is_not_learned():
    # A cough 0.05 s after a finished sentence: the VAD hears a voice, the transcriber no words
    # (pipecat's STT services send no transcript then).
    scorer = TableScorer({"We cut it.": 0.6})
    async with with_rhythm(scorer) as t:
        await t.say("We cut it.")
        await asyncio.sleep(0.05)
        end = await t.say("", transcript=False, start_secs=0.2)
        assert FAST - EARLY <= await t.waited(end) < SLOW  # the fixed short wait, not the floor
        assert t.strategy.rhythm.pauses == []


async def test_a_pause_is_learned_once_the_voice_after_it_is_words():
    scorer = TableScorer({"We cut it.": 0.6, "We cut it. Then we shipped.": 0.6})
    async with with_rhythm(scorer) as t:
        await t.say("We cut it.")
        await asyncio.sleep(0.05)
        await t.start(start_secs=0.2)  # a voice again: a cough, or the candidate going on
        assert t.strategy.rhythm.pauses == []
        await t.strategy.process_frame(InterimTranscriptionFrame("Then we", "candidate", ""))
        assert t.strategy.rhythm.pauses == [pytest.approx(0.05, abs=0.04)]  # live words: going on


async def test_a_stretch_without_words_is_judged_when_the_transcriber_says_so():
    # A click after a finished sentence: the VAD hears a voice, the transcriber no words. pipecat
    # would wait out the STT's p99 (5 s here) for a transcript that never comes; the transcriber's
    # word that the stretch is done ends that wait.
    from pipecat.frames.frames import STTMetadataFrame

    from processors.frames import StretchTranscribedFrame

    scorer = TableScorer({"We cut it.": 0.6})
    async with scored(0.9, scorer) as t:
        await t.strategy.process_frame(STTMetadataFrame(service_name="stt", ttfs_p99_latency=5.0))
        await t.say("We cut it.")
        await t.strategy.process_frame(StretchTranscribedFrame("We cut it."))
        await asyncio.sleep(0.05)
        end = await t.say("", transcript=False, start_secs=0.2)
        assert await t.released_after(end, FAST) is None  # still waiting for its words
        await t.strategy.process_frame(StretchTranscribedFrame(""))
        assert FAST - EARLY <= await t.waited(end) < SLOW
        assert t.strategy.decisions[-1]["words"] == "We cut it."


async def test_a_click_in_the_pause_does_not_start_the_wait_again():
    # A mouth click 0.25 s into the pause after a finished sentence: the VAD hears a voice, the
    # transcriber no words. The candidate has been silent since the sentence: the short wait
    # counts from its end (it used to count from the click's, 0.25 s later here).
    from processors.frames import StretchTranscribedFrame

    async with scored(0.9, TableScorer({"We cut it.": 0.6})) as t:
        words_end = await t.say("We cut it.")
        await t.strategy.process_frame(StretchTranscribedFrame("We cut it."))
        await asyncio.sleep(0.25)
        await t.say("", transcript=False, start_secs=0.05)
        await t.strategy.process_frame(StretchTranscribedFrame(""))
        assert FAST - EARLY <= await t.waited(words_end) < FAST + 0.15


async def test_the_pause_a_click_fell_in_is_learned_whole():
    # The candidate goes on after a finished sentence with a click in the pause: the pause they
    # went on after began with the sentence's end, not the click's.
    from processors.frames import StretchTranscribedFrame

    scorer = TableScorer({"We cut it.": 0.6, "We cut it. Then we shipped.": 0.6})
    async with with_rhythm(scorer) as t:
        await t.say("We cut it.")
        await asyncio.sleep(0.1)
        await t.say("", transcript=False)  # the click
        await t.strategy.process_frame(StretchTranscribedFrame(""))
        await asyncio.sleep(0.1)
        await t.say("Then we shipped.")
        assert t.strategy.rhythm.pauses == [pytest.approx(0.2, abs=0.04)]


class Speculations:
    """What the strategy asks of the aggregator: early replies started, dropped, turns ended."""

    def __init__(self, t: Turns):
        self.started: list[tuple[float, str]] = []  # when, for which words
        self.dropped: list[float] = []
        self.ended: list[bool] = []  # each turn's end: whether it confirmed an early reply

        @t.strategy.event_handler("on_user_turn_inference_triggered")
        async def started(_strategy, speculation):
            if speculation is not None:
                self.started.append((time.time(), speculation.text))

        @t.strategy.event_handler("on_user_turn_speculation_cancelled")
        async def dropped(_strategy):
            self.dropped.append(time.time())

        @t.strategy.event_handler("on_user_turn_stopped")
        async def ended(_strategy, params):
            self.ended.append(params.confirms_speculation)


async def test_finished_words_start_the_reply_at_once_and_the_turn_end_confirms_it():
    scorer = TableScorer({"We cut the p99 in half.": 0.6})
    async with scored(0.5, scorer, may_speculate=lambda: True) as t:
        s = Speculations(t)
        end = await t.say("We cut the p99 in half.")
        waited = await t.waited(end)
        assert [words for _, words in s.started] == ["We cut the p99 in half."]
        assert s.started[0][0] - end < 0.1 < waited  # started at the pause, long before its end
        assert s.ended == [True] and s.dropped == []
        assert t.strategy.speculations == ["confirmed"]


async def test_going_on_drops_the_early_reply_and_the_whole_answer_gets_one():
    scorer = TableScorer(
        {"I led the migration.": 0.9, "I led the migration. It took six months.": 0.9}
    )
    async with scored(0.9, scorer, may_speculate=lambda: True) as t:
        s = Speculations(t)
        await t.say("I led the migration.")
        await asyncio.sleep(FAST / 2)
        await t.start()  # they went on
        assert len(s.dropped) == 1 and s.ended == []
        end = await t.say("It took six months.")
        await t.waited(end)
        assert [w for _, w in s.started] == [
            "I led the migration.",
            "I led the migration. It took six months.",
        ]
        assert s.ended == [True] and len(s.dropped) == 1
        assert t.strategy.speculations == ["withdrawn", "confirmed"]


async def test_words_that_changed_by_the_turn_end_drop_the_early_reply_and_ask_again():
    scorer = TableScorer({"We shipped it.": 0.9})
    async with scored(0.9, scorer, may_speculate=lambda: True) as t:
        s = Speculations(t)
        end = await t.say("We shipped it.")
        await asyncio.sleep(FAST / 3)
        await t.transcript("On time.")  # a late transcript in the same pause
        await t.waited(end)
        assert len(s.started) == 1 and len(s.dropped) == 1
        assert s.dropped[0] <= t.stops[-1]  # dropped before the turn's end could release it
        assert s.ended == [False]  # an ordinary turn end: the reply runs on the final words


async def test_unfinished_words_start_their_reply_the_lead_before_the_long_wait_ends():
    lead = 0.3
    scorer = TableScorer({"So we used Redis and": 0.01})
    async with scored(0.9, scorer, may_speculate=lambda: True, speculate_lead_secs=lead) as t:
        s = Speculations(t)
        end = await t.say("So we used Redis and")
        assert await t.waited(end) >= SLOW - EARLY
        assert SLOW - lead - EARLY <= s.started[0][0] - end < SLOW - lead + 0.1
        assert s.ended == [True]


async def test_a_pause_ended_before_the_lead_starts_no_reply():
    scorer = TableScorer({"So we used Redis and": 0.01})
    async with scored(0.9, scorer, may_speculate=lambda: True, speculate_lead_secs=0.3) as t:
        s = Speculations(t)
        await t.say("So we used Redis and")
        await asyncio.sleep(0.3)  # before 0.9 - 0.3 s
        await t.start()  # they went on: nothing was started, nothing to drop
        await asyncio.sleep(0.5)
        assert s.started == [] and s.dropped == []


async def test_no_early_reply_when_it_may_not():
    async with scored(0.9, TableScorer({"Done.": 0.9}), may_speculate=lambda: False) as t:
        s = Speculations(t)
        await t.waited(await t.say("Done."))
        assert s.started == [] and s.ended == [False]


async def test_a_brain_writing_its_own_line_is_told_at_the_lead_and_not_for_a_pause_gone_on():
    """``write_early`` (the local model's line writer) is called when a reply would start early,
    without pipecat's speculation, and not for a pause the candidate ends before the lead."""
    lead = 0.3
    calls: list[float] = []
    scorer = TableScorer({"So we used Redis and": 0.01})
    kw = dict(write_early=lambda: calls.append(time.time()), speculate_lead_secs=lead)
    async with scored(0.9, scorer, **kw) as t:
        s = Speculations(t)
        await t.say("So we used Redis and")
        await asyncio.sleep(0.3)  # before 0.9 - 0.3 s
        await t.start()  # they went on: no line
        assert calls == []
        end = await t.say("So we used Redis and")
        await t.waited(end)
        assert len(calls) == 1
        assert SLOW - lead - EARLY <= calls[0] - end < SLOW - lead + 0.1
        assert s.started == [] and s.ended == [False]  # no pipecat speculation of its own


async def test_no_early_reply_or_line_starts_while_the_vad_hears_the_candidate_going_on():
    """At the lead the voice is back in audio the VAD has not reported yet (its start frame is
    queued behind that audio): the candidate is going on, so nothing is started to be dropped."""
    vad = VADSays()
    calls: list[float] = []
    scorer = TableScorer({"We cut the p99 in half.": 0.6}, delay=0.05)
    kw = dict(may_speculate=lambda: True, write_early=lambda: calls.append(time.time()))
    async with scored(0.5, scorer, voice=vad, **kw) as t:
        s = Speculations(t)
        await t.say("We cut the p99 in half.")
        vad.hears_voice = True  # before the score comes back: the lead is already past
        await _hear(t, 0.1)
        await asyncio.sleep(0.1)
        assert s.started == [] and calls == []
        await t.start()  # the start frame arrives
        await _hear(t, 0.1)
        await asyncio.sleep(FAST)
        assert s.started == [] and calls == [] and s.dropped == [] and s.ended == []


async def test_after_a_false_start_the_early_reply_starts_once_the_vad_settles():
    vad = VADSays()
    calls: list[float] = []
    scorer = TableScorer({"We cut the p99 in half.": 0.6}, delay=0.01)
    kw = dict(may_speculate=lambda: True, write_early=lambda: calls.append(time.time()))
    async with scored(0.5, scorer, voice=vad, speculate_lead_secs=FAST, **kw) as t:
        s = Speculations(t)
        end = await t.say("We cut the p99 in half.")
        vad.hears_voice = True  # a click: voice for a few chunks, not enough for a start
        await _hear(t, 0.1)
        await asyncio.sleep(0.05)  # the score came back meanwhile
        vad.hears_voice = False
        settled = time.time()
        await _hear(t, FAST)  # quiet again: the audio up to the turn's end
        waited = await t.waited(end)
        assert len(calls) == 1 and calls[0] >= settled
        assert [w for _, w in s.started] == ["We cut the p99 in half."]
        assert s.started[0][0] >= settled
        assert s.ended == [True] and FAST - EARLY <= waited < SLOW
