"""A network that stalls in the candidate's pause does not end their turn for them.

Over a WebSocket (TCP), a lost packet holds back everything after it: the server hears the
candidate stop, then nothing, then the held audio at once. The turn's end is a deadline on the
server's clock; counted on that clock alone, a stall longer than the wait ends the turn while the
candidate is already talking again, and the interviewer cuts in. Through the real server,
pipeline and WebSocket: the candidate pauses 0.6 s between two sentences of one answer, and the
network holds their audio back for 1.5 s, from 0.3 s into the pause.
"""

from __future__ import annotations

import pytest

FIRST = "At my last job I led the rebuild of our search service."
SECOND = "The hard part was moving eighty million documents without any downtime."
PAUSE_SECS = 0.6
HOLD_FROM_SECS = 0.3  # into the pause: the server's VAD has heard the candidate stop
HOLD_SECS = 1.5  # to 1.8 s into the pause: past the 1.1 s and 1.5 s waits that end a turn


@pytest.mark.slow
async def test_a_stall_in_the_pause_does_not_end_the_turn(server, models):
    from candidate.session_client import CandidateSession
    from interviewer.audio import silence, synthesize

    first, second = (synthesize(models.piper_voice, text) for text in (FIRST, SECOND))
    async with CandidateSession(server.url, "technical", {"name": "Ada"}) as s:
        assert await s.hear_greeting()
        s.speak(first + silence(HOLD_FROM_SECS))
        await s.drain()
        s.hold(HOLD_SECS)
        assert await s.answer(silence(PAUSE_SECS - HOLD_FROM_SECS) + second, timeout_s=30)
    turns = [(t.role, t.text) for t in s.log.turns]
    said = [text for role, text in turns if role == "candidate"]
    assert len(said) == 1 and "million" in said[0].lower(), turns
    assert len(s.log.replies()) == 1, turns
