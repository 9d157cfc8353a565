"""The candidate talks over the greeting before its first question: the question is asked again.

Frame-level tests drive the scripted and local brains with pipecat's run_test and an
``LLMContext`` whose last assistant message is the greeting as it was actually said (cut
where the candidate started talking). The slow test barges in on the greeting through the
real server, pipeline and WebSocket.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from openai import AsyncOpenAI
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    DataFrame,
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMTextFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import AssistantTurnStoppedMessage
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test

from bots import get_mode
from interviewer.line_writer import LineWriter
from interviewer.lines import LINE_ACKS, system_prompt
from interviewer.plan import CandidateContext, PlanCursor
from interviewer.scripted import (
    HEARD_YOU,
    OVER_GREETING_ACK,
    ScriptedInterviewer,
    over_greeting_ack,
)
from processors.first_question import FirstQuestionGuard
from processors.local_brain import LocalBrainProcessor
from processors.scripted_brain import ScriptedBrainProcessor
from tests.standins.openai_server import OpenAIStandIn, llm_at

MODE = get_mode("technical")
FIRST = MODE.questions[0].text
OVER_GREETING = "Hi, sorry, can you hear me okay?"  # a check on the line: told it is heard
HELLO_OVER_GREETING = "Hi! Sorry, I'm here now."  # anything else: "Okay."
ANSWER = (
    "I led the migration of our payments service to a new database, planned the rollout in "
    "three stages, wrote the runbooks and measured error rates at every step along the way."
)


def _replies(down: list[Frame]) -> list[str]:
    """The text of each reply the brain streamed, in order."""
    replies, current = [], ""
    for f in down:
        if isinstance(f, LLMTextFrame):
            current += f.text
        elif isinstance(f, LLMFullResponseEndFrame):
            replies.append(" ".join(current.split()))
            current = ""
    return replies


def _contexts(*histories: list[dict]) -> list[Frame]:
    """The opening's (empty) context, then one context per history."""
    frames: list[Frame] = [LLMContextFrame(context=LLMContext())]
    frames += [LLMContextFrame(context=LLMContext(messages=list(h))) for h in histories]
    return frames


def _cut_greeting(interviewer: ScriptedInterviewer) -> str:
    """The greeting as said when the candidate talked over it: everything before the question."""
    opening = ScriptedInterviewer(interviewer.mode, interviewer.candidate).opening().text
    return opening[: opening.index(FIRST)].strip()


@pytest.mark.parametrize(
    ("over", "ack"), [(OVER_GREETING, HEARD_YOU), (HELLO_OVER_GREETING, OVER_GREETING_ACK)]
)
async def test_the_scripted_brain_asks_the_first_question_again_after_a_cut_greeting(over, ack):
    interviewer = ScriptedInterviewer(MODE, CandidateContext(name="Ada"))
    brain = ScriptedBrainProcessor(interviewer)
    cut = _cut_greeting(interviewer)
    talked_over = [
        {"role": "assistant", "content": cut},
        {"role": "user", "content": over},
    ]
    down, _ = await run_test(brain, frames_to_send=_contexts(talked_over))
    opening, again = _replies(down)
    assert opening.endswith(FIRST) and cut in opening
    assert again == f"{ack} {FIRST}"  # a short acknowledgement, then the question
    assert interviewer.index == 0 and interviewer.cursor.answers == 0  # not taken as an answer


async def test_the_answer_after_the_repeated_question_is_the_first_answer():
    interviewer = ScriptedInterviewer(MODE)
    brain = ScriptedBrainProcessor(interviewer)
    cut = _cut_greeting(interviewer)
    again = f"{HEARD_YOU} {FIRST}"
    history = [
        {"role": "assistant", "content": cut},
        {"role": "user", "content": OVER_GREETING},
    ]
    answered = [
        *history,
        {"role": "assistant", "content": again},  # heard in full this time
        {"role": "user", "content": ANSWER},
    ]
    down, _ = await run_test(brain, frames_to_send=_contexts(history, answered))
    _, repeated, reply = _replies(down)
    assert repeated.endswith(FIRST)
    expected = ScriptedInterviewer(MODE)
    expected.opening()
    assert reply.endswith(expected.reply(ANSWER).body)  # as if the greeting had been heard
    assert not reply.endswith(FIRST)


