"""Between STT and the user aggregator: hands each transcribed stretch to the line writer.

Whisper transcribes each stretch of the candidate's speech as soon as the VAD hears it end,
long before the turn is over. Passing those words on at once lets the local model read the
answer while the candidate is still talking, so the turn's end leaves it only the last words.
"""

from __future__ import annotations

from pipecat.frames.frames import Frame, TranscriptionFrame, VADUserStartedSpeakingFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from interviewer.line_writer import LineWriter


class AnswerPrefillProcessor(FrameProcessor):
    """Tells the session's line writer what the candidate has said so far, and when they go on.

    Changes no frame.
    """

    def __init__(self, writer: LineWriter, **kwargs):
        super().__init__(**kwargs)
        self._writer = writer

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Note final transcripts and the candidate going on; pass every frame on."""
        await super().process_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame) and direction == FrameDirection.DOWNSTREAM:
            self._writer.heard(frame.text)
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            # The user aggregator broadcasts it (it reaches us going upstream): the pause was not
            # the end, so a line written for it is dropped at once and frees the CPU for Whisper.
            self._writer.resumed()
        await self.push_frame(frame, direction)
