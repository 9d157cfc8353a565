"""FloorWatch: the VAD starts sooner while the candidate has the floor (pipecat's frames)."""

from __future__ import annotations

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test

from processors.floor_watch import FloorWatch

TURN_FRAMES = (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)


class _VAD:
    listening = False


class _Noting(FrameProcessor):
    """Notes the VAD's floor as each frame passes it (after FloorWatch)."""

    def __init__(self, vad: _VAD, seen: list):
        super().__init__()
        self._vad, self._seen = vad, seen

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, TURN_FRAMES):
            self._seen.append((type(frame).__name__, self._vad.listening))
        await self.push_frame(frame, direction)


async def test_the_candidate_has_the_floor_from_the_interviewers_end_to_their_own():
    from pipecat.pipeline.pipeline import Pipeline

    vad, seen = _VAD(), []
    turns = [
        BotStartedSpeakingFrame(),  # the greeting
        BotStoppedSpeakingFrame(),  # ... heard out: their floor
        UserStartedSpeakingFrame(),
        UserStoppedSpeakingFrame(),  # their turn is over: the reply is coming
        BotStartedSpeakingFrame(),
        UserStartedSpeakingFrame(),  # they cut in: theirs again
        BotStoppedSpeakingFrame(),
    ]
    await run_test(  # one at a time: system frames overtake each other
        Pipeline([FloorWatch(vad), _Noting(vad, seen)]),
        frames_to_send=[f for t in turns for f in (t, SleepFrame(sleep=0.02))],
    )
    assert seen == [
        ("BotStartedSpeakingFrame", False),
        ("BotStoppedSpeakingFrame", True),
        ("UserStartedSpeakingFrame", True),
        ("UserStoppedSpeakingFrame", False),
        ("BotStartedSpeakingFrame", False),
        ("UserStartedSpeakingFrame", True),
        ("BotStoppedSpeakingFrame", True),
    ]
