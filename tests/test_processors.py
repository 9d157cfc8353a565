"""Our processors, driven with pipecat's own run_test helper."""

import asyncio
import math
import time
from datetime import UTC, datetime, timedelta

import pytest
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    EndWorkerFrame,
    Frame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMRunFrame,
    LLMTextFrame,
    ProposedUserStartedSpeakingFrame,
    ProposedUserStoppedSpeakingFrame,
    TranscriptionFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers.user_bot_latency_observer import UserBotLatencyObserver
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.processors.frameworks.rtvi.frames import RTVIServerMessageFrame
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.turns.user_turn_strategies import ExternalUserTurnStrategies

from bots import get_mode
from interviewer.plan import PlanCursor
from interviewer.scripted import ScriptedInterviewer
from interviewer.store import Store
from processors.avatar_expressions import AvatarExpressionProcessor
from processors.frames import AvatarEmotionFrame, InterviewClosedFrame
from processors.interview_closer import InterviewCloser
from processors.scripted_brain import ScriptedBrainProcessor
from processors.transcript_recorder import TranscriptRecorder


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


def _talked_over(first: str, spoken: str, rest: str) -> list[LLMContextFrame]:
    """The opening, an answer, and the answer going on after ``spoken`` of the reply was said."""
    return [
        LLMContextFrame(context=_context()),
        LLMContextFrame(context=_context({"role": "user", "content": first})),
        LLMContextFrame(
            context=_context(
                {"role": "user", "content": first},
                {"role": "assistant", "content": spoken},
                {"role": "user", "content": rest},
            )
        ),
    ]


async def test_scripted_brain_takes_back_a_reply_cut_off_before_its_question():
    mode = get_mode("technical")
    brain = ScriptedBrainProcessor(ScriptedInterviewer(mode))
    first = "I built a search service where latency was the hard part"
    # Candidate went on talking; only "Thanks." of the reply was spoken.
    rest = "and we measured it with tracing on every single request."
    await run_test(brain, frames_to_send=_talked_over(first, "Thanks.", rest))
    # The merged answer got the follow-up once; the plan did not advance twice.
    assert brain._interviewer.index == 0 and brain._interviewer.follow_ups_used == 1


async def test_a_reply_taken_back_is_not_followed_by_the_same_acknowledgement():
    from interviewer.lines import LINE_ACKS

    mode = get_mode("behavioral")
    brain = ScriptedBrainProcessor(ScriptedInterviewer(mode, acks=LINE_ACKS))
    # The candidate went on over the reply's first words (beckett.wav in the page).
    frames = _talked_over(
        "Ever tried. Ever failed. No matter. Try again.", "Right,", "Fail again. Fail better."
    )
    down, _ = await run_test(brain, frames_to_send=frames)
    replies = "".join(
        f.text if isinstance(f, LLMTextFrame) else "|"
        for f in down
        if isinstance(f, (LLMTextFrame, LLMFullResponseStartFrame))
    ).split("|")[1:]
    acks = [next(a for a in LINE_ACKS if r.startswith(a)) for r in replies[1:]]
    assert len(acks) == 2 and acks[0] != acks[1], replies


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


class _Voice(FrameProcessor):
    """Stands where the TTS and the speaker are: reply ``n`` is heard up to ``heard[n]`` words.

    The rest of that reply waits, unsaid, until the candidate cuts in (an interruption drops it).
    """

    def __init__(self, heard: dict[int, int]):
        super().__init__()
        self._heard = heard
        self._reply = -1
        self._said = 0
        self._holding = False

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, InterruptionFrame):
            self._holding = False
        elif isinstance(frame, LLMFullResponseStartFrame):
            self._reply, self._said = self._reply + 1, 0
        elif isinstance(frame, (LLMTextFrame, LLMFullResponseEndFrame)):
            if not self._holding and isinstance(frame, LLMTextFrame):
                self._holding = self._said >= self._heard.get(self._reply, math.inf)
                self._said += 1
            if self._holding:
                return
        await self.push_frame(frame, direction)


def _candidate_says(text: str) -> list[Frame]:
    """One stretch of the candidate's speech, its transcript, and time for the reply to start."""
    return [
        ProposedUserStartedSpeakingFrame(),
        TranscriptionFrame(text, "candidate", ""),
        SleepFrame(0.1),
        ProposedUserStoppedSpeakingFrame(),
        SleepFrame(1.0),
    ]


@pytest.mark.parametrize(
    ("words_heard", "continued_question"),
    [
        (1, 0),  # only "Thanks." was said: the candidate was still answering the first question
        (10, 1),  # "Thanks. Tell me about the hardest bug you've tracked down.": the second
    ],
)
async def test_a_merged_answer_keeps_the_question_it_answered(
    tmp_path, words_heard, continued_question
):
    """The candidate goes on talking over the reply that moved to the next question."""
    mode = get_mode("technical")
    store = Store(f"sqlite:///{tmp_path}/t.db")
    interview_id, _ = store.create_interview(mode.id, {}, "scripted")
    cursor = PlanCursor(mode)
    aggregators = LLMContextAggregatorPair(
        LLMContext(),
        user_params=LLMUserAggregatorParams(user_turn_strategies=ExternalUserTurnStrategies()),
    )
    recorder = TranscriptRecorder(store, interview_id, cursor)
    recorder.attach(aggregators, UserBotLatencyObserver())
    pipeline = Pipeline(
        [
            aggregators.user(),
            ScriptedBrainProcessor(ScriptedInterviewer(mode, cursor=cursor)),
            _Voice({1: words_heard}),  # reply 1 (after the greeting) is cut off
            aggregators.assistant(),
        ]
    )
    first = "I wrote the billing service in Go and it runs every invoice for the company."
    more = "and I still look after it today with two colleagues."
    await run_test(
        pipeline,
        frames_to_send=[
            LLMRunFrame(),
            SleepFrame(0.5),
            *_candidate_says(first),
            *_candidate_says(more),
        ],
    )
    await recorder.flush()

    turns = [
        (t.role, t.text, t.interrupted, t.question_index) for t in store.get(interview_id).turns
    ]
    reply = f"Thanks. {mode.questions[1].text}"
    heard = " ".join(reply.split()[:words_heard])
    assert turns[1:4] == [
        ("candidate", first, False, 0),
        ("interviewer", heard, True, continued_question),
        ("candidate", more, False, continued_question),
    ]
    assert (
        turns[0][0] == "interviewer" and turns[0][3] == 0 and mode.questions[0].text in turns[0][1]
    )
    assert len(turns) == 5 and turns[4][0] == "interviewer" and not turns[4][2]
    assert turns[4][3] == cursor.index  # the reply to the whole answer asked the open question


