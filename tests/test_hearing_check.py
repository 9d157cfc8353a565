"""A candidate checks the line ("Can you hear me?"): the interviewer says it hears them.

Through the real server, pipeline and WebSocket, with the candidate's words spoken by Piper:
the check gets "Yes, I can hear you." and the open question, and it is not taken for the
answer (the answer after it still gets the question's follow-up). The decisions themselves are
tested fast in tests/test_scripted.py. The reply's opening was said at load (ModelBank).
"""

from __future__ import annotations

import pytest

from bots import get_mode
from interviewer.scripted import HEARD_YOU

ANSWER = (
    "Our search had terrible latency at peak, so I rebuilt the caching layer and the query "
    "planner myself."
)


@pytest.mark.slow
async def test_can_you_hear_me_is_answered_through_the_real_server(server, models):
    from candidate.session_client import CandidateSession
    from interviewer.audio import synthesize
    from interviewer.lines import LINE_ACKS
    from interviewer.scripted import OPENINGS

    # Said at load, so the first reply that opens with one is heard at once.
    assert {*OPENINGS, *LINE_ACKS} <= set(models.piper_phrases)
    first = get_mode("technical").questions[0].text
    async with CandidateSession(server.url, "technical", {"name": "Ada"}) as s:
        assert await s.hear_greeting()
        assert await s.answer(synthesize(models.piper_voice, "Can you hear me all right?"))
        assert await s.answer(synthesize(models.piper_voice, ANSWER))
    print([(t.role, t.text) for t in s.log.turns])
    replies = [after.text for _before, after in s.log.replies()]
    assert len(replies) == 2, s.log.turns
    assert replies[0] == f"{HEARD_YOU} {first}"
    assert "latency" in replies[1] and replies[1].endswith("?"), replies[1]