async def test_a_greeting_cut_twice_is_asked_a_third_time_and_one_heard_is_not():
    interviewer = ScriptedInterviewer(MODE)
    brain = ScriptedBrainProcessor(interviewer)
    cut = _cut_greeting(interviewer)
    once = [{"role": "assistant", "content": cut}, {"role": "user", "content": OVER_GREETING}]
    twice = [
        *once,
        {"role": "assistant", "content": "Yes, I can"},  # the repeat, cut after its first words
        {"role": "user", "content": "Sorry, go on."},
    ]
    down, _ = await run_test(brain, frames_to_send=_contexts(once, twice))
    opening, again, third = _replies(down)
    assert opening.endswith(FIRST)
    assert (again, third) == (f"{HEARD_YOU} {FIRST}", f"{OVER_GREETING_ACK} {FIRST}")

    heard = ScriptedInterviewer(MODE)
    full = [
        {"role": "assistant", "content": heard.opening().text},
        {"role": "user", "content": ANSWER},
    ]
    brain = ScriptedBrainProcessor(ScriptedInterviewer(MODE))
    down, _ = await run_test(brain, frames_to_send=_contexts(full))
    assert not _replies(down)[1].endswith(FIRST)


async def test_talking_over_the_first_words_is_missing_the_question_too():
    """Nothing of the greeting reached the context, but its voice had started: ask the question."""
    interviewer = ScriptedInterviewer(MODE)
    brain = ScriptedBrainProcessor(interviewer)
    frames = _contexts()
    frames += [
        BotStartedSpeakingFrame(),
        LLMContextFrame(context=LLMContext(messages=[{"role": "user", "content": OVER_GREETING}])),
    ]
    down, _ = await run_test(brain, frames_to_send=frames)
    assert _replies(down)[1].endswith(FIRST) and interviewer.cursor.answers == 0


async def test_the_local_brain_asks_the_first_question_again_in_the_scripts_words():
    standin = await OpenAIStandIn(lambda messages: "How did you test it?").start()
    try:
        client = AsyncOpenAI(api_key="sk-test", base_url=standin.url, max_retries=0, timeout=10)
        writer = LineWriter(client, "standin-1", system_prompt(MODE, CandidateContext()), slot=0)
        interviewer = ScriptedInterviewer(MODE, open_follow_ups=True, acks=LINE_ACKS)
        brain = LocalBrainProcessor(interviewer, writer, gap_secs=0.3)
        talked_over = [
            {"role": "assistant", "content": _cut_greeting(interviewer)},
            {"role": "user", "content": OVER_GREETING},
        ]
        down, _ = await run_test(brain, frames_to_send=_contexts(talked_over))
    finally:
        await standin.stop()
    _, again = _replies(down)
    assert again == f"{HEARD_YOU} {FIRST}"
    assert brain.lines == []  # no model line: the words over the greeting are not an answer
    assert interviewer.index == 0 and interviewer.cursor.answers == 0


# --- an OpenAI-compatible LLM: the guard before it ----------------------------------------

OPENAI_GREETING = (
    "Hello Ada, I'm Alex, a senior software engineer. Thanks for joining this technical "
    f"interview; answer as you would to a colleague. {FIRST}"
)
OPENAI_FOLLOW_UP = "Thanks for sharing that. What was the hardest part of it?"


def _openai_reply(messages: list[dict]) -> str:
    return OPENAI_FOLLOW_UP if any(m.get("role") == "user" for m in messages) else OPENAI_GREETING


@dataclass
class TurnEnded(DataFrame):
    """Test marker: the interviewer's last turn ended, as the assistant aggregator reports it."""

    content: str = ""
    interrupted: bool = False


class _Guard(FirstQuestionGuard):
    """The guard, told of each ``TurnEnded`` in order (in the bot, the aggregator's event)."""

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        if isinstance(frame, TurnEnded):
            await FrameProcessor.process_frame(self, frame, direction)
            message = AssistantTurnStoppedMessage(
                content=frame.content, interrupted=frame.interrupted, timestamp=""
            )
            await self.assistant_turn_stopped(None, message)
        else:
            await super().process_frame(frame, direction)


def _turn(history: list[dict], said: str, then: str) -> list[dict]:
    """``history``, what was said of the interviewer's turn, and the candidate's next words."""
    said_part = [{"role": "assistant", "content": said}] if said else []
    return [*history, *said_part, {"role": "user", "content": then}]


