"""Engineers' notation in a line is said as words; the transcript keeps it as written.

The rewrite (interviewer/speech_text.py), then each voice as the interview builds it
(``InterviewStages.tts``) in a pipecat pipeline (pipecat's run_test): Piper with the bundled voice,
recording the text it is asked to say, and Cartesia's service against the loopback stand-in,
which records the transcripts it is sent.
"""

from __future__ import annotations

import re
import threading
from types import SimpleNamespace

import pytest
from pipecat.frames.frames import (
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TTSTextFrame,
)
from pipecat.observers.user_bot_latency_observer import UserBotLatencyObserver
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frameworks.rtvi import RTVIProcessor
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import TransportParams

from bots import get_mode
from bots.pipeline import InterviewStages, page_observer_params
from interviewer.config import load_settings
from interviewer.plan import PlanCursor
from interviewer.speech_text import say_as_spoken, shown_text
from interviewer.store import Store
from processors.transcript_recorder import TranscriptRecorder
from tests.standins.cartesia_server import CartesiaStandIn
from tests.test_tts_retry import FailingVoice

LINE = "How did you keep redirects under 50ms at 10x the traffic, with a 100:1 read ratio?"
SAID = (
    "How did you keep redirects under 50 milliseconds at 10 times the traffic, with a 100 to 1 "
    "read ratio?"
)


@pytest.mark.parametrize(
    "written,said",
    [
        (LINE, SAID),
        (
            "So you moved 80M documents and served 100k reads.",
            "So you moved 80 million documents and served 100 thousand reads.",
        ),
        (
            "Why 1.5x, and why a 5 GB cache at 2000 rps?",
            "Why 1.5 times, and why a 5 gigabytes cache at 2000 requests per second?",
        ),
        (
            "So you keep the split at 80:20 and lookups at 200us.",
            "So you keep the split at 80 to 20 and lookups at 200 microseconds.",
        ),
        # Left as written: a time of day, names with digits, counts, percentages, and words.
        (
            "Why does the job run at 10:30 on the S3 bucket?",
            "Why does the job run at 10:30 on the S3 bucket?",
        ),
        (
            "How did MD5 and the p99 behave for 2 of us?",
            "How did MD5 and the p99 behave for 2 of us?",
        ),
        (
            "So conversions fell 8% in 2019, not 10 times.",
            "So conversions fell 8% in 2019, not 10 times.",
        ),
        ("Which boxes ran Linux, and how many ms?", "Which boxes ran Linux, and how many ms?"),
        ("So 5 * 3 is 15, and 2*3 is 6.", "So 5 * 3 is 15, and 2*3 is 6."),
    ],
)
def test_notation_is_written_out_as_it_is_said(written, said):
    assert say_as_spoken(written) == said


def _reply(text: str) -> list:
    """``text`` streamed as an LLM streams it: "50ms" comes as " 50" and "ms"."""
    tokens = re.findall(r" ?\d+|[^\d\s]+|\s+", text)
    assert "".join(tokens) == text
    return [
        LLMFullResponseStartFrame(),
        *(LLMTextFrame(t) for t in tokens),
        LLMFullResponseEndFrame(),
        SleepFrame(0.5),
    ]


async def test_piper_says_the_notation_as_words_and_the_transcript_keeps_it(piper_voice, settings):
    voice = FailingVoice(piper_voice, fail_on=None)
    models = SimpleNamespace(piper_voice=voice, piper_lock=threading.Lock(), piper_phrases={})
    tts = InterviewStages(get_mode("system_design"), None, models, settings).tts()
    down, _ = await run_test(tts, frames_to_send=_reply(LINE))
    assert voice.calls == [SAID]
    transcript = " ".join(f.text.strip() for f in down if isinstance(f, TTSTextFrame))
    assert transcript == LINE


@pytest.mark.parametrize(
    "reply,said",
    [
        (
            "**Great question!** Let's talk about `Redis`. What is *your* plan at 10x?",
            ["Great question!", "Let's talk about Redis.", "What is your plan at 10 times?"],
        ),
        (
            "**Thanks for sharing that.** What was the *hardest* part of the migration?",
            ["Thanks for sharing that.", "What was the hardest part of the migration?"],
        ),
    ],
)
async def test_piper_never_reads_markdown_out(reply, said, piper_voice, settings):
    """An OpenAI-compatible LLM's reply in Markdown, cut into sentences inside its bold."""
    voice = FailingVoice(piper_voice, fail_on=None)
    models = SimpleNamespace(piper_voice=voice, piper_lock=threading.Lock(), piper_phrases={})
    tts = InterviewStages(get_mode("system_design"), None, models, settings).tts()
    await run_test(tts, frames_to_send=_reply(reply))
    assert voice.calls == said


async def test_cartesia_is_sent_the_notation_as_words():
    standin = await CartesiaStandIn().start()
    try:
        settings = load_settings(
            TTS="cartesia",
            CARTESIA_API_KEY="ck-test",
            CARTESIA_VOICE_ID="voice-standin",
            CARTESIA_URL=standin.url,
        )
        tts = InterviewStages(get_mode("system_design"), None, None, settings).tts()
        await run_test(tts, frames_to_send=_reply(LINE))
    finally:
        await standin.stop()
    assert " ".join(t.strip() for t in standin.transcripts) == SAID


