"""Our processors, driven with pipecat's own run_test helper."""

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    EndWorkerFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frameworks.rtvi.frames import RTVIServerMessageFrame
from pipecat.tests.utils import run_test

from bots import get_mode
from interviewer.scripted import ScriptedInterviewer
from processors.avatar_expressions import AvatarExpressionProcessor
from processors.frames import AvatarEmotionFrame, InterviewClosedFrame
from processors.interview_closer import InterviewCloser
from processors.scripted_brain import ScriptedBrainProcessor


def _context(*messages):
    return LLMContext(messages=list(messages))


async def test_scripted_brain_streams_the_opening_then_answers():
    mode = get_mode("technical")
    brain = ScriptedBrainProcessor(ScriptedInterviewer(mode))
    down, _ = await run_test(
        brain,
        frames_to_send=[
            LLMContextFrame(context=_context()),
            LLMContextFrame(context=_context({"role": "user", "content": "Yes."})),
        ],
    )
    texts = [f.text for f in down if isinstance(f, LLMTextFrame)]
    spoken = "".join(texts)
    assert len(texts) > 10  # streamed in small chunks, not one blob
    assert mode.questions[0].text in spoken and "example" in spoken
    assert sum(isinstance(f, LLMFullResponseStartFrame) for f in down) == 2
    assert sum(isinstance(f, LLMFullResponseEndFrame) for f in down) == 2
    progress = [f.data for f in down if isinstance(f, RTVIServerMessageFrame)]
    assert {k: progress[0][k] for k in ("type", "question", "total", "phase")} == {
        "type": "progress",
        "question": 1,
        "total": 5,
        "phase": "questions",
    }
    assert mode.duration_min * 60 - 2 <= progress[0]["time_left_s"] <= mode.duration_min * 60


async def test_scripted_brain_ignores_speculative_contexts():
    brain = ScriptedBrainProcessor(ScriptedInterviewer(get_mode("technical")))
    down, _ = await run_test(
        brain, frames_to_send=[LLMContextFrame(context=_context(), speculation=True)]
    )
    assert not [f for f in down if isinstance(f, LLMTextFrame)]


async def test_scripted_brain_takes_back_a_reply_cut_off_before_its_question():
    mode = get_mode("technical")
    brain = ScriptedBrainProcessor(ScriptedInterviewer(mode))
    first = "I built a search service where latency was the hard part"
    await run_test(
        brain,
        frames_to_send=[
            LLMContextFrame(context=_context()),
            LLMContextFrame(context=_context({"role": "user", "content": first})),
            # Candidate went on talking; only "Thanks." of the reply was spoken.
            LLMContextFrame(
                context=_context(
                    {"role": "user", "content": first},
                    {"role": "assistant", "content": "Thanks."},
                    {
                        "role": "user",
                        "content": "and we measured it with tracing on every single request.",
                    },
                )
            ),
        ],
    )
    # The merged answer got the follow-up once; the plan did not advance twice.
    assert brain._interviewer.index == 0 and brain._interviewer.follow_ups_used == 1


async def test_scripted_brain_ends_the_interview_after_closing():
    mode = get_mode("behavioral")
    interviewer = ScriptedInterviewer(mode)
    interviewer.opening()
    interviewer.cursor.phase = "wrap_up"  # all questions asked: "any questions for me?"
    brain = ScriptedBrainProcessor(interviewer)
    brain._started = True
    down, _ = await run_test(
        brain,
        frames_to_send=[
            LLMContextFrame(
                context=_context({"role": "user", "content": "No, that's all, thanks."})
            )
        ],
    )
    assert mode.closing in "".join(f.text for f in down if isinstance(f, LLMTextFrame))
    assert isinstance(down[-1], InterviewClosedFrame)  # after the closing words


async def test_closer_reports_and_ends_the_worker():
    calls = []

    async def on_closed():
        calls.append("closed")

    _, up = await run_test(
        InterviewCloser(on_closed), frames_to_send=[InterviewClosedFrame(), InterviewClosedFrame()]
    )
    assert calls == ["closed"] and sum(isinstance(f, EndWorkerFrame) for f in up) == 1


async def test_avatar_follows_turn_taking_and_emotion():
    avatar = AvatarExpressionProcessor()
    down, _ = await run_test(
        avatar,
        frames_to_send=[
            UserStartedSpeakingFrame(),
            UserStoppedSpeakingFrame(),
            AvatarEmotionFrame(emotion="encouraging"),
            BotStartedSpeakingFrame(),
        ],
    )
    messages = [f.data for f in down if isinstance(f, RTVIServerMessageFrame)]
    assert [m["expression"] for m in messages] == ["listening", "thinking", "thinking", "speaking"]
    assert messages[-1]["emotion"] == "encouraging"
    assert not any(isinstance(f, AvatarEmotionFrame) for f in down)
