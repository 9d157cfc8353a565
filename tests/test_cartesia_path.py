"""The Cartesia TTS path, against a loopback WebSocket stand-in (real CartesiaTTSService code)."""

import pytest

from candidate.session_client import CandidateSession
from interviewer.audio import synthesize
from tests.standins.cartesia_server import CartesiaStandIn
from web.cli import LocalServer

pytestmark = pytest.mark.slow


def _cartesia(settings, standin: CartesiaStandIn):
    """The settings with Cartesia's voice, reached at the stand-in."""
    return settings.model_copy(
        update={
            "tts": "cartesia",
            "cartesia_api_key": "ck-test",
            "cartesia_voice_id": "voice-standin",
            "cartesia_url": standin.url,
        }
    )


def _words(text: str) -> list[str]:
    return "".join(c.lower() if c.isalnum() or c.isspace() else " " for c in text).split()


async def test_cartesia_voice_speaks_the_interview(settings, models):
    standin = await CartesiaStandIn().start()
    try:
        tts_settings = _cartesia(settings, standin)
        async with LocalServer(tts_settings, models=models) as server:
            async with CandidateSession(server.url, "technical", {"name": "Ada"}) as s:
                assert await s.hear_greeting()
                greeting_requests = len(standin.requests)
                assert await s.answer(
                    synthesize(
                        models.piper_voice,
                        "I rebuilt our deployment pipeline and cut release time in half.",
                    )
                )
    finally:
        await standin.stop()

    # The real service opened the socket with Cartesia's auth and version headers.
    assert standin.handshakes and standin.handshakes[0]["X-API-Key"] == "ck-test"
    assert standin.handshakes[0]["Cartesia-Version"] == "2026-03-01"
    assert standin.handshakes[0]["path"] == "/tts/websocket"
    first = standin.requests[0]
    assert first["voice"] == {"mode": "id", "id": "voice-standin"}
    assert first["output_format"] == {
        "container": "raw",
        "encoding": "pcm_s16le",
        "sample_rate": 24000,
    }
    assert first["add_timestamps"] is True
    # Both the greeting and the reply to the candidate were sent to be spoken...
    assert 0 < greeting_requests < len(standin.requests)
    spoken = " ".join(standin.transcripts)
    # What the page shows as said comes from Cartesia's word timestamps: RTVI bot-output
    # segments reach spoken_status "completed" (word-timed TTS sends no "spoken": true).
    said = [
        d["text"]
        for _, kind, d in s.log.events
        if kind == "bot-output" and d.get("spoken_status") == "completed"
    ]
    assert len(said) >= 2 and "Ada" in said[0]
    assert _words(" ".join(said)) == _words(spoken)
    # Its audio reached the candidate through the transport.
    assert standin.audio_bytes_sent > 0
    received_bytes = s.log.bot_audio_ms / 1000 * 24000 * 2
    assert received_bytes >= 0.9 * standin.audio_bytes_sent
    print(
        f"\ncartesia stand-in: {len(standin.requests)} requests, {standin.audio_bytes_sent} audio bytes sent; "
        f"client received {s.log.bot_audio_ms:.0f} ms of bot audio ({received_bytes:.0f} bytes)"
    )


async def test_a_sentence_cartesia_fails_is_said_again_in_the_interview(settings, models):
    """The bot's own voice stage retries: the greeting's question, failed once, is still heard."""
    standin = await CartesiaStandIn(fail_on="project", fail_times=1).start()
    try:
        tts_settings = _cartesia(settings, standin)
        async with LocalServer(tts_settings, models=models) as server:
            async with CandidateSession(server.url, "technical", {"name": "Ada"}) as s:
                assert await s.hear_greeting()
    finally:
        await standin.stop()
    asked = [r for r in standin.requests if "project" in r.get("transcript", "")]
    assert len(asked) >= 2, standin.requests  # failed once, then sent again...
    voiced = [r for r in asked if r["context_id"] not in standin.failed]
    assert voiced and standin.fail_times == 0  # ...on a fresh context, which was voiced
    said = " ".join(
        d["text"]
        for _, kind, d in s.log.events
        if kind == "bot-output" and d.get("spoken_status") == "completed"
    )
    assert "project" in said.lower(), said  # the first question was heard after all
