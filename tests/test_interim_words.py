"""Live words: while the candidate talks, the page gets interim transcripts of what they say.

Real recorded speech (two_cities.wav, long stretches without a pause) through the real
server: interim ``user-transcription`` messages arrive while the candidate is still talking,
before that stretch's final transcript, and they are the words being said.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from candidate.session_client import CandidateSession
from interviewer.audio import load_pcm16

pytestmark = pytest.mark.slow

AUDIO = Path(__file__).resolve().parent.parent.parent / "shared" / "audio"


def _words(text: str) -> set[str]:
    return {w.strip(".,;:!?\"'").lower() for w in text.split()} - {""}


async def test_the_page_gets_the_words_while_the_candidate_is_still_talking(server):
    pcm = load_pcm16(AUDIO / "two_cities.wav")
    async with CandidateSession(server.url, "technical") as s:
        await s.hear_greeting()
        sent_at = s.now_ms()
        s.speak(pcm[: 2 * 16_000 * 12])  # its first 12 seconds
        await s.drain()
        done_at = s.now_ms()
        await s.wait_bot_done(timeout_s=60)
    said = s.log.of_type("user-transcription")
    interim = [(t, d) for t, d in said if t > sent_at and not d.get("final")]
    final = [(t, d) for t, d in said if t > sent_at and d.get("final")]
    assert interim, "no interim words while the candidate spoke"
    assert final, "no final transcript"
    # Live: interim words came while the candidate was still talking, each stretch's final after.
    assert interim[0][0] < done_at
    assert final[-1][0] > interim[-1][0]
    # And they are the candidate's words, which the final transcript confirms.
    heard = " ".join(d["text"] for _, d in final)
    for _, d in interim:
        words = _words(d["text"])
        assert len(words & _words(heard)) >= len(words) / 2, (
            f"interim {d['text']!r} is not what the final transcript heard: {heard!r}"
        )
    print(
        f"{len(interim)} interim transcripts, first {interim[0][0] - sent_at} ms after speech began"
    )
