"""Each candidate turn decoded again as a whole: which stretches make a turn, and when it runs."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest

from interviewer import final_words
from interviewer.final_words import Stretch, TurnRedecoder, take_turn
from tests.pg import db_url, postgres  # noqa: F401  (fixtures)

AUDIO = Path(__file__).resolve().parent.parent.parent / "shared" / "audio"


def _stretches(*texts: str) -> list[Stretch]:
    return [Stretch(bytes([i]) * 4, t) for i, t in enumerate(texts)]


def test_a_turn_takes_the_stretches_whose_words_make_it():
    stretches = _stretches("So we used Redis,", "and then Kafka.", "Next answer.")
    turn = take_turn(stretches, "So we used Redis, and then Kafka.")
    assert [s.text for s in turn] == ["So we used Redis,", "and then Kafka."]
    assert [s.text for s in stretches] == ["Next answer."]  # left for the turn after


def test_case_punctuation_and_spacing_do_not_matter():
    stretches = _stretches("so we used redis", "AND THEN  kafka")
    assert take_turn(stretches, "So we used Redis, and then Kafka.") is not None
    assert stretches == []


def test_stretches_that_do_not_add_up_to_the_turn_give_nothing():
    # A transcript that reached the turn late: its words are not the turn's.
    stretches = _stretches("So we used Redis,", "something else")
    assert take_turn(stretches, "So we used Redis, and then Kafka.") is None
    assert stretches == []  # dropped: kept, they would spoil every turn after this one
    stretches = _stretches("something else", "Next answer.")
    assert take_turn(stretches, "Next answer.") is None and stretches == []
    assert take_turn(_stretches("Hello."), "") is None
    assert take_turn([], "Hello.") is None


class Decoder:
    """The decoder's interface (FinalWords) with its answers given; records what it was asked."""

    def __init__(self, answer: str | None):
        self.answer = answer
        self.asked: list[bytes] = []
        self.started = asyncio.Event()

    async def decode(self, pcm: bytes, hotwords: str | None = None) -> str | None:
        self.asked.append(pcm)
        self.started.set()
        return self.answer


async def _redecoder(answer: str | None):
    got: list[tuple[int, str, str]] = []

    async def on_final(seq: int, live: str, final: str) -> None:
        got.append((seq, live, final))

    decoder = Decoder(answer)
    return TurnRedecoder(decoder, on_final), decoder, got


async def test_the_turn_is_decoded_once_the_reply_has_ended_and_better_words_handed_on():
    redecoder, decoder, got = await _redecoder("It was the epoch of belief.")
    redecoder.stretch(b"\x01\x00" * 8, "that was the epoch")
    redecoder.stretch(b"\x02\x00" * 8, "of belief.")
    redecoder.turn_ended()
    redecoder.turn_stored(3, "that was the epoch of belief.")
    await asyncio.sleep(0.1)
    assert decoder.asked == []  # the reply is still being said: nothing competes with it
    redecoder.reply_done()
    await asyncio.wait_for(decoder.started.wait(), 1)
    await redecoder.settle(1)
    assert decoder.asked == [b"\x01\x00" * 8 + b"\x02\x00" * 8]  # the whole turn, in order
    assert got == [(3, "that was the epoch of belief.", "It was the epoch of belief.")]


def test_a_long_turn_is_cut_into_pieces_of_whole_stretches_within_a_window():
    from interviewer.final_words import pieces

    turn = [Stretch(c * n, c.decode()) for c, n in ((b"a", 10), (b"b", 15), (b"c", 8), (b"d", 40))]
    turn.append(Stretch(b"e" * 5, "e"))
    # A stretch longer than the window is a piece of its own (Whisper gets timestamps for it).
    assert pieces(turn, window_bytes=30) == [b"a" * 10 + b"b" * 15, b"c" * 8, b"d" * 40, b"e" * 5]
    assert pieces(turn[:2], window_bytes=30) == [b"a" * 10 + b"b" * 15]
    assert pieces([], window_bytes=30) == []


