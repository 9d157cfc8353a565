"""Before an OpenAI-compatible LLM: talked over before the first question, it is asked again."""

from __future__ import annotations

import re
import time
from dataclasses import fields

from loguru import logger
from pipecat.frames.frames import (
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from interviewer.plan import PlanCursor
from interviewer.scripted import over_greeting_ack
from processors.context_tail import last_role, last_text


class FirstQuestionGuard(FrameProcessor):
    """Until the first planned question has been heard, the candidate's turn is not its answer.

    The scripted and local brains see this themselves
    (:meth:`~interviewer.scripted.ScriptedInterviewer.first_question_missed`). An LLM greets in
    its own words, so here it is how the greeting ended that decides: said to its end, or cut
    by the candidate before its words asked the question (:meth:`PlanCursor.asked_in`). The
    assistant aggregator reports that (``on_assistant_turn_stopped``, given to
    :meth:`assistant_turn_stopped`); a greeting cut before any of it was said reports nothing,
    which counts as cut.

    When the candidate's turn follows a greeting cut before its question, the LLM is not asked:
    the reply is :data:`OVER_GREETING_ACK` (or, to a "can you hear me?", that it is heard) and
    the first planned question, word for word, as with the other brains, and the turn is not
    counted as an answer (the conductor, upstream, counted it: the plan goes back to where the
    greeting left it, and the question's clock starts again). A repeat cut short is asked again. From the first turn that follows a
    heard question on, this only passes frames on.
    """

    def __init__(self, cursor: PlanCursor, *, clock=time.monotonic, **kwargs):
        super().__init__(**kwargs)
        self._cursor = cursor
        self._clock = clock
        self._after_greeting: dict | None = None  # the plan as the greeting left it
        self._settled = False  # a turn came after the question was heard: nothing more to do
        self._cut = True  # the last reply was not said to its end (or not reported yet)
        self._spoken = ""  # what was said of it
        self.repeats = 0  # times the first question was asked again

    @property
    def lets_the_llm_answer(self) -> bool:
        """Whether a candidate turn ending now goes to the LLM as it is.

        False while the greeting is under way or was cut before its question: this answers that
        turn itself, so its reply must not be started before the turn ends (a speculative
        context is passed on unread). From the first turn after a heard question on, always.
        """
        return self._settled or (self._after_greeting is not None and not self._missed())

    async def assistant_turn_stopped(self, _aggregator, message) -> None:
        """How the interviewer's last turn ended (the assistant aggregator's event)."""
        if not self._settled:
            self._cut = bool(message.interrupted)
            self._spoken = message.content or ""

    def _missed(self) -> bool:
        """Whether the greeting (or its repeat) was cut before the first question was said."""
        plan = self._after_greeting
        if plan["phase"] != "questions" or plan["index"] != 0 or not self._cut:
            return False
        first = PlanCursor(self._cursor.mode, phase="questions", index=0)
        return not first.asked_in(self._spoken)

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Answer the candidate's turn after a cut greeting; pass everything else on."""
        await super().process_frame(frame, direction)
        if (
            self._settled
            or not isinstance(frame, LLMContextFrame)
            or direction != FrameDirection.DOWNSTREAM
        ):
            await self.push_frame(frame, direction)
            return
        if frame.speculation:
            # Started only when the LLM may answer (lets_the_llm_answer), and nothing the
            # interviewer says can change that before the turn ends: this turn settles it.
            self._settled = last_role(frame) == "user" and self.lets_the_llm_answer
            await self.push_frame(frame, direction)
            return
        if self._after_greeting is None:  # the greeting, as the conductor counted it
            self._after_greeting = _plan_state(self._cursor)
        elif last_role(frame) == "user" and self._missed():
            await self._ask_again(last_text(frame))
            return
        else:
            self._settled = True
        self._cut, self._spoken = True, ""
        await self.push_frame(frame, direction)

    async def _ask_again(self, said: str) -> None:
        logger.debug(f"{self}: the greeting was cut after {self._spoken!r}; asking its question")
        cursor = self._cursor
        for name, value in _plan_state(self._after_greeting).items():
            setattr(cursor, name, value)  # what they said over the greeting answered nothing
        cursor.question_started_at = self._clock()
        self._cut, self._spoken = True, ""
        self.repeats += 1
        text = f"{over_greeting_ack(said)} {cursor.mode.questions[0].text}"
        await self.push_frame(LLMFullResponseStartFrame())
        for chunk in re.findall(r"\S+\s*", text):
            await self.push_frame(LLMTextFrame(chunk))
        await self.push_frame(LLMFullResponseEndFrame())


def _plan_state(plan: PlanCursor | dict) -> dict:
    """A copy of a plan cursor's state (or of such a copy)."""
    state = (
        dict(plan)
        if isinstance(plan, dict)
        else {f.name: getattr(plan, f.name) for f in fields(plan)}
    )
    state["question_times"] = dict(state["question_times"])
    return state
