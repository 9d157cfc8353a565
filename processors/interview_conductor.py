"""The interview conductor: keeps the plan's time and guides whoever answers.

Sits between the user aggregator and the LLM slot. It

- checks the clock at each finished candidate turn: when the open question's time box
  has run out it asks the brain to move on; when the interview's time is up, to close;
- with an LLM, counts the candidate's turns (the greeting and a reply asked for after a
  silence are no answers) and, before each reply, tells the LLM in its instructions what
  the reply does: ask a follow-up, or move on to the next question (the plan guides the
  LLM, :meth:`PlanCursor.answer_for_llm`); with the scripted brain the shared cursor does;
- politely caps a monologue (speaks over a turn that runs past the cap);
- nudges after a long silence ("take your time"), and moves on after a second one; the
  silence is one after the interviewer spoke or the candidate stopped, never one the
  candidate fills (they may cut the interviewer off and talk on);
- sends progress (question n of m, time left) to the page.

A reply started before the turn has ended (pipecat's speculative inference: a context frame
with ``speculation`` set) is guided from a trial copy of the plan; the plan itself moves only
when the turn's end confirms that reply (``UserStoppedSpeakingFrame`` with no withdrawal,
``EagerEndOfTurnCancelFrame``, before it), so a reply dropped because the candidate went on
counts nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EagerEndOfTurnCancelFrame,
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMUpdateSettingsFrame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.processors.frameworks.rtvi.frames import RTVIServerMessageFrame
from pipecat.services.settings import LLMSettings

from interviewer.plan import PlanCursor
from interviewer.scripted import is_hearing_check
from processors.context_tail import last_role, last_text
from processors.frames import InterviewClosedFrame

CAP_LINE = (
    "Sorry to cut in, that's really helpful. Let me stop you there so we can cover everything."
)
NUDGE_LINE = "Take your time, there's no rush."


@dataclass(frozen=True)
class _EarlyReply:
    """A reply started before its turn ended: what the plan counts if the turn's end confirms it."""

    at: float  # the conductor's clock when it was guided
    candidate_turn: bool
    line_check: bool