@pytest.mark.parametrize("second, stored", [("Two.", ["One. Two."]), (None, [])])
async def test_each_piece_is_decoded_and_a_busy_decoder_leaves_the_live_words(second, stored):
    class Pieces(Decoder):
        async def decode(self, pcm, hotwords=None):
            self.asked.append(len(pcm))
            return " One. " if len(self.asked) == 1 else second

    got = []

    async def on_final(seq: int, live: str, final: str) -> None:
        got.append(final)

    decoder = Pieces(None)
    redecoder = TurnRedecoder(decoder, on_final)
    twenty_s = 20 * 16_000 * 2
    redecoder.stretch(b"\x01\x00" * (twenty_s // 2), "Won.")
    redecoder.stretch(b"\x02\x00" * (twenty_s // 2), "Too.")
    redecoder.turn_ended()
    redecoder.turn_stored(1, "Won. Too.")
    redecoder.reply_done()
    await redecoder.settle(1)
    assert decoder.asked == [twenty_s, twenty_s]  # 40 s: two pieces, one stretch each
    assert got == stored


async def test_a_turn_without_a_reply_is_decoded_after_a_while(monkeypatch):
    monkeypatch.setattr(final_words, "REPLY_WAIT_SECS", 0.05)
    redecoder, decoder, got = await _redecoder("Ever tried.")
    redecoder.stretch(b"\x01\x00", "Never tried.")
    redecoder.turn_ended()
    redecoder.turn_stored(1, "Never tried.")
    await asyncio.wait_for(decoder.started.wait(), 1)
    await redecoder.settle(1)
    assert got == [(1, "Never tried.", "Ever tried.")]


@pytest.mark.parametrize("answer", [None, "", "never  TRIED"])
async def test_no_better_words_change_nothing(answer):
    # None: the decoder was busy; "": it heard nothing; the same words, written otherwise.
    redecoder, decoder, got = await _redecoder(answer)
    redecoder.stretch(b"\x01\x00", "Never tried.")
    redecoder.turn_ended()
    redecoder.turn_stored(1, "Never tried.")
    redecoder.reply_done()
    await redecoder.settle(1)
    assert decoder.asked and got == []


async def test_at_the_end_a_slow_decode_is_given_up():
    class Slow(Decoder):
        async def decode(self, pcm, hotwords=None):
            self.started.set()
            await asyncio.sleep(10)
            return "late"

    got = []

    async def on_final(*args):
        got.append(args)

    decoder = Slow(None)
    redecoder = TurnRedecoder(decoder, on_final)
    redecoder.stretch(b"\x01\x00", "Hello there.")
    redecoder.turn_ended()
    redecoder.turn_stored(1, "Hello there.")
    loop = asyncio.get_running_loop()
    began = loop.time()
    await redecoder.settle(0.2)  # the session ended: no reply will come, decode now or never
    assert decoder.started.is_set() and got == []
    assert loop.time() - began < 5


# --- the recorder hands the better words on: the database, the LLM's context, the page ----


async def test_the_recorder_stores_the_final_words_and_puts_them_in_the_context(tmp_path):
    from pipecat.observers.user_bot_latency_observer import UserBotLatencyObserver
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair

    from bots import get_mode
    from interviewer.plan import PlanCursor
    from interviewer.store import Store, now_utc
    from processors.transcript_recorder import TranscriptRecorder

    store = Store(f"sqlite:///{tmp_path / 'fw.db'}")
    iid, _ = store.create_interview("technical", {"name": "Ada"}, "scripted")
    live = "that was the epoch   of belief."
    context = LLMContext(
        messages=[
            {"role": "assistant", "content": "Tell me about a project."},
            {"role": "user", "content": live},
            {"role": "assistant", "content": "Thanks."},
        ]
    )
    told = []

    async def notify(message: dict) -> None:
        told.append(message)

    recorder = TranscriptRecorder(store, iid, PlanCursor(get_mode("technical")))
    recorder.attach(LLMContextAggregatorPair(context), UserBotLatencyObserver(), notify=notify)
    seq = store.add_turn(iid, "candidate", live, now_utc(), now_utc(), question_index=0)
    await recorder.final_words(seq, live, " It was the epoch of belief. ")
    await recorder.flush()
    assert [t.text for t in store.get(iid).turns] == ["It was the epoch of belief."]
    assert context.get_messages()[1] == {"role": "user", "content": "It was the epoch of belief."}
    assert told == [{"type": "final-words", "live": live, "text": "It was the epoch of belief."}]
    assert store.update_turn_text(iid, 99, "no such turn") is False


def test_a_turn_s_words_are_replaced_on_both_databases(db_url):  # noqa: F811
    from interviewer.store import Store, now_utc

    store = Store(db_url)
    iid, _ = store.create_interview("technical", {"name": "Ada"}, "scripted")
    other, _ = store.create_interview("technical", {"name": "Bo"}, "scripted")
    for interview in (iid, other):
        for text in ("Hello.", "that was the epoch", "Thanks."):
            store.add_turn(interview, "candidate", text, now_utc(), now_utc())
    assert store.update_turn_text(iid, 1, "It was the epoch")
    assert [t.text for t in store.get(iid).turns] == ["Hello.", "It was the epoch", "Thanks."]
    assert [t.text for t in store.get(other).turns] == ["Hello.", "that was the epoch", "Thanks."]
    assert not store.update_turn_text(iid, 7, "none")


# --- the real decoder, and a real interview --------------------------------------------

CITIES = "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, it was the season of Darkness, it was the spring of hope, it was the winter of despair,"  # fmt: skip


@pytest.mark.slow
async def test_a_busy_decoder_refuses_rather_than_falling_behind(models):
    from interviewer.audio import load_pcm16

    decoder = models.final_words
    assert decoder is not None  # on by default (STT_FINAL_MODEL=tiny.en)
    pcm = load_pcm16(AUDIO / "beckett.wav")
    refused = decoder.refused
    got = await asyncio.gather(*(decoder.decode(pcm) for _ in range(final_words.MAX_WAITING + 1)))
    assert got[-1] is None and decoder.refused == refused + 1  # the one beyond the queue
    for text in got[:-1]:
        assert "fail better" in text.lower()


def _stretches_as_heard(pcm: bytes) -> list[bytes]:
    """The stretches of a recording as the STT hands them on: up to 0.8 s before the speech
    (pipecat's pre-roll, less the VAD's start), 0.2 s after it (the VAD's stop), then silence."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    from interviewer.audio import STRETCH_TRAILING_SILENCE_SECS, silence

    audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768
    vad = VadOptions(min_silence_duration_ms=200, speech_pad_ms=0, min_speech_duration_ms=100)
    out, end = [], 0
    for speech in get_speech_timestamps(audio, vad):
        start = max(end, speech["start"] - 12_800)
        end = min(len(audio), speech["end"] + 3_200)
        out.append(pcm[2 * start : 2 * end] + silence(STRETCH_TRAILING_SILENCE_SECS))
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    "recording, where, lost, also_lost",
    # Spliced as the STT hands them on, both run past Whisper's 30 s window; decoded without
    # timestamps, tiny.en lost "...direct to Heaven" (and "...the other way") in two_cities.wav,
    # and in endgame_nagg_nell.wav "Do you remember" and the closing "No." (tiny.en may write
    # "Nope."; the recording has another "No," earlier, so it is looked for at the end).
    [
        ("two_cities.wav", slice(None), {"heaven"}, "other"),
        ("endgame_nagg_nell.wav", slice(-3, None), {"no", "nope"}, "remember"),
    ],
)
async def test_a_turn_longer_than_whisper_s_window_keeps_every_stretch(
    models, recording, where, lost, also_lost
):
    from interviewer.audio import load_pcm16

    stretches = _stretches_as_heard(load_pcm16(AUDIO / recording))
    assert sum(len(pcm) for pcm in stretches) > final_words.WINDOW_BYTES
    got: list[str] = []

    async def on_final(seq: int, live: str, final: str) -> None:
        got.append(final)

    redecoder = TurnRedecoder(models.final_words, on_final)
    live = []
    for pcm in stretches:
        live.append(models.moonshine.words(pcm))
        redecoder.stretch(pcm, live[-1])
    redecoder.turn_ended()
    redecoder.turn_stored(1, " ".join(live))
    redecoder.reply_done()
    await redecoder.settle(60)
    [final] = got
    print(f"live: {' '.join(live)!r}\nfinal: {final!r}")
    said = [w.lower() for w in final_words.words(final)]
    assert lost & set(said[where]), final
    assert also_lost in said, final


@pytest.mark.slow
async def test_a_real_answer_is_stored_with_the_whole_turn_decoded_again(server):
    """Real speech with short pauses (two_cities, its first 21 s) through the real server."""
    from benchmarks.final_words import errors
    from candidate.session_client import CandidateSession
    from interviewer.audio import SAMPLE_RATE, load_pcm16, silence

    clip = load_pcm16(AUDIO / "two_cities.wav")[: 2 * SAMPLE_RATE * 21]
    async with CandidateSession(server.url, "technical") as s:
        assert await s.hear_greeting()
        assert await s.answer(clip + silence(1.0))
        deadline = time.monotonic() + 30
        while not [m for m in s.log.server_messages if m.get("type") == "final-words"]:
            assert time.monotonic() < deadline, "no final words came"
            await asyncio.sleep(0.05)
        [told] = [m for m in s.log.server_messages if m.get("type") == "final-words"]
        [started] = [m for m in s.log.server_messages if m.get("state") == "started"]
        page = [t.text for t in s.log.turns if t.role == "candidate"]
    store = server.app.state.store
    stored = store.get_by_token(started["report_url"].rsplit("/", 1)[1])
    [answer] = [t.text for t in stored.turns if t.role == "candidate"]
    # Stretch by stretch, Whisper loses the sentence ("that was the epoch of incredulity");
    # the whole turn again gets more of it right, and that is what is stored and shown.
    live_errors, final_errors = errors(CITIES, told["live"])[0], errors(CITIES, answer)[0]
    print(f"live {live_errors} errors: {told['live']!r}\nstored {final_errors}: {answer!r}")
    assert answer == " ".join(told["text"].split()) and final_errors < live_errors
    assert page == [answer]  # the page's transcript shows the stored words
