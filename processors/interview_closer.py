"""Ends the session once the interviewer's closing words have been played."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pipecat.frames.frames import EndWorkerFrame, Frame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from processors.frames import InterviewClosedFrame


class InterviewCloser(FrameProcessor):
    """At the end of the pipeline: on :class:`InterviewClosedFrame`, report and end the worker.

    The frame is queued behind the closing words, so it arrives here once the output
    transport has sent them.
    """

    def __init__(self, on_closed: Callable[[], Awaitable[None]] | None = None, **kwargs):
        super().__init__(**kwargs)
        self._on_closed = on_closed
        self.closed = False

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Consume the closing marker; pass everything else."""
        await super().process_frame(frame, direction)
        if isinstance(frame, InterviewClosedFrame):
            if not self.closed:
                self.closed = True
                if self._on_closed:
                    await self._on_closed()
                await self.push_frame(EndWorkerFrame(), FrameDirection.UPSTREAM)
            return
        await self.push_frame(frame, direction)
