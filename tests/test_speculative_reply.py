"""A reply started in the pause (pipecat's speculative inference), through the real server.

With an OpenAI-compatible LLM, a judged pause asks the LLM for the reply before the turn would
end (here at once: the lead is longer than the wait); the LLM service holds it until the turn
ends. The stand-in takes 0.6 s to its first token, as a cloud model does. Checked on the wire:
the request for the answer comes before the turn has ended (the page's
``user-stopped-speaking``) and no second request answers the same turn; when the candidate goes
on after such a pause, the early request is given up and the reply heard answers the whole
answer.
"""

from __future__ import annotations

import pytest

from interviewer.store import Store
from tests.standins.openai_server import OpenAIStandIn, llm_at

pytestmark = pytest.mark.slow

# No comma: a pause inside the first answer would teach the candidate's rhythm a shorter wait.
FIRST_ANSWER = "I built the billing service at my last job and ran it for two years."
SECOND_ANSWER = "We moved every customer to the new database in one weekend."
GOES_ON = "Then we switched off the old servers for good."
FIRST_TOKEN_S = 0.6


def _reply(messages: list[dict]) -> str:
    """The greeting, then a question naming the last word the candidate said."""
    said = [str(m.get("content", "")) for m in messages if m.get("role") == "user"]
    if not said:
        return "Hello, I am your interviewer today. Tell me about a project you are proud of."
    last = said[-1].rstrip(" .!?").split()[-1].lower()
    return f"You said {last}. What happened next?"


def _user_said(request: dict) -> str:
    """The candidate's last words in an interview request ("" for others: the report's scoring)."""
    if not request["body"].get("stream"):
        return ""
    users = [m for m in request["body"]["messages"] if m.get("role") == "user"]
    return str(users[-1]["content"]) if users else ""


def _stopped_at(session) -> list[float]:
    """When each of the candidate's turns ended (``time.monotonic``), as the page was told."""
    events = session.log.events
    return [session.monotonic_at(ms) for ms, kind, _ in events if kind == "user-stopped-speaking"]


async def _interview(settings, models, answers: list[bytes], name: str = "Ada"):
    from candidate.session_client import CandidateSession
    from web.cli import LocalServer

    standin = await OpenAIStandIn(_reply, first_token_s=FIRST_TOKEN_S).start()
    try:
        # A lead longer than the 1.1 s wait: each reply starts the moment its pause is judged.
        settings = llm_at(settings, standin.url).model_copy(
            update={"turn_speculate_lead_secs": 1.5}
        )
        async with LocalServer(settings, models=models) as server:
            async with CandidateSession(server.url, "technical", {"name": name}) as s:
                assert await s.hear_greeting()
                for pcm in answers:
                    assert await s.answer(pcm, timeout_s=30)
    finally:
        await standin.stop()
    return standin, s


async def test_the_reply_starts_in_the_pause_and_is_said_when_the_turn_ends(settings, models):
    from interviewer.audio import synthesize

    first, second = (synthesize(models.piper_voice, t) for t in (FIRST_ANSWER, SECOND_ANSWER))
    name = "Ada Early"
    standin, s = await _interview(settings, models, [first, second], name)

    answers = [r for r in standin.requests if _user_said(r)]
    turns = [(t.role, t.text) for t in s.log.turns]
    # One request per answer: the early one was confirmed, not asked again.
    assert [_user_said(r).rstrip(".").split()[-1] for r in answers] == ["years", "weekend"], turns
    assert standin.gave_up == []
    stopped = _stopped_at(s)
    assert len(stopped) == 2, s.log.events
    # Each answer's request left while the candidate's turn was still open.
    for answer, turn_end in zip(answers, stopped, strict=True):
        assert turn_end - answer["at"] > 0.1, (answer["at"], turn_end)
    said = s.log.texts("interviewer")
    assert said[-1] == "You said weekend. What happened next?", turns
    assert len(s.log.replies()) == 2, turns
    # A turn ended by confirming its early reply is stored like any other, and so is the reply.
    store = Store(settings.database_url)
    row = next(r for r in store.list() if r["candidate"] == name)
    stored = [(t.role, t.text) for t in store.get(row["id"]).turns]
    assert [role for role, _ in stored] == ["interviewer", "candidate"] * 2 + ["interviewer"]
    assert "weekend" in stored[3][1] and stored[4][1] == said[-1], stored


async def test_a_reply_started_in_a_pause_the_candidate_goes_on_after_is_dropped(settings, models):
    from interviewer.audio import silence, synthesize

    first, second, more = (
        synthesize(models.piper_voice, t) for t in (FIRST_ANSWER, SECOND_ANSWER, GOES_ON)
    )
    # A finished sentence, then 0.4 s of silence (with Piper's own silence and the VAD's start,
    # the voice is back about 0.8 s after the words: past their score, about 0.45 s, and before
    # the 1.1 s wait ends the turn), then more of the same answer.
    standin, s = await _interview(settings, models, [first, second + silence(0.4) + more])

    answers = [r for r in standin.requests if _user_said(r)]
    turns = [(t.role, t.text) for t in s.log.turns]
    early, final = answers[-2], answers[-1]
    assert "weekend" in _user_said(early) and "servers" not in _user_said(early), turns
    assert "servers" in _user_said(final) and "weekend" in _user_said(final), turns
    assert standin.requests.index(early) in standin.gave_up  # given up, never spoken
    said = s.log.texts("interviewer")
    assert said[-1] == "You said good. What happened next?", turns
    assert not any("weekend. What" in t for t in said), turns
    assert len(s.log.replies()) == 2, turns
