"""Faults: a refused, failing, broken or stalled LLM endpoint, a failing TTS, a vanishing client.

The interviewer must say a short spoken apology and carry on (or end cleanly), never go
silent. Unit tests drive processors/llm_fallback.py with pipecat's run_test; the slow
tests run the real server and pipeline against the loopback OpenAI stand-in.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time

import pytest
from pipecat.frames.frames import (
    EagerEndOfTurnCancelFrame,
    Frame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test

from processors.frames import InterviewClosedFrame
from processors.llm_fallback import (
    APOLOGY,
    FAREWELL,
    BudgetedOpenAILLMService,
    LLMFallbackProcessor,
)
from tests.standins.openai_server import llm_at

# --- unit: the fallback processor behind a fake LLM --------------------------------


class FakeLLM(FrameProcessor):
    """Answers each context frame per ``script``: "ok", "error", "midstream", "empty" or "stall"."""

    def __init__(self, script: list[str], stall_s: float = 0.6):
        super().__init__()
        self.script = list(script)
        self.stall_s = stall_s

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if not isinstance(frame, LLMContextFrame):
            await self.push_frame(frame, direction)
            return
        how = self.script.pop(0)
        if how == "dropped-error":  # a reply started early failed, and its gate dropped it unheard
            await self.push_error("Error during completion: boom")
            return
        await self.push_frame(LLMFullResponseStartFrame())
        if how in ("ok", "midstream"):
            await self.push_frame(LLMTextFrame("Tell me "))
            await self.push_frame(LLMTextFrame("more."))
        if how == "cut":  # a stream that broke quietly: no error, half a sentence
            await self.push_frame(LLMTextFrame("Hello, I am"))
        if how in ("error", "midstream"):
            await self.push_error("Error during completion: boom")
        if how == "stall":
            await asyncio.sleep(self.stall_s)
            await self.push_frame(LLMTextFrame("Too late."))
        await self.push_frame(LLMFullResponseEndFrame())


def _ctx() -> LLMContextFrame:
    return LLMContextFrame(context=LLMContext(messages=[{"role": "user", "content": "hi"}]))


async def _run(script: list[str], *, timeout_s: float = 5.0, sleep_between: float = 0.05, extra=()):
    llm = FakeLLM(script)
    fallback = LLMFallbackProcessor(llm, timeout_s=timeout_s)
    frames: list[Frame] = []
    for _ in script:
        frames += [_ctx(), SleepFrame(sleep=sleep_between)]
    frames += list(extra)
    down, _ = await run_test(Pipeline([llm, fallback]), frames_to_send=frames)
    return down, fallback


def _spoken(down) -> str:
    return "".join(f.text for f in down if isinstance(f, LLMTextFrame))


async def test_a_good_reply_passes_untouched():
    down, fb = await _run(["ok"])
    assert _spoken(down) == "Tell me more."
    assert fb.apologies == 0


async def test_an_llm_error_becomes_a_spoken_apology_inside_the_reply():
    down, fb = await _run(["error"])
    types = [
        type(f)
        for f in down
        if isinstance(f, (LLMFullResponseStartFrame, LLMTextFrame, LLMFullResponseEndFrame))
    ]
    assert types == [LLMFullResponseStartFrame, LLMTextFrame, LLMFullResponseEndFrame]
    assert _spoken(down) == APOLOGY and fb.apologies == 1


async def test_a_broken_stream_keeps_its_words_and_adds_the_apology():
    down, fb = await _run(["midstream"])
    assert _spoken(down) == f"Tell me more. {APOLOGY}" and fb.apologies == 1


async def test_a_reply_cut_mid_sentence_without_an_error_gets_the_apology(monkeypatch):
    import processors.llm_fallback as fallback_module

    # Checked for LLM services only (a streamed reply); FakeLLM stands in for one here.
    monkeypatch.setattr(fallback_module, "LLMService", FakeLLM)
    down, fb = await _run(["cut"])
    assert _spoken(down) == f"Hello, I am... {APOLOGY}" and fb.apologies == 1
    monkeypatch.undo()
    down, fb = await _run(["cut"])  # scripted text is never second-guessed
    assert _spoken(down) == "Hello, I am" and fb.apologies == 0


async def test_replies_ending_in_punctuation_or_quotes_are_complete():
    from processors.llm_fallback import _cut_off

    for text in ("Tell me more.", "Why?", 'He said "done."', "Great! ", "(as planned)."):
        assert not _cut_off(text), text
    for text in ("Hello, I am", "Thanks for sharing ", "so the"):
        assert _cut_off(text), text


@pytest.mark.parametrize(
    "url,loopback",
    [
        ("http://127.0.0.1:8080/v1", True),
        ("http://localhost:11434/v1", True),
        ("http://[::1]:9000/v1", True),
        ("https://api.openai.com/v1", False),
        ("http://10.0.0.2:8000/v1", False),
        ("https://127.0.0.1:8443/v1", False),  # TLS: the default client, which verifies
        (None, False),  # the openai client's default endpoint
    ],
)
def test_only_a_plain_loopback_endpoint_gets_a_connection_per_request(url, loopback):
    from interviewer.local_llm import plain_loopback

    assert plain_loopback(url) is loopback


async def test_an_empty_reply_is_not_silence():
    down, _ = await _run(["empty"])
    assert _spoken(down) == APOLOGY


async def test_a_stalled_reply_gets_the_apology_and_its_late_words_are_dropped():
    down, fb = await _run(["stall"], timeout_s=0.2, sleep_between=0.8)
    assert _spoken(down) == APOLOGY and fb.apologies == 1
    ends = [f for f in down if isinstance(f, LLMFullResponseEndFrame)]
    assert len(ends) == 1  # ours; the LLM's late end is dropped with its late words


async def test_recovery_resets_the_count_and_repeated_failures_close_the_interview():
    down, fb = await _run(["error", "error", "ok", "error", "error", "error", "ok"])
    closed = [f for f in down if isinstance(f, InterviewClosedFrame)]
    assert len(closed) == 1 and fb.closed
    spoken = _spoken(down)
    assert spoken.count(APOLOGY) == 4 and spoken.count(FAREWELL) == 1
    # The farewell comes after its reply's end frame is queued behind it, then the close.
    idx = [i for i, f in enumerate(down) if isinstance(f, InterviewClosedFrame)][0]
    assert isinstance(down[idx - 1], LLMFullResponseEndFrame)


async def test_an_interruption_cancels_the_watch():
    llm = FakeLLM(["stall"], stall_s=0.5)
    fallback = LLMFallbackProcessor(llm, timeout_s=0.3)
    down, _ = await run_test(
        Pipeline([llm, fallback]),
        frames_to_send=[_ctx(), SleepFrame(sleep=0.1), InterruptionFrame(), SleepFrame(sleep=0.6)],
    )
    assert fallback.apologies == 0


async def test_an_error_in_a_reply_dropped_unheard_is_no_failure_of_the_next():
    """A reply started before the turn ended failed, then the candidate went on (withdrawn)."""
    llm = FakeLLM(["dropped-error", "ok"])
    fallback = LLMFallbackProcessor(llm, timeout_s=5.0)
    frames = [_ctx(), SleepFrame(sleep=0.05), EagerEndOfTurnCancelFrame(), SleepFrame(sleep=0.05)]
    down, _ = await run_test(Pipeline([llm, fallback]), frames_to_send=[*frames, _ctx()])
    assert _spoken(down) == "Tell me more." and fallback.apologies == 0


# --- slow: the real pipeline against the OpenAI stand-in ---------------------------

ANSWER = "I migrated our billing database to Postgres with zero downtime."
GREETING = "Hello, I am your interviewer today. Tell me about a project you are proud of."
FOLLOW_UP = "Thanks for sharing that. What was the hardest part of the migration?"


def _reply(messages):
    return FOLLOW_UP if any(m.get("role") == "user" for m in messages) else GREETING


def _refused_url() -> str:
    with socket.socket() as s:  # a port nobody listens on (bound, then closed)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


async def _interview_with_llm(settings, models, base_url: str, standin=None, switch_to_ok=False):
    """Greeting, one answer, (optionally heal the endpoint) and a second answer."""
    from candidate.session_client import CandidateSession
    from interviewer.audio import synthesize
    from web.cli import LocalServer

    llm_settings = llm_at(settings, base_url)
    pcm = synthesize(models.piper_voice, ANSWER)
    marks = {}
    async with LocalServer(llm_settings, models=models) as server:
        async with CandidateSession(server.url, "technical") as s:
            await s.hear_greeting()  # the greeting (or the apology for it)
            marks["greeting_ms"] = s.log.bot_audio_ms
            await s.answer(pcm)
            marks["answer_ms"] = s.log.bot_audio_ms
            if switch_to_ok and standin is not None:
                standin.mode = "ok"
            await s.answer(pcm)
            marks["second_ms"] = s.log.bot_audio_ms
    return s, marks


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["error", "midstream", "stall"])
async def test_a_failing_llm_endpoint_gets_an_apology_then_recovers(settings, models, mode):
    from tests.standins.openai_server import OpenAIStandIn

    standin = await OpenAIStandIn(_reply, mode=mode).start()
    try:
        s, marks = await _interview_with_llm(
            settings, models, standin.url, standin, switch_to_ok=True
        )
    finally:
        await standin.stop()
    said = " ".join(s.log.texts("interviewer"))
    print(mode, marks, said)
    # Something was heard after each turn: the apology where the endpoint failed.
    assert marks["greeting_ms"] > 1000
    assert marks["answer_ms"] > marks["greeting_ms"] + 1000
    assert marks["second_ms"] > marks["answer_ms"] + 1000
    assert "lost my train of thought" in said
    # Healed: the last answer is the LLM's real follow-up.
    assert "hardest part" in s.log.texts("interviewer")[-1]
    if mode == "error":  # an HTTP error is also reported to the page as an RTVI error
        assert [d for _, d in s.log.of_type("error")]


@pytest.mark.slow
async def test_a_refused_llm_endpoint_apologises_then_closes_cleanly(settings, models):
    s, marks = await _interview_with_llm(settings, models, _refused_url())
    said = s.log.texts("interviewer")
    print(marks, said)
    assert marks["greeting_ms"] > 1000 and marks["answer_ms"] > marks["greeting_ms"] + 1000
    assert any("lost my train of thought" in t for t in said)
    # Third failure in a row: the farewell, then the server ends the session.
    assert "technical trouble" in " ".join(said)
    assert s.log.closed_by_server


class FlakyVoice:
    """The real Piper voice, except that synthesis raises while ``fail`` is set."""

    def __init__(self, voice):
        self._voice = voice
        self.config = voice.config
        self.fail = False
        self.failed = 0

    def synthesize(self, text):
        if self.fail:
            self.failed += 1
            raise RuntimeError(f"injected TTS failure on {text[:30]!r}")
        return self._voice.synthesize(text)


async def _until(condition, timeout_s: float) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout_s`` passes (False)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def _reply_over(session, since: int) -> bool:
    """Since event ``since``: the TTS started and stopped (as often) and the bot is not speaking."""
    kinds = [kind for _, kind, _ in session.log.events[since:]]
    tts = kinds.count("bot-tts-started")
    speaking = kinds.count("bot-started-speaking") - kinds.count("bot-stopped-speaking")
    return tts >= 1 and kinds.count("bot-tts-stopped") == tts and speaking == 0


@pytest.mark.slow
async def test_a_failing_tts_does_not_hang_the_session(settings, models):
    from candidate.session_client import CandidateSession
    from interviewer.audio import synthesize
    from web.cli import LocalServer

    flaky = FlakyVoice(models.piper_voice)
    pcm = synthesize(models.piper_voice, ANSWER)
    async with LocalServer(
        settings, models=dataclasses.replace(models, piper_voice=flaky)
    ) as server:
        async with CandidateSession(server.url, "technical") as s:
            await s.hear_greeting()
            greeting_ms = s.log.bot_audio_ms
            flaky.fail = True  # the reply to the next answer cannot be spoken
            since = len(s.log.events)
            s.speak(pcm)
            await s.drain()
            # Wait for that reply to be over (its TTS failed and stopped), not a fixed time.
            assert await _until(lambda: flaky.failed >= 1 and _reply_over(s, since), 30), (
                "the reply whose speech failed never ended"
            )
            flaky.fail = False
            failed_ms = s.log.bot_audio_ms
            await s.answer(pcm)
            after_ms = s.log.bot_audio_ms
    print(greeting_ms, failed_ms, after_ms, flaky.failed, s.log.texts("interviewer"))
    assert flaky.failed >= 1
    assert after_ms > failed_ms + 1000, "the turn after a TTS failure is answered out loud"
    assert [d for _, d in s.log.of_type("error")], "the client is told about the TTS error"


@pytest.mark.slow
async def test_a_client_vanishing_mid_sentence_frees_its_slot(server, models):
    import httpx

    from candidate.session_client import CandidateSession

    async with httpx.AsyncClient(timeout=10) as http:
        before = (await http.get(f"{server.url}/status")).json()["active_sessions"]
    async with CandidateSession(server.url, "technical") as s:
        await asyncio.wait_for(s.bot_ready.wait(), 30)
        # Wait for the greeting to be mid-sentence, then drop the TCP connection hard.
        for _ in range(200):
            if s.log.bot_audio_ms > 500:
                break
            await asyncio.sleep(0.05)
        assert s.log.bot_audio_ms > 500
        s._ws.transport.abort()  # no close frame: the client just vanishes
        await asyncio.sleep(0.1)
    async with httpx.AsyncClient(timeout=10) as http:
        for _ in range(100):
            status = (await http.get(f"{server.url}/status")).json()
            if status["active_sessions"] <= before:
                break
            await asyncio.sleep(0.1)
    assert status["active_sessions"] <= before, status
    # The server still answers the next candidate.
    async with CandidateSession(server.url, "technical") as s2:
        await s2.hear_greeting()
    assert s2.log.bot_audio_ms > 1000


# --- the OpenAI client gives up with the fallback ------------------------------------


async def test_a_stalled_request_ends_at_the_fallbacks_budget_and_frees_the_llm(
    settings, monkeypatch
):
    """The bot's own factories: the apology and the client's timeout come at the same budget.

    The stalled request must not run on after the apology (the openai client would wait 600 s
    and retry twice), or the candidate's next turn waits behind it in silence.
    """
    import bots.pipeline as pipeline_module
    from bots import get_mode
    from bots.pipeline import InterviewStages
    from tests.standins.openai_server import OpenAIStandIn

    class StallFirst(OpenAIStandIn):
        async def _completions(self, request):
            self.mode = "ok" if self.requests else "stall"
            return await super()._completions(request)

    # The budget starts when the client is asked for a reply, before it connects and sends; the
    # stand-in sees the request only once it has arrived. Note the asks to time the client's wait.
    asked_at: list[float] = []
    ask = BudgetedOpenAILLMService.get_chat_completions

    async def noted_ask(self, context):
        asked_at.append(time.monotonic())
        return await ask(self, context)

    monkeypatch.setattr(BudgetedOpenAILLMService, "get_chat_completions", noted_ask)
    budget_s = 1.0
    monkeypatch.setattr(pipeline_module, "REPLY_BUDGET_S", budget_s)
    standin = await StallFirst().start()
    try:
        llm_settings = llm_at(settings, standin.url)
        stages = InterviewStages(get_mode("technical"), None, None, llm_settings)
        fallback = stages.fallback()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        run = run_test(
            Pipeline([stages.brain(), fallback]),
            frames_to_send=[_ctx(), SleepFrame(sleep=0.2), _ctx(), SleepFrame(sleep=budget_s + 2)],
        )
        # Without the budget the run never ends: its end waits behind the stalled request.
        down, _ = await asyncio.wait_for(run, timeout=budget_s + 15)
        elapsed = loop.time() - t0
    finally:
        await standin.stop()
    assert len(standin.stall_left_at) == 1 and len(asked_at) == 2
    waited = standin.stall_left_at[0] - asked_at[0]
    print(
        f"client waited {waited:.2f} s (stand-in saw {standin.stalled_for[0]:.2f} s), run {elapsed:.1f} s, said {_spoken(down)!r}"
    )
    assert fallback.apologies == 1 and _spoken(down).startswith(APOLOGY)
    # The stalled client hung up at the budget (not 600 s later, and not retried).
    assert 0.8 * budget_s <= waited <= budget_s + 1.0
    assert len(standin.requests) == 2
    # ... so the next turn was answered by the LLM at once.
    assert _spoken(down) == f"{APOLOGY}Thanks for sharing. What was the hardest part?"


async def test_a_quick_failure_is_still_retried_within_the_budget(settings, monkeypatch):
    """A 500 answered at once is retried by the client, inside the budget: no apology needed."""
    import bots.pipeline as pipeline_module
    from bots import get_mode
    from bots.pipeline import InterviewStages
    from tests.standins.openai_server import OpenAIStandIn

    class FailFirst(OpenAIStandIn):
        async def _completions(self, request):
            self.mode = "ok" if self.requests else "error"
            return await super()._completions(request)

    monkeypatch.setattr(pipeline_module, "REPLY_BUDGET_S", 4.0)
    standin = await FailFirst().start()
    try:
        llm_settings = llm_at(settings, standin.url)
        stages = InterviewStages(get_mode("technical"), None, None, llm_settings)
        fallback = stages.fallback()
        down, _ = await run_test(
            Pipeline([stages.brain(), fallback]), frames_to_send=[_ctx(), SleepFrame(sleep=3.0)]
        )
    finally:
        await standin.stop()
    assert len(standin.requests) == 2 and fallback.apologies == 0
    assert _spoken(down) == "Thanks for sharing. What was the hardest part?"
