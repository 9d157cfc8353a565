"""Right after the input transport: a client that sends no audio is nudged, then let go.

A browser streams its microphone all the time, silence included, so a connected client
that sends no audio at all has lost its microphone, its tab or its network. Such a client
would hold an interview slot until the interview's own clock ran out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InputAudioRawFrame,
    StartFrame,
    TTSSpeakFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from processors.frames import InterviewClosedFrame

IDLE_NUDGE = "I can't hear anything from your side. Is your microphone on?"
IDLE_GOODBYE = (
    "I still can't hear you, so I'll end the interview here. "
    "You can start again whenever you're ready. Goodbye."
)


class ClientAudioWatch(FrameProcessor):
    """After ``idle_secs`` without client audio (the interviewer not speaking): a nudge.

    After as long again: a goodbye, and the interview ends (``InterviewClosedFrame``, which
    the closer acts on once the goodbye has been played). Audio resets the clock.
    """

    def __init__(
        self,
        idle_secs: float,
        *,
        nudge: str = IDLE_NUDGE,
        goodbye: str = IDLE_GOODBYE,
        clock: Callable[[], float] = time.monotonic,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._idle_secs = idle_secs
        self._nudge, self._goodbye = nudge, goodbye
        self._clock = clock
        self._last = clock()
        self._bot_speaking = False
        self._nudged = False
        self._task: asyncio.Task | None = None
        self.said: list[str] = []  # what this watch has said, for the log and tests

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Note audio and the interviewer's speech; pass every frame on."""
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            self._last = self._clock()
            self._nudged = False
        elif isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
            self._last = max(self._last, self._clock())
        elif isinstance(frame, StartFrame) and self._task is None:
            self._last = self._clock()
            self._task = self.create_task(self._watch(), f"{self}::watch")
        await self.push_frame(frame, direction)

    async def _watch(self) -> None:
        while True:
            quiet = self._clock() - self._last
            if self._bot_speaking or quiet < self._idle_secs:
                await asyncio.sleep(
                    max(0.2, self._idle_secs - quiet) if not self._bot_speaking else 0.5
                )
                continue
            if not self._nudged:
                logger.info(f"{self}: no audio from the client for {quiet:.0f}s; nudging")
                self._nudged = True
                self._last = self._clock()
                await self._say(self._nudge)
                continue
            logger.warning(f"{self}: still no audio from the client; ending the interview")
            await self._say(self._goodbye)
            await self.push_frame(InterviewClosedFrame())
            return

    async def _say(self, line: str) -> None:
        self.said.append(line)
        await self.push_frame(TTSSpeakFrame(line))

    async def cleanup(self):
        """Stop watching."""
        if self._task is not None:
            await self.cancel_task(self._task)
            self._task = None
        await super().cleanup()
