"""End-of-turn detection that waits for every transcript and gives short answers a moment longer.

pipecat's smart-turn strategy ends a turn when the model calls the audio complete and a
transcript is in hand. With segmented STT (Whisper transcribes each stretch of speech
after the VAD closes it) the transcript in hand can be the previous stretch's, which
arrived late, so the turn ends before the last words are transcribed. This strategy
counts stretches and waits until each has been transcribed (or the STT safety timeout
passed).

It also waits ``grace_secs`` more silence while the turn holds fewer than ``min_words``
words: "Ever tried." is a complete sentence but rarely a complete answer to an
interview question. Speech in that window simply continues the turn.
"""

from __future__ import annotations

import asyncio
import re

from pipecat.frames.frames import TranscriptionFrame, VADUserStoppedSpeakingFrame
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy


class PatientTurnStopStrategy(TurnAnalyzerUserTurnStopStrategy):
    """Smart-turn end-of-turn that waits for all transcripts, with patience for short answers."""

    def __init__(self, *, min_words: int = 8, grace_secs: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self._min_words = min_words
        self._grace_secs = grace_secs
        self._words = 0
        self._untranscribed = 0  # stretches of speech the VAD closed, not yet transcribed
        self._grace_task: asyncio.Task | None = None

    async def _reset(self):
        self._words = 0
        await super()._reset()

    async def _discard_pending_end_of_turn(self):
        if self._grace_task:
            await self.task_manager.cancel_task(self._grace_task)
            self._grace_task = None
        await super()._discard_pending_end_of_turn()

    async def _handle_vad_user_stopped_speaking(self, frame: VADUserStoppedSpeakingFrame):
        self._untranscribed += 1
        await super()._handle_vad_user_stopped_speaking(frame)

    async def _handle_transcription(self, frame: TranscriptionFrame):
        self._untranscribed = max(0, self._untranscribed - 1)
        self._words += len(re.findall(r"[\w']+", frame.text))
        await super()._handle_transcription(frame)

    async def trigger_user_turn_stopped(self, **kwargs):
        """Release the turn once transcribed; after the grace period if the answer is short."""
        if self._untranscribed > 0 and not self._timeout_expired:
            return  # the last stretch's transcript is still coming; it will re-check
        self._untranscribed = 0
        asked = self._text.rstrip().endswith("?")  # a question to us ("could you repeat that?") yields the turn
        if self._words >= self._min_words or self._grace_secs <= 0 or asked:
            await super().trigger_user_turn_stopped(**kwargs)
            return
        if self._grace_task is None:
            self._grace_task = self.task_manager.create_task(
                self._release_after_grace(kwargs), f"{self}::grace"
            )

    async def _release_after_grace(self, kwargs: dict):
        try:
            await asyncio.sleep(self._grace_secs)
        except asyncio.CancelledError:
            return
        self._grace_task = None
        await super().trigger_user_turn_stopped(**kwargs)

    async def cleanup(self):
        """Cancel a pending release."""
        if self._grace_task:
            await self.task_manager.cancel_task(self._grace_task)
            self._grace_task = None
        await super().cleanup()