async def _openai_slot(*turns: tuple[str, bool, str]):
    """The conductor, the guard and the real OpenAI service (stand-in) through a greeting and turns.

    Each turn is (what was said of the interviewer's last reply, whether it was cut, what the
    candidate said next). Returns the replies, the stand-in's requests, the cursor and the guard.
    """
    from processors.interview_conductor import InterviewConductor
    from processors.llm_fallback import BudgetedOpenAILLMService

    cursor = PlanCursor(MODE)

    async def no_reply():
        pass

    standin = await OpenAIStandIn(_openai_reply).start()
    try:
        llm = BudgetedOpenAILLMService(
            budget_s=10,
            api_key="sk-test",
            base_url=standin.url,
            settings=BudgetedOpenAILLMService.Settings(model="standin-1"),
        )
        guard = _Guard(cursor)
        conductor = InterviewConductor(cursor, llm_guided=True, request_reply=no_reply)
        frames: list[Frame] = [LLMContextFrame(context=LLMContext()), SleepFrame(0.5)]
        history: list[dict] = []
        for said, cut, then in turns:
            history = _turn(history, said, then)
            frames += [
                TurnEnded(content=said, interrupted=cut),
                LLMContextFrame(context=LLMContext(messages=list(history))),
                SleepFrame(0.5),
            ]
        down, _ = await run_test(Pipeline([conductor, guard, llm]), frames_to_send=frames)
    finally:
        await standin.stop()
    return _replies(down), standin.requests, cursor, guard


CUT = "Hello Ada, I'm Alex, a senior software engineer. Thanks for"


async def test_an_llm_greeting_cut_before_its_question_gets_the_question_asked_again():
    replies, requests, cursor, guard = await _openai_slot(
        (CUT, True, OVER_GREETING),  # talked over the greeting
        (f"{HEARD_YOU} {FIRST}", False, ANSWER),  # heard the question, answered it
    )
    greeting, again, reply = replies
    assert greeting == OPENAI_GREETING
    assert again == f"{HEARD_YOU} {FIRST}" and guard.repeats == 1
    assert reply == OPENAI_FOLLOW_UP  # the answer went to the LLM...
    assert len(requests) == 2  # ... and the words over the greeting did not
    said = [m["content"] for m in requests[1]["body"]["messages"] if m["role"] == "assistant"]
    assert said == [CUT, f"{HEARD_YOU} {FIRST}"]
    # The words over the greeting were no answer: the plan counted the answer alone.
    assert _plan(cursor) == _plan_after(answers=1) != _plan_after(answers=2)


def _plan(cursor: PlanCursor) -> tuple[int, int, int]:
    return cursor.index, cursor.answers, cursor.follow_ups_used


def _plan_after(answers: int) -> tuple[int, int, int]:
    """Where the conductor's count leaves the plan after the greeting and ``answers`` turns."""
    cursor = PlanCursor(MODE)
    cursor.check_clock(0.0)
    for _ in range(1 + answers):  # the greeting's reply is counted too
        cursor.answer_for_llm(0.0)
    return _plan(cursor)


@pytest.mark.parametrize(
    ("said", "cut", "asked_again"),
    [
        (OPENAI_GREETING, False, False),  # heard to its end
        # heard to its end, in its own words with no question mark: its question was heard
        ("Hello Ada, thanks for joining. Tell me about a project you are proud of.", False, False),
        (f"{CUT} joining this technical interview. {FIRST[:30]}", True, False),  # got to it
        ("Hello Ada, tell me about your proudest project?", True, False),  # its own words
        (CUT, True, True),
        ("", True, True),  # cut before any of it was said
    ],
)
async def test_only_a_greeting_cut_before_its_question_is_asked_again(said, cut, asked_again):
    replies, requests, _, guard = await _openai_slot((said, cut, HELLO_OVER_GREETING))
    assert (replies[1] == f"{OVER_GREETING_ACK} {FIRST}") is asked_again
    assert (replies[1] == OPENAI_FOLLOW_UP) is not asked_again
    assert len(requests) == (1 if asked_again else 2) and guard.repeats == int(asked_again)


async def test_an_llm_greeting_repeat_cut_short_is_asked_once_more():
    replies, requests, cursor, guard = await _openai_slot(
        (CUT, True, OVER_GREETING),
        ("Yes, I can", True, "Sorry, go on."),  # the repeat, cut after its first words
        (f"{OVER_GREETING_ACK} {FIRST}", False, ANSWER),
    )
    assert replies[1:] == [
        f"{HEARD_YOU} {FIRST}",
        f"{OVER_GREETING_ACK} {FIRST}",
        OPENAI_FOLLOW_UP,
    ]
    assert len(requests) == 2 and guard.repeats == 2
    assert _plan(cursor) == _plan_after(answers=1)


# --- slow: barge in on the greeting through the real server -------------------------------


