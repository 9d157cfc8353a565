"""A bare "Yes." or "No." is heard: real speech through the real server, pipeline and WebSocket.

The last word of endgame_nagg_nell.wav, "No.", holds about 0.2 s of voice. pipecat's VAD, with
its 0.2 s start, never started on it: no stretch, no words, no reply (on the old code this
test's candidate turn never started). The VAD is fast and tested alone in
tests/test_inline_vad.py, and the second opinion on a word Moonshine misses in
tests/test_moonshine.py; here the word must reach the transcript and get a reply, wherever it
falls in the 20 ms chunks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ENDGAME = Path(__file__).resolve().parents[2] / "shared" / "audio" / "endgame_nagg_nell.wav"


@pytest.mark.slow
async def test_a_bare_no_gets_a_reply(server):
    """On the server's defaults (``VAD_LISTENING_START_SECS=0.1`` while the candidate has the floor)."""
    from candidate.session_client import CandidateSession
    from interviewer.audio import load_pcm16, silence

    no = load_pcm16(ENDGAME)[-int(0.6 * 16_000) * 2 :] + silence(0.3)
    leads = (0.0, 0.17, 0.33)  # where the word falls in the VAD's and the STT's windows
    async with CandidateSession(server.url, "technical", {"name": "Ada"}) as s:
        assert await s.hear_greeting()
        replied = [await s.answer(silence(lead) + no, timeout_s=15) for lead in leads]
    print([(t.role, t.text) for t in s.log.turns])
    said = [t.text for t in s.log.turns if t.role == "candidate"]
    assert len(said) == len(leads) and all("no" in t.lower() for t in said), said
    assert all(replied) and len(s.log.replies()) == len(leads), s.log.turns