class InterviewConductor(FrameProcessor):
    """Keeps time for one interview and steers the brain through the shared cursor."""

    def __init__(
        self,
        cursor: PlanCursor,
        *,
        llm_guided: bool,
        request_reply: Callable[[], Awaitable[None]],
        base_instruction: str = "",
        clock=time.monotonic,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._request_reply = request_reply
        self._cursor = cursor
        self._llm_guided = llm_guided
        self._base_instruction = base_instruction
        self._clock = clock
        timing = cursor.mode.timing.scaled(cursor.time_scale)
        self._cap_s = timing.monologue_cap_s
        self._nudge_s = timing.silence_nudge_s
        self._cap_task: asyncio.Task | None = None
        self._silence_task: asyncio.Task | None = None
        self._nudges = 0
        self._candidate_speaking = False
        self._awaiting_close = False
        self._early: _EarlyReply | None = None  # a reply under way for a turn not yet over
        self._turn_over = False  # the candidate's turn ended (UserStoppedSpeakingFrame)

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Watch turn-taking; adjust the plan before each reply."""
        await super().process_frame(frame, direction)
        if isinstance(frame, UserStartedSpeakingFrame):
            self._nudges = 0
            self._candidate_speaking, self._turn_over, self._early = True, False, None
            await self._stop_silence_timer()
            await self._cancel(self._cap_task)
            self._cap_task = self.create_task(self._cap_after(self._cap_s), f"{self}::cap")
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._candidate_speaking, self._turn_over = False, True
            await self._confirm_early_reply()
            await self._cancel(self._cap_task)
            self._cap_task = None
            await self._start_silence_timer()  # the reply, when it starts, stops it
        elif isinstance(frame, BotStartedSpeakingFrame):
            await self._stop_silence_timer()
        elif isinstance(frame, BotStoppedSpeakingFrame):
            # The candidate may have cut the interviewer off: their turn is no silence.
            if not self._candidate_speaking:
                await self._start_silence_timer()
        elif isinstance(frame, EagerEndOfTurnCancelFrame):
            self._early = None  # the candidate went on: that reply is dropped
        elif isinstance(frame, LLMContextFrame) and direction == FrameDirection.DOWNSTREAM:
            candidate_turn = last_role(frame) == "user"
            line_check = candidate_turn and is_hearing_check(last_text(frame))
            self._early = None
            if frame.speculation and not self._turn_over:
                self._early = _EarlyReply(self._clock(), candidate_turn, line_check)
                await self._guide(self._trial(), self._early)
            else:  # an ordinary reply, or an early one its turn's end already overtook
                await self._before_reply(candidate_turn=candidate_turn, line_check=line_check)
        elif (
            isinstance(frame, LLMFullResponseEndFrame) and self._llm_guided and self._awaiting_close
        ):
            await self.push_frame(frame, direction)
            await self.push_frame(InterviewClosedFrame())
            return
        await self.push_frame(frame, direction)

    def _trial(self) -> PlanCursor:
        """A copy of the plan to guide an early reply with (the plan moves if it is confirmed)."""
        return replace(self._cursor, question_times=dict(self._cursor.question_times))

    async def _guide(self, trial: PlanCursor, early: _EarlyReply) -> None:
        """With an LLM, tell it what the early reply does, as the plan would if the turn ended now."""
        if not self._llm_guided:
            return
        trial.check_clock(early.at)
        trial.answer_for_llm(early.at, answered=early.candidate_turn, line_check=early.line_check)
        await self._push_guidance(trial, early.at)

    async def _confirm_early_reply(self) -> None:
        """The turn ended with its early reply standing: the plan counts it as guided."""
        early, self._early = self._early, None
        if early is not None:
            await self._before_reply(
                candidate_turn=early.candidate_turn,
                line_check=early.line_check,
                now=early.at,
                guide=False,  # the LLM was guided for this reply already
            )

    async def _push_guidance(self, cursor: PlanCursor, now: float) -> None:
        guidance = cursor.mode.plan_guidance(cursor, now)
        await self.push_frame(
            LLMUpdateSettingsFrame(
                delta=LLMSettings(system_instruction=f"{self._base_instruction}\n\n{guidance}")
            )
        )

    async def _before_reply(
        self,
        *,
        candidate_turn: bool,
        line_check: bool = False,
        now: float | None = None,
        guide: bool = True,
    ) -> None:
        """Check the clock; with an LLM, count the turn and tell the LLM what its reply does.

        Only a context ending with the candidate's words is an answer: the greeting's context
        (empty, or whatever the candidate said before it), one asked for after a long silence
        (ending with the interviewer's words) and a check on the line ("Can you hear me?",
        ``line_check``: the LLM is told to say it hears them) are not.
        """
        now = self._clock() if now is None else now
        cursor = self._cursor
        cursor.check_clock(now)
        if self._llm_guided:
            if cursor.answer_for_llm(now, answered=candidate_turn, line_check=line_check):
                self._awaiting_close = True
            if guide:
                await self._push_guidance(cursor, now)
            await self.push_frame(RTVIServerMessageFrame(data=cursor.progress(now)))

    async def _cap_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        logger.info(f"{self}: candidate passed the {seconds:.0f}s monologue cap")
        self._cursor.time_up = True
        await self.push_frame(TTSSpeakFrame(CAP_LINE))

    async def _start_silence_timer(self) -> None:
        if self._cursor.phase != "closed":
            await self._stop_silence_timer()
            self._silence_task = self.create_task(
                self._nudge_after(self._nudge_s), f"{self}::nudge"
            )

    async def _stop_silence_timer(self) -> None:
        await self._cancel(self._silence_task)
        self._silence_task = None

    async def _nudge_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._nudges += 1
        if self._nudges == 1:
            await self.push_frame(TTSSpeakFrame(NUDGE_LINE))
        else:
            logger.info(f"{self}: long silence; moving on")
            self._cursor.time_up = True
            await self._request_reply()

    async def _cancel(self, task: asyncio.Task | None) -> None:
        if task and not task.done():
            await self.cancel_task(task)

    async def cleanup(self):
        """Stop the timers."""
        await self._cancel(self._cap_task)
        await self._cancel(self._silence_task)
        await super().cleanup()
