"""The stretch models: Moonshine tiny-en (the default) and Whisper (``STT_MODEL=tiny.en``).

Moonshine encodes only the audio it is given, so a stretch's words come in a fraction of
Whisper's time (``benchmarks/final_words.py``). These tests hear real recorded speech: on the
shared transcriber one decode at a time (two at once garble each other's text), in the default
bank with live words on a transcriber of their own, and Whisper, the other choice, through the
real server with its stored turn decoded again once the reply has ended.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from interviewer.audio import load_pcm16

AUDIO = Path(__file__).resolve().parent.parent.parent / "shared" / "audio"


def _words(text: str) -> set[str]:
    return {w.strip(".,;:!?\"'").lower() for w in text.split()} - {""}


def test_two_sessions_decoding_at_once_each_get_their_own_words():
    from interviewer.moonshine import MoonshineLoad, load_moonshine_tiny

    load = MoonshineLoad(load_moonshine_tiny())
    cities = load_pcm16(AUDIO / "two_cities.wav")[2 * 16_000 : 2 * 16_000 * 5]
    beckett = load_pcm16(AUDIO / "beckett.wav")[: 2 * 16_000 * 8]
    heard: dict[str, str] = {}
    start = threading.Barrier(2)

    def hear(name: str, pcm: bytes) -> None:
        start.wait()
        heard[name] = load.words(pcm)

    threads = [
        threading.Thread(target=hear, args=("cities", cities)),
        threading.Thread(target=hear, args=("beckett", beckett)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert {"best", "times", "worst"} <= _words(heard["cities"]), heard
    assert {"matter", "try", "again"} <= _words(heard["beckett"]), heard
    assert load.running == 0 and load.idle


async def test_the_stock_comparison_hears_with_the_same_model_offline():
    """`make bench`'s stock pipecat server runs pipecat's Moonshine service on the packaged model.

    Its own loader would fetch the model from Moonshine's hub, out of reach offline (the bench
    died there once Moonshine became the default).
    """
    from pipecat.frames.frames import TranscriptionFrame
    from pipecat.services.moonshine.stt import MoonshineSTTService

    from benchmarks.stock_server import stock_stt
    from interviewer.config import load_settings
    from interviewer.models import MOONSHINE

    stt = stock_stt(load_settings(STT_MODEL=MOONSHINE))
    assert isinstance(stt, MoonshineSTTService)
    pcm = load_pcm16(AUDIO / "beckett.wav")[: 2 * 16_000 * 5]
    frames = [f async for f in stt.run_stt(pcm)]
    text = " ".join(f.text for f in frames if isinstance(f, TranscriptionFrame))
    assert {"tried", "failed", "matter"} <= _words(text), text


async def test_each_stretch_ends_with_word_that_it_is_transcribed_even_without_words():
    """pipecat's STT sends nothing for a stretch without words; ours then says it is done, so
    the turn strategy need not wait out the STT's p99 timeout for a cough or a click."""
    from pipecat.frames.frames import TranscriptionFrame

    from interviewer.moonshine import MoonshineLoad, load_moonshine_tiny
    from processors.frames import StretchTranscribedFrame
    from processors.local_services import SharedMoonshineSTTService

    stt = SharedMoonshineSTTService(model=MoonshineLoad(load_moonshine_tiny()))
    speech = load_pcm16(AUDIO / "beckett.wav")[: 2 * 16_000 * 3]
    click = load_pcm16(AUDIO / "two_cities.wav")[-2 * 16_000 * 3 // 2 : -2 * 16_000 * 5 // 4]
    for pcm, words in ((speech, True), (click, False), (b"\0" * 16_000, False)):
        frames = [f async for f in stt.run_stt(pcm)]
        heard = " ".join(f.text for f in frames if isinstance(f, TranscriptionFrame))
        assert isinstance(frames[-1], StretchTranscribedFrame), frames
        assert frames[-1].text == heard and bool(heard) is words, frames


async def test_a_bare_word_moonshine_misses_is_heard_by_the_second_opinion():
    """A real "No." (endgame_nagg_nell.wav's last word) placed in its stretch where Moonshine
    hears nothing: Whisper tiny.en, the second opinion, hears it; in a click or in silence it
    hears nothing either."""
    from faster_whisper import WhisperModel
    from pipecat.frames.frames import TranscriptionFrame

    from interviewer.audio import silence
    from interviewer.config import load_settings
    from interviewer.models import whisper_model_folder
    from interviewer.moonshine import MoonshineLoad, load_moonshine_tiny
    from processors.frames import StretchTranscribedFrame
    from processors.local_services import SharedMoonshineSTTService

    moonshine = MoonshineLoad(load_moonshine_tiny())
    whisper = WhisperModel(
        str(whisper_model_folder(load_settings(), "tiny.en")), device="cpu", compute_type="int8"
    )
    alone = SharedMoonshineSTTService(model=moonshine)
    stt = SharedMoonshineSTTService(model=moonshine, second_opinion=whisper)

    async def heard(service, pcm: bytes) -> str:
        frames = [f async for f in service.run_stt(pcm)]
        assert isinstance(frames[-1], StretchTranscribedFrame), frames
        words = " ".join(f.text for f in frames if isinstance(f, TranscriptionFrame))
        assert frames[-1].text == words
        return words

    no = silence(0.35) + load_pcm16(AUDIO / "endgame_nagg_nell.wav")[-int(0.45 * 16_000) * 2 :]
    no += silence(0.3)
    assert await heard(alone, no) == ""  # Moonshine's miss
    assert _words(await heard(stt, no)) & {"no", "nope"}
    click = load_pcm16(AUDIO / "two_cities.wav")[-2 * 16_000 * 3 // 2 : -2 * 16_000 * 5 // 4]
    assert await heard(stt, silence(0.5) + click + silence(0.3)) == ""
    assert await heard(stt, b"\0" * 32_000) == ""


@pytest.mark.slow
def test_by_default_moonshine_hears_the_stretches_and_the_live_words(models):
    from interviewer.moonshine import MoonshineLiveWords, MoonshineLoad

    assert models.whisper is None and isinstance(models.moonshine, MoonshineLoad)
    assert models.stt_load is models.moonshine
    assert isinstance(models.live_words, MoonshineLiveWords)
    beckett = load_pcm16(AUDIO / "beckett.wav")
    assert {"matter", "try", "again"} <= _words(models.moonshine.words(beckett))


@pytest.fixture(scope="module")
def whisper_server(tmp_path_factory):
    from interviewer.config import load_settings
    from interviewer.models import ModelBank
    from tests.conftest import ThreadedServer

    db = tmp_path_factory.mktemp("db") / "interviews.db"
    settings = load_settings(DATABASE_URL=f"sqlite:///{db}", STT_MODEL="tiny.en")
    bank = ModelBank.load(settings)
    srv = ThreadedServer(settings, bank).start()
    yield srv, bank
    srv.stop()
    bank.close()


@pytest.mark.slow
async def test_with_stt_model_tiny_en_whisper_hears_the_stretches_through_the_real_server(
    whisper_server,
):
    """The other stretch model, real speech (two_cities, its first 21 s) through the real server.

    (The default, Moonshine, goes the same way in tests/test_final_words.py.)
    """
    from benchmarks.final_words import errors
    from candidate.session_client import CandidateSession
    from interviewer.audio import SAMPLE_RATE, silence
    from interviewer.final_words import FinalWords
    from interviewer.whisper_load import WhisperLoad
    from tests.test_final_words import CITIES

    srv, bank = whisper_server
    assert bank.moonshine is None and isinstance(bank.whisper, WhisperLoad)
    assert isinstance(bank.live_words, FinalWords)
    live_decodes = bank.live_words.decoded
    clip = load_pcm16(AUDIO / "two_cities.wav")[: 2 * SAMPLE_RATE * 21]
    async with CandidateSession(srv.url, "technical") as s:
        assert await s.hear_greeting()
        sent_at = s.now_ms()
        assert await s.answer(clip + silence(1.0))
        deadline = time.monotonic() + 30
        while not [m for m in s.log.server_messages if m.get("type") == "final-words"]:
            assert time.monotonic() < deadline, "no final words came"
            await asyncio.sleep(0.05)
        [told] = [m for m in s.log.server_messages if m.get("type") == "final-words"]
        [started] = [m for m in s.log.server_messages if m.get("state") == "started"]
        replies = [t for t in s.log.turns if t.role == "interviewer" and t.start_ms > sent_at]
    said = s.log.of_type("user-transcription")
    interim = [t for t, d in said if t > sent_at and not d.get("final")]
    final = [t for t, d in said if t > sent_at and d.get("final")]
    assert interim and final and interim[0] < final[-1], "no live words while the candidate spoke"
    assert bank.live_words.decoded > live_decodes
    assert replies, "the interviewer did not reply"
    stored = srv.app.state.store.get_by_token(started["report_url"].rsplit("/", 1)[1])
    [answer] = [t.text for t in stored.turns if t.role == "candidate"]
    live_errors, final_errors = errors(CITIES, told["live"])[0], errors(CITIES, answer)[0]
    print(f"tiny.en {live_errors} errors: {told['live']!r}\nstored {final_errors}: {answer!r}")
    assert {"best", "times", "worst", "wisdom"} <= _words(told["live"])
    assert answer == " ".join(told["text"].split()) and final_errors < live_errors