@pytest.mark.slow
async def test_talking_over_the_greeting_gets_the_first_question_asked_again(server, models):
    from candidate.session_client import CandidateSession
    from interviewer.audio import synthesize

    behavioral = get_mode("behavioral")
    first = behavioral.questions[0].text
    pcm = synthesize(models.piper_voice, "Hello! Sorry, can you hear me all right?")
    async with CandidateSession(server.url, "behavioral", {"name": "Ada"}) as s:
        await asyncio.wait_for(s.bot_ready.wait(), 30)
        for _ in range(300):  # into the greeting, well before its question
            if s.log.bot_audio_ms > 1500:
                break
            await asyncio.sleep(0.02)
        s.speak(pcm)
        await s.drain()
        assert await s.wait_bot_done(timeout_s=60)
    turns = [t for t in s.log.turns if t.role == "interviewer"]
    print([(t.text, t.interrupted) for t in s.log.turns])
    greeting, reply = turns[0], turns[-1]
    assert greeting.interrupted and first not in greeting.text
    assert len(turns) >= 2 and reply.text.endswith(first), reply.text


@pytest.mark.slow
async def test_talking_over_an_llm_greeting_gets_the_first_question_asked_again(settings, models):
    """LLM=openai (the loopback stand-in): the same barge-in, through the real server."""
    from candidate.session_client import CandidateSession
    from interviewer.audio import synthesize
    from web.cli import LocalServer

    standin = await OpenAIStandIn(_openai_reply).start()
    llm_settings = llm_at(settings, standin.url)
    over = synthesize(models.piper_voice, "Hello! Sorry, can you hear me all right?")
    try:
        async with LocalServer(llm_settings, models=models) as server:
            async with CandidateSession(server.url, "technical", {"name": "Ada"}) as s:
                await asyncio.wait_for(s.bot_ready.wait(), 30)
                for _ in range(300):  # into the greeting, well before its question
                    if s.log.bot_audio_ms > 1500:
                        break
                    await asyncio.sleep(0.02)
                s.speak(over)
                await s.drain()
                assert await s.wait_bot_done(timeout_s=60)
                asked = len(_replies_asked(standin))
                turns = [t for t in s.log.turns if t.role == "interviewer"]
                over_words = s.log.texts("candidate")[-1]
                assert await s.answer(synthesize(models.piper_voice, ANSWER))
    finally:
        await standin.stop()
    print([(t.role, t.text, t.interrupted) for t in s.log.turns])
    greeting, again = turns[0], turns[-1]
    assert greeting.interrupted and FIRST not in greeting.text
    assert len(turns) >= 2 and again.text.endswith(FIRST), again.text
    assert asked == 1  # the words over the greeting were not sent to the LLM as an answer
    # The answer that followed went to the LLM, after the question it answered.
    replies = _replies_asked(standin)
    assert len(replies) == 2 and s.log.texts("interviewer")[-1] == OPENAI_FOLLOW_UP
    said = [m["content"] for m in replies[1]["body"]["messages"] if m["role"] == "assistant"]
    # Told it is heard when the words over the greeting were heard as a check on the line.
    assert said[-1] == f"{over_greeting_ack(over_words)} {FIRST}"


def _replies_asked(standin: OpenAIStandIn) -> list[dict]:
    """The requests for spoken replies (streamed), not the report's at the end."""
    return [r for r in standin.requests if r["body"].get("stream")]


async def _guard_after(frames: list[Frame]) -> _Guard:
    """The guard after the greeting and ``frames`` (the plan as the conductor leaves it)."""
    cursor = PlanCursor(MODE)
    cursor.check_clock(0.0)
    cursor.answer_for_llm(0.0)  # the greeting: the first question is open
    guard = _Guard(cursor)
    greeting = [LLMContextFrame(context=LLMContext()), SleepFrame(0.05)]
    await run_test(guard, frames_to_send=[*greeting, *frames])
    return guard


@pytest.mark.parametrize(
    ("said", "cut", "lets"), [(OPENAI_GREETING, False, True), (CUT, True, False)]
)
async def test_a_reply_may_start_early_only_when_the_turn_goes_to_the_llm(said, cut, lets):
    """A reply started before the turn ends must not answer a turn the guard answers itself."""
    guard = await _guard_after([TurnEnded(content=said, interrupted=cut), SleepFrame(0.05)])
    assert guard.lets_the_llm_answer is lets


async def test_a_first_answer_replied_to_early_settles_the_guard():
    """The turn's end then sends no context again: a later reply cut short is not a cut greeting."""
    history = _turn([], OPENAI_GREETING, ANSWER)
    early = LLMContextFrame(context=LLMContext(messages=list(history)), speculation=True)
    later = _turn(history, "Thanks", "I would do the same again.")
    guard = await _guard_after(
        [
            TurnEnded(content=OPENAI_GREETING, interrupted=False),
            early,
            SleepFrame(0.05),
            TurnEnded(content="Thanks", interrupted=True),  # the candidate cut the reply short
            LLMContextFrame(context=LLMContext(messages=later)),
            SleepFrame(0.05),
        ]
    )
    assert guard.lets_the_llm_answer and guard.repeats == 0
