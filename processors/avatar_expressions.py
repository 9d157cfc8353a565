"""Avatar expressions: turn-taking frames and emotion in, RTVI server messages out.

Schema of each message (documented in the README)::

    {"type": "avatar", "expression": "idle|listening|thinking|speaking",
     "emotion": "neutral|encouraging|concerned", "t": <ms since the session started>}

The mouth is driven in the page from the bot audio as it plays, so it stays in time with
playback whatever the network does.
"""

from __future__ import annotations

import time

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    StartFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.processors.frameworks.rtvi.frames import RTVIServerMessageFrame

from processors.frames import AvatarEmotionFrame

_EXPRESSION_FOR = {
    UserStartedSpeakingFrame: "listening",
    UserStoppedSpeakingFrame: "thinking",
    BotStartedSpeakingFrame: "speaking",
    BotStoppedSpeakingFrame: "listening",
}


class AvatarExpressionProcessor(FrameProcessor):
    """Emits an avatar message whenever the face should change."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._expression = "idle"
        self._emotion = "neutral"
        self._t0 = time.monotonic()
        self.history: list[str] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Track turn-taking and emotion; push every frame but our own emotion frames."""
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            self._t0 = time.monotonic()
        if isinstance(frame, AvatarEmotionFrame):
            self._emotion = frame.emotion
            await self._emit(self._expression, force=True)
            return
        await self.push_frame(frame, direction)
        expression = _EXPRESSION_FOR.get(type(frame))
        if expression:
            await self._emit(expression)

    async def _emit(self, expression: str, force: bool = False):
        if expression == self._expression and not force:
            return
        self._expression = expression
        self.history.append(expression)
        data = {
            "type": "avatar",
            "expression": expression,
            "emotion": self._emotion,
            "t": int((time.monotonic() - self._t0) * 1000),
        }
        await self.push_frame(RTVIServerMessageFrame(data=data))
