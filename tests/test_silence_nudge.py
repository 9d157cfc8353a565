"""The silence nudge: after a long silence, never while the candidate talks.

The real conductor, driven with pipecat's run_test and the frames the pipeline gives it. The
nudge's time has a 5 s floor (the mode's timing), so each case waits about 6 s; they run
side by side.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.tests.utils import SleepFrame, run_test

from bots import get_mode
from interviewer.plan import PlanCursor
from processors.interview_conductor import NUDGE_LINE, InterviewConductor

NUDGE_S = 5.0  # the floor of a mode's scaled silence_nudge_s
PAST_IT = NUDGE_S + 1.0


async def _said(frames: list[Frame]) -> list[str]:
    """What the conductor asked to be said while ``frames`` went by."""
    mode = replace(get_mode("technical"), silence_nudge_s=NUDGE_S, monologue_cap_s=600)

    async def no_reply():
        pass

    conductor = InterviewConductor(PlanCursor(mode), llm_guided=True, request_reply=no_reply)
    # One at a time: system frames sent together may overtake each other.
    spaced = [f for frame in frames for f in (frame, SleepFrame(sleep=0.02))]
    down, _ = await run_test(conductor, frames_to_send=spaced)
    return [f.text for f in down if isinstance(f, TTSSpeakFrame)]


async def test_no_nudge_while_the_candidate_talks_after_cutting_the_interviewer_off():
    # A page run (endgame_nagg_nell.wav as the microphone): the candidate talked over the end of
    # a reply and went on for 24 s; 20 s into their turn the interviewer said "Take your time".
    talked_on, fell_silent, heard_out = await asyncio.gather(
        _said(
            [
                BotStartedSpeakingFrame(),
                UserStartedSpeakingFrame(),  # they cut the interviewer off ...
                BotStoppedSpeakingFrame(),
                SleepFrame(sleep=PAST_IT),  # ... and talk on
            ]
        ),
        _said(
            [
                BotStartedSpeakingFrame(),
                UserStartedSpeakingFrame(),
                BotStoppedSpeakingFrame(),
                SleepFrame(sleep=0.5),
                UserStoppedSpeakingFrame(),  # their turn ends, and no reply comes
                SleepFrame(sleep=PAST_IT),
            ]
        ),
        _said([BotStartedSpeakingFrame(), BotStoppedSpeakingFrame(), SleepFrame(sleep=PAST_IT)]),
    )
    assert talked_on == []
    assert fell_silent == [NUDGE_LINE]
    assert heard_out == [NUDGE_LINE]  # a question heard out, then silence: as before
