"""The OpenAI path's plan: the conductor counts candidate turns only and tells the LLM what to do.

Each planned question gets the candidate's answer, at most ``max_follow_ups`` follow-ups,
then the next question, the same for the first question as for the others: the greeting
and a reply asked for after a long silence are no answers. The real conductor and cursor
are driven with pipecat's run_test; what the LLM would be told is the system instruction
of each ``LLMUpdateSettingsFrame`` the conductor pushes before a reply.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import pytest
from pipecat.frames.frames import (
    EagerEndOfTurnCancelFrame,
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMUpdateSettingsFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frameworks.rtvi.frames import RTVIServerMessageFrame
from pipecat.tests.utils import SleepFrame, run_test

from bots import get_mode
from interviewer.plan import InterviewMode, PlanCursor
from processors.frames import InterviewClosedFrame
from processors.interview_conductor import InterviewConductor

BASE = "BASE INSTRUCTION"
ANSWER = "I led the migration of our payments service to a new database, in three stages."


def _mode(max_follow_ups: int = 1) -> InterviewMode:
    """The technical mode with ``max_follow_ups`` per question and no hints (tests add their own)."""
    mode = get_mode("technical")
    questions = tuple(
        replace(q, max_follow_ups=max_follow_ups, follow_up_hint="") for q in mode.questions
    )
    return replace(mode, questions=questions)


class _Clock:
    """A clock that stands still (no question's time runs out) unless moved."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _context(history: list[dict]) -> LLMContextFrame:
    return LLMContextFrame(context=LLMContext(messages=list(history)))


def _candidate_turns(n: int) -> list[Frame]:
    """The greeting's (empty) context, then ``n`` candidate turns, each after a reply."""
    frames: list[Frame] = [_context([])]
    history: list[dict] = []
    for i in range(n):
        history += [
            {"role": "assistant", "content": f"Interviewer reply {i}."},
            {"role": "user", "content": f"{ANSWER} ({i})"},
        ]
        frames.append(_context(history))
    return frames


async def _guidance(
    frames: list[Frame], mode: InterviewMode, clock: Callable[[], float] | None = None
) -> tuple[list[str], list[Frame], PlanCursor]:
    """What the real conductor tells the LLM before each reply, its frames out, and the plan."""
    cursor = PlanCursor(mode)

    async def no_reply():
        pass

    conductor = InterviewConductor(
        cursor,
        llm_guided=True,
        request_reply=no_reply,
        base_instruction=BASE,
        clock=clock or _Clock(),
    )
    down, _ = await run_test(conductor, frames_to_send=frames)
    told = [
        f.delta.system_instruction.removeprefix(f"{BASE}\n\n")
        for f in down
        if isinstance(f, LLMUpdateSettingsFrame)
    ]
    return told, list(down), cursor


def _shape(guidance: str, mode: InterviewMode) -> str:
    """The guidance without what differs from one question to the next (its text, number, time)."""
    for q in mode.questions:
        guidance = guidance.replace(q.text, "<question>")
    return re.sub(r"\d+", "<n>", guidance)


async def test_the_first_question_gets_the_same_follow_ups_as_the_others():
    mode = _mode(max_follow_ups=1)
    told, _, cursor = await _guidance(_candidate_turns(4), mode)
    greeting, q1_answer, q1_follow_up_answer, q2_answer, q2_follow_up_answer = told

    # The greeting counts no answer: it asks the first question.
    assert greeting.startswith(f"Current question (1 of {cursor.total}): {mode.questions[0].text}")
    assert "greet" in greeting and "follow-up" not in greeting

    # The candidate's first answer, to question 1 as to question 2: ask one follow-up.
    for answer, n in ((q1_answer, 1), (q2_answer, 2)):
        assert answer.startswith(f"Current question ({n} of")
        assert "ask ONE follow-up question (follow-up 1 of 1" in answer
        assert "Do not move on" in answer and "move on now" not in answer
    # Their answer to the follow-up: move on to the next question.
    for answer, n in ((q1_follow_up_answer, 2), (q2_follow_up_answer, 3)):
        assert answer.startswith("This reply: move on now.")
        assert "follow-up question" not in answer
        assert answer.endswith(f"ask question {n} of {cursor.total}: {mode.questions[n - 1].text}")
    assert _shape(q1_answer, mode) == _shape(q2_answer, mode)
    assert _shape(q1_follow_up_answer, mode) == _shape(q2_follow_up_answer, mode)
    assert (cursor.index, cursor.answers, cursor.follow_ups_used) == (2, 0, 0)


async def test_a_questions_follow_up_hint_is_in_what_the_llm_is_told_for_its_follow_up():
    base = _mode(max_follow_ups=1)
    hint = "Ask about something they built."
    mode = replace(
        base, questions=(replace(base.questions[0], follow_up_hint=hint), *base.questions[1:])
    )
    told, _, _ = await _guidance(_candidate_turns(4), mode)
    greeting, q1_answer, q1_follow_up_answer, q2_answer, _ = told
    assert f"about what they actually said. {hint} Do not move on" in q1_answer
    assert all(hint not in t for t in (greeting, q1_follow_up_answer, q2_answer))
    # The behavioral interview's opening has one: its answers drew questions about the role.
    assert get_mode("behavioral").questions[0].follow_up_hint


@pytest.mark.parametrize("max_follow_ups", [0, 1, 2])
async def test_every_question_takes_its_answer_and_follow_ups_then_moves_on(max_follow_ups):
    mode = _mode(max_follow_ups)
    per_question = 1 + max_follow_ups
    told, _, cursor = await _guidance(_candidate_turns(2 * per_question), mode)
    steps = [
        "follow" if "ask ONE follow-up" in t else "move_on" if "move on now" in t else t
        for t in told[1:]
    ]
    assert steps == (["follow"] * max_follow_ups + ["move_on"]) * 2
    assert cursor.index == 2


async def test_a_reply_asked_for_without_a_candidate_turn_is_no_answer():
    """After a long silence the conductor asks for a reply: the context ends with the interviewer."""
    mode = _mode(max_follow_ups=1)
    history = [
        {"role": "assistant", "content": "Hello. Tell me about a project."},
        {"role": "user", "content": ANSWER},
    ]
    silent = [*history, {"role": "assistant", "content": "What was the hardest part?"}]
    frames = [_context([]), _context([history[0]]), _context(history), _context(silent)]
    told, _, cursor = await _guidance(frames, mode)
    _, unanswered, answered, after_silence = told
    assert "has not answered yet" in unanswered and "do not move on" in unanswered
    assert "ask ONE follow-up question (follow-up 1 of 1" in answered
    assert "has not answered yet" in after_silence  # its answer to the follow-up is still due
    assert (cursor.index, cursor.answers, cursor.follow_ups_used) == (0, 1, 1)


async def test_a_question_whose_time_is_up_moves_on_with_or_without_an_answer():
    mode = _mode(max_follow_ups=1)
    box = mode.questions[0].time_box_s
    answered = _candidate_turns(1)
    silent = [*answered, _context([{"role": "assistant", "content": "Take your time."}])]
    for frames in (answered, silent):  # an answer, or a long silence (the context ends with us)
        start = _Clock().now
        clock = iter([start, start + box + 1]).__next__  # the second reply comes too late
        told, _, cursor = await _guidance(frames[:1] + frames[-1:], mode, clock)
        late = told[1]
        assert late.startswith("This reply: move on now. Time for the previous question is up")
        assert late.endswith(f"ask question 2 of {cursor.total}: {mode.questions[1].text}")
        assert "follow-up question" not in late
        assert (cursor.index, cursor.answers, cursor.follow_ups_used) == (1, 0, 0)


async def test_the_wrap_up_then_the_close_after_the_last_question():
    mode = _mode(max_follow_ups=1)
    turns = 2 * len(mode.questions)
    frames = _candidate_turns(turns + 2)
    frames.append(LLMFullResponseEndFrame())  # the closing reply ends
    told, down, cursor = await _guidance(frames, mode)
    assert told[turns].startswith("All questions are done.")
    assert told[-1] == f"Close the interview now with: {mode.closing}"
    assert cursor.phase == "closed"
    assert isinstance(down[-1], InterviewClosedFrame)


async def test_a_check_on_the_line_is_no_answer_and_the_llm_is_told_to_say_it_hears():
    mode = _mode(max_follow_ups=1)
    greeting = {"role": "assistant", "content": f"Hello. {mode.questions[0].text}"}
    check = [greeting, {"role": "user", "content": "Sorry, can you hear me?"}]
    answered = [
        *check,
        {"role": "assistant", "content": f"Yes, I can hear you. {mode.questions[0].text}"},
        {"role": "user", "content": ANSWER},
    ]
    # "Hear me out" in a long answer is an answer.
    long = [*answered, {"role": "assistant", "content": "What changed as a result?"}]
    long.append({"role": "user", "content": f"Hear me out: {ANSWER}"})
    frames = [_context([]), _context(check), _context(answered), _context(long)]
    told, _, cursor = await _guidance(frames, mode)
    _, line_check, first_answer, follow_up_answer = told
    assert line_check.startswith(f"Current question (1 of {cursor.total})")
    assert "asked whether you can hear them" in line_check and "do not move on" in line_check
    assert "follow-up" not in line_check
    # The answer after it is the first answer to question 1: its follow-up, then question 2.
    assert "ask ONE follow-up question (follow-up 1 of 1" in first_answer
    assert follow_up_answer.startswith("This reply: move on now.")
    assert (cursor.index, cursor.answers, cursor.follow_ups_used) == (1, 0, 0)


async def test_a_check_on_the_line_at_the_wrap_up_keeps_it_open():
    mode = _mode(max_follow_ups=1)
    turns = 2 * len(mode.questions)
    frames = _candidate_turns(turns)
    history = list(frames[-1].context.get_messages())
    history += [
        {"role": "assistant", "content": mode.wrap_up},
        {"role": "user", "content": "Hello? Are you still there?"},
    ]
    frames.append(_context(history))
    told, _, cursor = await _guidance(frames, mode)
    assert told[-1] == (
        "All questions are done. This reply: the candidate asked whether you can hear them, "
        f"which answers nothing: say in a few words that you can hear them, then ask: {mode.wrap_up}"
    )
    assert cursor.phase == "wrap_up" and cursor.step == "line_check"


def _speculative(frame: LLMContextFrame) -> LLMContextFrame:
    return LLMContextFrame(context=frame.context, speculation=True)


async def test_a_reply_started_early_and_dropped_counts_no_answer():
    """The candidate went on after a finished-reading pause: only the turn's real end counts."""
    mode = _mode(max_follow_ups=1)
    greeting, first, second = _candidate_turns(2)
    frames = [greeting, first, _speculative(second), SleepFrame(), EagerEndOfTurnCancelFrame()]
    frames += [SleepFrame(), UserStoppedSpeakingFrame(), SleepFrame(), second]
    told, _, cursor = await _guidance(frames, mode)
    # The early reply was guided as the answer to the follow-up; so was the real one.
    assert len(told) == 4 and "move on now" in told[2] and told[3] == told[2]
    # Counted once: question 2 is open with no answer yet (counted twice, it had one).
    assert (cursor.index, cursor.answers, cursor.follow_ups_used) == (1, 0, 0)


async def test_a_reply_started_early_counts_when_the_turn_end_confirms_it():
    mode = _mode(max_follow_ups=1)
    greeting, first, second = _candidate_turns(2)
    frames = [greeting, first, _speculative(second), SleepFrame()]
    told_early, _, cursor_early = await _guidance(frames, mode)
    assert (cursor_early.index, cursor_early.answers) == (0, 1)  # not counted before the turn ends

    told, down, cursor = await _guidance([*frames, UserStoppedSpeakingFrame()], mode)
    assert told == told_early  # guided once, when the reply started
    assert (cursor.index, cursor.answers, cursor.follow_ups_used) == (1, 0, 0)
    progress = [f.data for f in down if isinstance(f, RTVIServerMessageFrame)]
    assert progress[-1]["question"] == 2  # the page hears of the move when it is made


async def test_a_reply_started_early_that_its_turn_end_overtook_counts_at_once():
    """The turn's end (a system frame) can pass the early context frame still queued."""
    mode = _mode(max_follow_ups=1)
    greeting, first, second = _candidate_turns(2)
    frames = [greeting, first, SleepFrame(), UserStoppedSpeakingFrame(), _speculative(second)]
    _, _, cursor = await _guidance(frames, mode)
    assert (cursor.index, cursor.answers, cursor.follow_ups_used) == (1, 0, 0)