@pytest.mark.parametrize(
    ("phase", "spoken", "asked"),
    [
        ("questions", "Thanks.", False),
        ("questions", "Thanks. Tell me", False),
        ("questions", "Thanks. Tell me about", True),  # the question's opening words
        ("questions", "Great. So what was the nastiest bug you chased?", True),  # in its own words
        ("wrap_up", "Got it. Before we", False),
        ("wrap_up", "Got it. Before we finish, do", True),
        ("closed", "", True),
    ],
)
def test_a_reply_cut_off_asked_its_question_only_if_it_got_to_it(phase, spoken, asked):
    cursor = PlanCursor(get_mode("technical"), phase=phase, index=1)
    assert cursor.asked_in(spoken) is asked


class _Speaker(FrameProcessor):
    """Stands where the output transport is: each reply is audible ``delay_s`` after it begins."""

    def __init__(self, delay_s: float):
        super().__init__()
        self._delay_s = delay_s
        self._waiting = False
        self.audible: list[datetime] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMFullResponseStartFrame):
            self._waiting = True
        elif isinstance(frame, LLMTextFrame) and self._waiting:
            self._waiting = False
            await asyncio.sleep(self._delay_s)
            self.audible.append(datetime.now(UTC))
            await self.push_frame(BotStartedSpeakingFrame(), direction)
        await self.push_frame(frame, direction)


def _candidate_speaks(text: str, onset: float, silent_at: float) -> list[Frame]:
    """A stretch of speech with the VAD's frames: voice from ``onset`` to ``silent_at`` (Unix s)."""
    return [
        VADUserStartedSpeakingFrame(start_secs=0.2, timestamp=onset + 0.2),
        ProposedUserStartedSpeakingFrame(),
        TranscriptionFrame(text, "candidate", ""),
        VADUserStoppedSpeakingFrame(stop_secs=0.2, timestamp=silent_at + 0.2),
        SleepFrame(0.4),  # the wait that calls the turn over
        ProposedUserStoppedSpeakingFrame(),
        SleepFrame(1.0),
    ]


async def test_turns_are_stored_with_when_they_were_heard(tmp_path):
    """A candidate turn runs from their voice's onset to its fall into silence (not to the end
    of the wait that called it over); a reply from its first audio; a reply heard but cut off
    before its first words is stored too."""
    mode = get_mode("technical")
    store = Store(f"sqlite:///{tmp_path}/t.db")
    interview_id, _ = store.create_interview(mode.id, {}, "scripted")
    cursor = PlanCursor(mode)
    aggregators = LLMContextAggregatorPair(
        LLMContext(),
        user_params=LLMUserAggregatorParams(user_turn_strategies=ExternalUserTurnStrategies()),
    )
    recorder = TranscriptRecorder(store, interview_id, cursor)
    recorder.attach(aggregators, UserBotLatencyObserver())
    speaker = _Speaker(delay_s=0.3)
    pipeline = Pipeline(
        [
            aggregators.user(),
            ScriptedBrainProcessor(ScriptedInterviewer(mode, cursor=cursor)),
            speaker,
            _Voice({1: 0}),  # reply 1 is heard, and cut off before its first word
            aggregators.assistant(),
        ]
    )
    now = time.time()
    first = "I wrote the billing service in Go and it runs every invoice for the company."
    more = "and I still look after it today with two colleagues."
    await run_test(
        pipeline,
        frames_to_send=[
            LLMRunFrame(),
            SleepFrame(0.8),
            # (times the VAD frames carry; its onset is before the turn starts, in the past)
            *_candidate_speaks(first, onset=now - 0.9, silent_at=now - 0.6),
            *_candidate_speaks(more, onset=now - 0.3, silent_at=now - 0.1),
        ],
    )
    await recorder.flush()

    turns = store.get(interview_id).turns
    assert [(t.role, t.text, t.interrupted) for t in turns] == [
        ("interviewer", turns[0].text, False),
        ("candidate", first, False),
        ("interviewer", "…", True),
        ("candidate", more, False),
        ("interviewer", turns[4].text, False),
    ]

    def at(turn_time: datetime, unix: float) -> bool:
        return abs(turn_time.timestamp() - unix) < 0.001

    assert at(turns[1].started_at, now - 0.9) and at(turns[1].ended_at, now - 0.6)
    assert at(turns[3].started_at, now - 0.3) and at(turns[3].ended_at, now - 0.1)
    replies = [turns[0], turns[2], turns[4]]
    assert len(speaker.audible) == 3
    for reply, audible in zip(replies, speaker.audible, strict=True):
        assert timedelta(0) <= reply.started_at - audible < timedelta(seconds=0.2)
