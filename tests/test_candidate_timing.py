"""The candidate client times each reply from the end of the voice it sent, whatever the order.

``interviewer replay``, the scenario tests and ``make bench`` read reply latency from
:class:`candidate.session_client.CandidateSession`. These drive its bookkeeping on a clock of
their own, chunk by chunk, with the server's messages in the orders seen over a real socket.
"""

import re
from pathlib import Path

import numpy as np
import pytest

from candidate import voice
from candidate.session_client import CHUNK_BYTES, CHUNK_S, CandidateSession
from interviewer.audio import SAMPLE_RATE, load_pcm16

ROOT = Path(__file__).resolve().parent.parent
AUDIO = ROOT.parent / "shared" / "audio"

CHUNK_MS = int(CHUNK_S * 1000)
LOUD = (np.sin(np.arange(int(SAMPLE_RATE * CHUNK_S)) * 0.2) * 8000).astype(np.int16).tobytes()


class ClockedSession(CandidateSession):
    """A session never connected, on a clock the test moves."""

    def __init__(self):
        super().__init__("http://127.0.0.1:9", "technical")
        self.clock = 0

    def now_ms(self) -> int:
        return self.clock

    def mic(self, voiced: bool, ms: int) -> None:
        """The microphone sends ``ms`` of voice (or silence), chunk by chunk."""
        for _ in range(ms // CHUNK_MS):
            self._note_voicing(voiced)
            self.clock += CHUNK_MS

    def server(self, kind: str) -> None:
        self._on_message({"type": kind})

    def bot_audio(self) -> None:
        self._on_bot_audio(LOUD, SAMPLE_RATE)

    def interviewer(self) -> list:
        return [t for t in self.log.turns if t.role == "interviewer"]


def _answer_with_a_pause(s: ClockedSession) -> int:
    """Voice 1 s, a 600 ms pause, voice 2 s; returns when the voice ended."""
    s.server("user-started-speaking")
    s.mic(True, 1000)
    s.mic(False, 600)
    s.mic(True, 2000)
    return s.clock


@pytest.mark.parametrize("stop_after_ms", [400, 80])
def test_a_reply_is_timed_from_the_end_of_the_voice(stop_after_ms):
    # 80: the server's VAD took the last word's quiet tail for silence, so its turn's end came
    # 80 ms after this client's level fell; the pause 2 s before is not the end it answered.
    s = ClockedSession()
    end = _answer_with_a_pause(s)
    s.mic(False, stop_after_ms)
    s.server("user-stopped-speaking")
    s.mic(False, 100)
    s.bot_audio()
    assert [t.latency_ms for t in s.interviewer()] == [stop_after_ms + 100]
    assert s.interviewer()[0].start_ms == end + stop_after_ms + 100


def test_a_reply_whose_audio_overtook_the_turn_end_keeps_its_latency():
    s = ClockedSession()
    end = _answer_with_a_pause(s)
    s.mic(False, 200)
    s.bot_audio()  # an instant acknowledgement, a few ms ahead of the message
    s.server("bot-started-speaking")
    s.clock += 3
    s.server("user-stopped-speaking")
    s.mic(False, 1000)
    s.bot_audio()
    s.server("bot-stopped-speaking")
    turns = s.interviewer()
    assert len(turns) == 1 and turns[0].latency_ms == 200 and turns[0].start_ms == end + 200
    assert any(kind == "reply-before-turn-end" for _, kind, _ in s.log.events)
    # The next turn's reply is timed from its own end, not taken by the one before.
    s.server("user-started-speaking")
    s.mic(True, 500)
    s.mic(False, 300)
    s.server("user-stopped-speaking")
    s.mic(False, 200)
    s.bot_audio()
    assert [t.latency_ms for t in s.interviewer()] == [200, 500]


def test_a_turn_ended_on_a_pause_the_candidate_resumed_is_timed_from_that_pause():
    # The interviewer cut in: the server ended the turn on a 1.1 s pause just as the voice came
    # back, and the cut-in's latency counts from the pause, not from a breath after it.
    for after_resume in (True, False):
        s = ClockedSession()
        s.server("user-started-speaking")
        s.mic(True, 2000)
        pause = s.clock
        s.mic(False, 1100)
        s.mic(True, 140)
        if after_resume:
            s.mic(False, 60)  # a breath between words as the message arrives
        s.server("user-stopped-speaking")
        s.bot_audio()
        assert [t.latency_ms for t in s.interviewer()] == [s.clock - pause], after_resume


def test_a_talked_over_replys_late_chunks_do_not_take_the_next_replys_turn():
    s = ClockedSession()
    s.server("user-started-speaking")
    s.mic(True, 1000)
    s.mic(False, 300)
    s.server("user-stopped-speaking")
    s.bot_audio()  # a reply starts ...
    s.server("bot-started-speaking")
    s.server("user-started-speaking")  # ... the candidate goes on over it
    s.server("bot-interrupted")
    s.server("bot-stopped-speaking")
    s.clock += 20
    s.bot_audio()  # a chunk that was already on its way
    s.mic(True, 1500)
    end = s.clock
    s.mic(False, 300)
    s.server("user-stopped-speaking")
    s.mic(False, 200)
    s.bot_audio()
    s.server("bot-started-speaking")
    s.mic(False, 1000)
    s.bot_audio()
    s.server("bot-stopped-speaking")
    turns = s.interviewer()
    assert turns[-1].latency_ms == 500 and turns[-1].start_ms == end + 500
    assert turns[-1].end_ms is not None and turns[-1].end_ms > turns[-1].start_ms
    assert len(turns) == 3 and turns[0].interrupted


def _play(s: ClockedSession, path: str, paced: bool = True) -> None:
    """The microphone sends a recording, chunk by chunk (``paced``: 20 ms apart, else at once)."""
    pcm = load_pcm16(path)
    for i in range(0, len(pcm) - CHUNK_BYTES + 1, CHUNK_BYTES):
        s._hear_mic(pcm[i : i + CHUNK_BYTES], speech=True)
        s.clock += CHUNK_MS if paced else 0


def test_a_recordings_clicks_after_its_last_word_are_not_the_end_of_the_voice():
    # beckett.wav's "Fail better." ends at 8.74 s; sounds over -45 dBFS (breath, the room) come
    # until 9.84 s, and two_cities.wav has a mouth click 1.4 s after its last word (41.5 s).
    for name, last_word_ms in (("beckett.wav", 8740), ("two_cities.wav", 41480)):
        s = ClockedSession()
        s.server("user-started-speaking")
        _play(s, str(AUDIO / name))
        s.server("user-stopped-speaking")
        s.clock += 50
        s.bot_audio()
        reply = s.interviewer()[0]
        assert last_word_ms <= reply.start_ms - reply.latency_ms <= last_word_ms + 60, name


def test_the_voice_rule_is_the_pages():
    page = (ROOT / "web/client/src/progress.ts").read_text()
    for name in ("VOICE_LEVEL", "VOICE_HOLD_LEVEL", "VOICE_RUN_MS", "VOICE_GAP_MS"):
        m = re.search(rf"const {name} = ([0-9.]+);", page)
        assert m and float(m[1]) == getattr(voice, name), name
    assert "Math.min(1, rms * 4)" in (ROOT / "web/client/src/media.ts").read_text()
    loud = np.full(320, 0.2 * 32768 / 4, dtype=np.int16).tobytes()
    assert abs(voice.mic_level(loud) - 0.2) < 1e-3
    # A click (40 ms) is not voice; a word (120 ms and more) is, from its 7th reading.
    v = voice.MicVoice()
    assert not any(v.hear(0.5, t) for t in (0, 20))
    assert not v.hear(0.0, 40)
    assert [v.hear(0.5, t) for t in range(1000, 1140, 20)] == [False] * 6 + [True]
    assert v.hear(0.04, 1160) and not v.hear(0.02, 1180)  # held above the hold level
    assert v.hear(0.07, 1300)  # right after the voice (the dip between syllables)


def test_speech_sent_late_and_at_once_is_still_voice():
    # A busy event loop (another client flooding the server from the same loop, in
    # tests/test_robustness.py) sent a whole answer in one burst: by the wall clock no word
    # lasted 120 ms, nothing was voice, and the client took the greeting for the reply.
    s = ClockedSession()
    s.clock = 5000
    _play(s, str(AUDIO / "beckett.wav"), paced=False)
    assert s._last_voiced_ms == 5000
