"""Right after the user aggregator: tells the VAD whether the candidate has the floor.

The candidate has it once the interviewer has stopped speaking or they have started, until
their turn is over (the reply is on its way) or the interviewer speaks. While they have it, a
false start costs nothing (a stretch without words leaves the pause as it was), and a short
start hears a bare "Yes." or "No."; while the interviewer speaks, a false start would cut it
off, so the VAD asks for more voice.
"""

from __future__ import annotations

from typing import Protocol

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor


class ListeningVAD(Protocol):
    """A VAD that starts sooner while ``listening``."""

    listening: bool


class FloorWatch(FrameProcessor):
    """Sets ``vad.listening`` from who has the floor; passes every frame on."""

    def __init__(self, vad: ListeningVAD, **kwargs):
        super().__init__(**kwargs)
        self._vad = vad

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Follow the turns: the interviewer's speech and the candidate's."""
        await super().process_frame(frame, direction)
        if isinstance(frame, (BotStoppedSpeakingFrame, UserStartedSpeakingFrame)):
            self._hand_floor(True, frame)
        elif isinstance(frame, (BotStartedSpeakingFrame, UserStoppedSpeakingFrame)):
            self._hand_floor(False, frame)
        await self.push_frame(frame, direction)

    def _hand_floor(self, candidate: bool, why: Frame) -> None:
        if self._vad.listening != candidate:
            self._vad.listening = candidate
            logger.debug(
                f"{self}: {'the candidate' if candidate else 'the interviewer'} has the floor ({why.name})"
            )
