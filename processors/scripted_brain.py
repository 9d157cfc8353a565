"""The offline brain in the LLM slot: answers each user turn with streamed text frames."""

from __future__ import annotations

import re
import time

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.processors.frameworks.rtvi.frames import RTVIServerMessageFrame

from interviewer.scripted import Reply, ScriptedInterviewer
from processors.frames import AvatarEmotionFrame, InterviewClosedFrame


def _text_of(message: object) -> str:
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, list):
        content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _last_user_text(frame: LLMContextFrame) -> tuple[str | None, str]:
    """The newest message's text if it is the user's, and what the bot said just before it."""
    messages = frame.context.get_messages()
    if not messages or not isinstance(messages[-1], dict) or messages[-1].get("role") != "user":
        return None, ""
    spoken = ""
    for message in reversed(messages[:-1]):
        if isinstance(message, dict) and message.get("role") == "user":
            break
        if isinstance(message, dict) and message.get("role") == "assistant":
            spoken = f"{_text_of(message)} {spoken}"
    return _text_of(messages[-1]), spoken.strip()


class ScriptedBrainProcessor(FrameProcessor):
    """Stands where an LLM service would: context in, streamed reply text out."""

    def __init__(self, interviewer: ScriptedInterviewer, **kwargs):
        super().__init__(**kwargs)
        self._interviewer = interviewer
        self._started = False
        # To take back a reply the candidate talked over before hearing its question.
        self._before_last_reply: dict | None = None
        self._last_answer = ""
        self._last_reply: Reply | None = None
        # Whether the bot's voice has started since the opening (then an empty context means
        # the candidate talked over its very first words).
        self._voice_started = False

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Answer non-speculative context frames; pass everything else on."""
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame) and direction == FrameDirection.DOWNSTREAM:
            if frame.speculation:
                return  # we answer confirmed turns only; speculation buys nothing here
            await self._respond(frame)
        else:
            if isinstance(frame, BotStartedSpeakingFrame):
                self._voice_started = True
            await self.push_frame(frame, direction)

    def _cut_off_early(self, spoken: str) -> bool:
        """Whether the candidate talked over our last reply before its question was heard."""
        if self._last_reply is None or self._before_last_reply is None:
            return False
        said = len(spoken.split())
        planned = len(self._last_reply.text.split())
        return said <= max(3, planned // 4)

    async def _respond(self, frame: LLMContextFrame):
        user_text, spoken = _last_user_text(frame)
        if not self._started:
            self._started = True
            reply = self._interviewer.opening()
        elif user_text is None:
            if not self._interviewer.cursor.time_up:
                return
            reply = self._interviewer.move_on()  # the conductor asked to move on after silence
            self._last_reply = None
        elif (spoken or self._voice_started) and self._interviewer.first_question_missed(spoken):
            # They talked over the greeting before its question: not an answer; ask it now.
            logger.debug(f"{self}: opening cut off after {spoken!r}; asking the first question")
            reply = self._interviewer.ask_first_again(user_text)
            self._before_last_reply = self._last_reply = None
        else:
            answer = user_text
            if self._cut_off_early(spoken):
                # They were still answering: take back the reply, hear the whole answer.
                logger.debug(f"{self}: reply cut off after {spoken!r}; merging the answer")
                self._interviewer.restore(self._before_last_reply)
                answer = f"{self._last_answer} {user_text}"
            self._before_last_reply = self._interviewer.snapshot()
            self._last_answer = answer
            reply = self._interviewer.reply(answer)
            self._last_reply = reply
            user_text = answer
        logger.debug(f"{self}: reply to {user_text!r}: {reply.text!r}")
        await self.speak(reply, answer=user_text or "")

    async def speak(self, reply: Reply, answer: str = ""):
        """Stream ``reply`` as an LLM response, word by word, with progress and emotion.

        ``answer`` is the candidate's turn it replies to ("" for the opening or a move-on).
        """
        await self.start_reply(reply)
        await self.say(reply.text)
        await self.end_reply(reply)

    async def start_reply(self, reply: Reply):
        """The avatar's emotion, the page's progress, and the start of the spoken reply."""
        await self.push_frame(AvatarEmotionFrame(emotion=reply.emotion))
        progress = self._interviewer.cursor.progress(time.monotonic())
        await self.push_frame(RTVIServerMessageFrame(data=progress))
        await self.push_frame(LLMFullResponseStartFrame())

    async def say(self, text: str):
        """Stream ``text`` as LLM text, word by word."""
        for chunk in re.findall(r"\S+\s*", text):
            await self.push_frame(LLMTextFrame(chunk))

    async def end_reply(self, reply: Reply):
        """End the spoken reply (and the interview, when the reply closed it)."""
        await self.push_frame(LLMFullResponseEndFrame())
        if reply.finished:
            await self.push_frame(InterviewClosedFrame())
