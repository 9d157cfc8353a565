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
from pipecat.tests.utils import SleepFrame, run_test

from bots import get_mode
from bots.pipeline import InterviewStages
from interviewer.config import load_settings
from interviewer.speech_text import say_as_spoken
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
        # Emphasis left over where a sentence was cut inside it.
        ("**Great question!", "Great question!"),
        ("** Let's go on.", " Let's go on."),
        ("*Why* did you?", "Why did you?"),
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


async def test_piper_never_reads_markdown_out(piper_voice, settings):
    """An OpenAI-compatible LLM's reply in Markdown, cut into sentences inside its bold."""
    voice = FailingVoice(piper_voice, fail_on=None)
    models = SimpleNamespace(piper_voice=voice, piper_lock=threading.Lock(), piper_phrases={})
    tts = InterviewStages(get_mode("system_design"), None, models, settings).tts()
    reply = "**Great question!** Let's talk about `Redis`. What is *your* plan at 10x?"
    await run_test(tts, frames_to_send=_reply(reply))
    assert voice.calls == [
        "Great question!",
        "Let's talk about Redis.",
        "What is your plan at 10 times?",
    ]


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
