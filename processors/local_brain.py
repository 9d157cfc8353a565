"""The offline AI interviewer in the LLM slot: the plan leads, the local model writes the line between.

The scripted interviewer decides every move (follow up or move on, repeat, skip, time up,
wrap-up) and its planned questions are said word for word. Where a reply follows up or moves
on, this speaks its short acknowledgement at once (so the candidate hears the interviewer as
fast as with the script) and meanwhile asks the model for the sentence after it: a follow-up
question about something the candidate said, or a sentence that shows it heard before the next
planned question. A line that is not ready when the acknowledgement has been said (plus
``gap_secs``; ``finish_secs`` more for a line whose last words are coming), fails or breaks a
rule gives way to the scripted line: never long silence.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from loguru import logger
from pipecat.frames.frames import AggregatedTextFrame
from pipecat.utils.text.base_text_aggregator import TextType

from interviewer.line_writer import LineWriter
from interviewer.scripted import Reply, ScriptedInterviewer
from interviewer.turn_text import words
from processors.scripted_brain import ScriptedBrainProcessor

# Piper's joe voice, measured: about 0.3 s of lead-in and 0.33 s a word.
_SPEECH_LEAD_S = 0.3
_SPEECH_WORD_S = 0.33


def speech_seconds(text: str) -> float:
    """Roughly how long the voice takes to say ``text``."""
    return _SPEECH_LEAD_S + _SPEECH_WORD_S * len(words(text))


def last_question(text: str) -> str:
    """The last sentence of ``text`` that asks something ("" if none does)."""
    sentences = re.findall(r"[^.!?]*\?", text)
    return sentences[-1].strip() if sentences else ""


class LocalBrainProcessor(ScriptedBrainProcessor):
    """The scripted brain, with the local model writing follow-ups and acknowledgements."""

    def __init__(
        self,
        interviewer: ScriptedInterviewer,
        writer: LineWriter,
        *,
        gap_secs: float = 0.5,
        finish_secs: float = 0.0,
        on_cleanup: Callable[[], None] | None = None,
        **kwargs,
    ):
        super().__init__(interviewer, **kwargs)
        self._writer = writer
        self._gap_secs = gap_secs
        self._finish_secs = finish_secs
        self._on_cleanup = on_cleanup
        self._asked = ""  # the question the candidate is answering, as it was said
        # Every model line asked for: task, question, answer, line (None: the scripted one was said).
        self.lines: list[dict] = []

    @property
    def writer(self) -> LineWriter:
        """This session's line writer."""
        return self._writer

    async def speak(self, reply: Reply, answer: str = ""):
        """Speak ``reply``; where it follows up or moves on, with the model's line."""
        if reply.kind in ("follow_up", "advance") and answer.strip():
            text = await self._speak_with_line(reply, answer)
        else:
            await super().speak(reply, answer)
            text = reply.text
        self._expect_next(text)

    async def _speak_with_line(self, reply: Reply, answer: str) -> str:
        task = "follow_up" if reply.kind == "follow_up" else "acknowledge"
        question = self._asked or self._interviewer.asking
        await self.start_reply(reply)
        # Said at once, as a whole sentence (the TTS would wait for the next words to end it).
        await self.push_frame(AggregatedTextFrame(reply.ack, text_type=TextType.SENTENCE))
        deadline = time.monotonic() + speech_seconds(reply.ack) + self._gap_secs
        line = await self._writer.write(task, question, answer, deadline, self._finish_secs)
        self.lines.append({"task": task, "question": question, "answer": answer, "line": line})
        if reply.kind == "follow_up":
            rest = line or reply.body
        else:
            rest = f"{line} {reply.body}" if line else reply.body
        await self.say(f" {rest}")
        await self.end_reply(reply)
        logger.debug(f"{self}: {task} line {'from the model' if line else 'scripted'}: {rest!r}")
        return f"{reply.ack} {rest}"

    def _expect_next(self, spoken: str) -> None:
        """Warm the model for the answer to what was just asked."""
        if self._interviewer.finished:
            return
        self._asked = last_question(spoken) or self._interviewer.asking
        if self._interviewer.next_answer_follows_up:
            self._writer.expect_answer(
                self._asked, "follow_up", hint=self._interviewer.follow_up_hint
            )
        else:
            self._writer.expect_answer(self._asked, "acknowledge")

    async def cleanup(self):
        """Stop the writer and give the session's model slot back."""
        await super().cleanup()
        await self._writer.close()
        if self._on_cleanup is not None:
            self._on_cleanup()
            self._on_cleanup = None
