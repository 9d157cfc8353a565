"""The candidate talks over the greeting before its first question: the question is asked again.

Frame-level tests drive the scripted and local brains with pipecat's run_test and an
``LLMContext`` whose last assistant message is the greeting as it was actually said (cut
where the candidate started talking). The slow test barges in on the greeting through the
real server, pipeline and WebSocket.
"""

from __future__ import annotations

import asyncio

import pytest
from openai import AsyncOpenAI
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMTextFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.tests.utils import run_test

from bots import get_mode
from interviewer.line_writer import LineWriter
from interviewer.lines import LINE_ACKS, system_prompt
from interviewer.plan import CandidateContext
from interviewer.scripted import OVER_GREETING_ACK, ScriptedInterviewer
from processors.local_brain import LocalBrainProcessor
from processors.scripted_brain import ScriptedBrainProcessor
from tests.standins.openai_server import OpenAIStandIn

MODE = get_mode("technical")
FIRST = MODE.questions[0].text
OVER_GREETING = "Hi, sorry, can you hear me okay?"
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


async def test_the_scripted_brain_asks_the_first_question_again_after_a_cut_greeting():
    interviewer = ScriptedInterviewer(MODE, CandidateContext(name="Ada"))
    brain = ScriptedBrainProcessor(interviewer)
    cut = _cut_greeting(interviewer)
    talked_over = [
        {"role": "assistant", "content": cut},
        {"role": "user", "content": OVER_GREETING},
    ]
    down, _ = await run_test(brain, frames_to_send=_contexts(talked_over))
    opening, again = _replies(down)
    assert opening.endswith(FIRST) and cut in opening
    assert again.endswith(FIRST) and again != FIRST  # a short acknowledgement, then the question
    assert interviewer.index == 0 and interviewer.cursor.answers == 0  # not taken as an answer


async def test_the_answer_after_the_repeated_question_is_the_first_answer():
    interviewer = ScriptedInterviewer(MODE)
    brain = ScriptedBrainProcessor(interviewer)
    cut = _cut_greeting(interviewer)
    again = f"{OVER_GREETING_ACK} {FIRST}"
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
        {"role": "assistant", "content": OVER_GREETING_ACK},  # the repeat, cut after its first word
        {"role": "user", "content": "Sorry, go on."},
    ]
    down, _ = await run_test(brain, frames_to_send=_contexts(once, twice))
    assert [r.endswith(FIRST) for r in _replies(down)] == [True, True, True]

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
    assert again == f"{OVER_GREETING_ACK} {FIRST}"
    assert brain.lines == []  # no model line: the words over the greeting are not an answer
    assert interviewer.index == 0 and interviewer.cursor.answers == 0


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