@pytest.mark.parametrize(
    "written,shown",
    [
        (
            "**Great question!** Let's talk about `Redis`.",
            "Great question! Let's talk about Redis.",
        ),
        ("What is *your* plan at 10x and 50ms?", "What is your plan at 10x and 50ms?"),
        ("## Next\n- Latency under load.", "Next\nLatency under load."),
        ("* Latency under load.", "Latency under load."),
        ("So 5 * 3 is 15, and 2*3 is 6.", "So 5 * 3 is 15, and 2*3 is 6."),
        # Emphasis left over where a sentence was cut inside it, which pipecat's StripMarkdown
        # alone leaves ("**Great question!") or pairs wrongly ("* What was the *hardest part?").
        ("**Great question!", "Great question!"),
        ("** What was the *hardest* part?", " What was the hardest part?"),
        ("*Why* did you?", "Why did you?"),
    ],
)
async def test_the_page_is_shown_the_words_in_the_lines_notation(written, shown):
    assert (await shown_text(written, "sentence")).text == shown


async def test_the_page_is_shown_the_progress_without_markdown():
    """Word-level progress (a voice with word timestamps) is shown without marks too."""
    result = await shown_text(
        "**Great question!** Why?", "sentence", "**Great", " question!** Why?"
    )
    assert (result.text, result.accumulated_text, result.remaining_text) == (
        "Great question! Why?",
        "Great",
        " question! Why?",
    )


class PageTransport(BaseOutputTransport):
    """An output transport that keeps the messages it would send to the page (and no audio)."""

    def __init__(self):
        super().__init__(TransportParams(audio_out_enabled=True))
        self.sent: list[dict] = []

    async def start(self, frame):
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def send_message(self, frame):
        self.sent.append(frame.message)


@pytest.mark.parametrize("voice", ["piper", "cartesia"])
async def test_the_page_never_shows_markdown(voice, piper_voice, settings):
    """Each voice as the interview builds it; the RTVI messages the worker's observer sends."""
    reply = "**Great question!** Let's talk about `Redis`. What is *your* plan at 10x?"
    standin = None
    if voice == "piper":
        pv = FailingVoice(piper_voice, fail_on=None)
        models = SimpleNamespace(piper_voice=pv, piper_lock=threading.Lock(), piper_phrases={})
    else:  # a voice with word timestamps: the page is sent its progress word by word
        standin = await CartesiaStandIn().start()
        models = None
        settings = load_settings(
            TTS="cartesia",
            CARTESIA_API_KEY="ck-test",
            CARTESIA_VOICE_ID="voice-standin",
            CARTESIA_URL=standin.url,
        )
    try:
        rtvi, page = RTVIProcessor(), PageTransport()
        tts = InterviewStages(get_mode("system_design"), None, models, settings).tts()
        await run_test(
            Pipeline([rtvi, tts, page]),
            frames_to_send=[*_reply(reply), SleepFrame(2.0)],
            observers=[rtvi.create_rtvi_observer(params=page_observer_params())],
        )
    finally:
        if standin is not None:
            await standin.stop()
    outputs = [m["data"] for m in page.sent if m.get("type") == "bot-output"]
    completed = [o["text"] for o in outputs if o.get("spoken_status") == "completed"]
    assert " ".join(t.strip() for t in completed) == (
        "Great question! Let's talk about Redis. What is your plan at 10x?"
    )
    shown = [o["text"] for o in outputs] + [
        part for o in outputs for part in (o.get("spoken_progress") or {}).values() if part
    ]
    assert not any(mark in t for t in shown for mark in "*`"), shown
    if voice == "cartesia":
        assert any(o.get("spoken_status") == "in-progress" for o in outputs)


async def test_the_transcript_stores_the_line_as_said_and_the_llm_keeps_it_as_written(
    piper_voice, settings, tmp_path
):
    """A Markdown reply through the voice to the assistant aggregator and the recorder."""
    mode = get_mode("system_design")
    store = Store(f"sqlite:///{tmp_path}/t.db")
    interview_id, _ = store.create_interview(mode.id, {}, "openai")
    aggregators = LLMContextAggregatorPair(LLMContext())
    recorder = TranscriptRecorder(store, interview_id, PlanCursor(mode))
    recorder.attach(aggregators, UserBotLatencyObserver())
    pv = FailingVoice(piper_voice, fail_on=None)
    models = SimpleNamespace(piper_voice=pv, piper_lock=threading.Lock(), piper_phrases={})
    tts = InterviewStages(mode, None, models, settings).tts()
    reply = "**Thanks for sharing that.** What was the *hardest* part at 50ms?"
    await run_test(
        Pipeline([tts, PageTransport(), aggregators.assistant()]),
        frames_to_send=[*_reply(reply), SleepFrame(2.0)],
    )
    await recorder.flush()
    [turn] = store.get(interview_id).turns
    assert turn.text == "Thanks for sharing that. What was the hardest part at 50ms?"
    [message] = aggregators.assistant().context.get_messages()
    assert "*hardest*" in message["content"]  # the model is shown its own words
