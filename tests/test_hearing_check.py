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


LLM_GREETING = f"Hello Ada, I'm Alex. {get_mode('technical').questions[0].text}"
LLM_HEARD = "Yes, I can hear you. Please go ahead with your project."
LLM_FOLLOW_UP = "Thanks. How did you measure the latency?"


def _llm_reply(messages: list[dict]) -> str:
    """The stand-in model: it does what the plan's instructions for this reply say."""
    system = " ".join(m["content"] for m in messages if m.get("role") == "system")
    if "asked whether you can hear them" in system:
        return LLM_HEARD
    return LLM_FOLLOW_UP if any(m.get("role") == "user" for m in messages) else LLM_GREETING


@pytest.mark.slow
async def test_with_an_llm_the_check_is_no_answer_and_the_model_is_told_to_say_it_hears(
    settings, models
):
    """LLM=openai (the loopback stand-in): the plan, not the script, tells the model."""
    from candidate.session_client import CandidateSession
    from interviewer.audio import synthesize
    from tests.standins.openai_server import OpenAIStandIn, llm_at
    from web.cli import LocalServer

    standin = await OpenAIStandIn(_llm_reply).start()
    llm_settings = llm_at(settings, standin.url)
    try:
        async with LocalServer(llm_settings, models=models) as server:
            async with CandidateSession(server.url, "technical", {"name": "Ada"}) as s:
                assert await s.hear_greeting()
                assert await s.answer(synthesize(models.piper_voice, "Can you hear me all right?"))
                assert await s.answer(synthesize(models.piper_voice, ANSWER))
    finally:
        await standin.stop()
    print([(t.role, t.text) for t in s.log.turns])
    assert [after.text for _before, after in s.log.replies()] == [LLM_HEARD, LLM_FOLLOW_UP]
    asked = [r["body"] for r in standin.requests if r["body"].get("stream")]
    systems = [
        " ".join(m["content"] for m in body["messages"] if m["role"] == "system") for body in asked
    ]
    assert len(systems) == 3, systems  # the greeting, the check, the answer
    assert "asked whether you can hear them" in systems[1] and "do not move on" in systems[1]
    # The check was no answer: the answer after it is the first one, and gets a follow-up.
    assert "ask ONE follow-up question (follow-up 1 of" in systems[2]
