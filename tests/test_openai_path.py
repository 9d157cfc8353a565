"""The OpenAI-compatible LLM path, against a loopback SSE stand-in (real openai client code)."""

import pytest

from candidate.session_client import CandidateSession
from interviewer.audio import synthesize
from tests.standins.openai_server import OpenAIStandIn, llm_at
from web.cli import LocalServer

pytestmark = pytest.mark.slow

GREETING = "Hello, I am your interviewer today. Tell me about a project you are proud of."
# A cloud model's reply in Markdown: the page shows it, as the voice says it, without the marks.
FOLLOW_UP = "**Thanks for sharing that.** What was the *hardest* part of the migration?"
FOLLOW_UP_SHOWN = "Thanks for sharing that. What was the hardest part of the migration?"


def _reply(messages):
    return FOLLOW_UP if any(m.get("role") == "user" for m in messages) else GREETING


async def test_openai_compatible_endpoint_leads_the_interview(settings, models):
    standin = await OpenAIStandIn(_reply).start()
    try:
        llm_settings = llm_at(settings, standin.url)
        async with LocalServer(llm_settings, models=models) as server:
            async with CandidateSession(
                server.url, "technical", {"name": "Ada", "role": "SRE"}
            ) as s:
                await s.hear_greeting()
                await s.answer(
                    synthesize(
                        models.piper_voice,
                        "I migrated our billing database to Postgres with zero downtime.",
                    )
                )
    finally:
        await standin.stop()

    assert len(standin.requests) >= 2
    first, last = standin.requests[0], standin.requests[-1]
    assert first["auth"] == "Bearer sk-test" and first["body"]["model"] == "standin-1"
    assert first["body"]["stream"] is True
    system = first["body"]["messages"][0]
    assert system["role"] == "system" and "Ada" in system["content"] and "SRE" in system["content"]
    user_msgs = [m for m in last["body"]["messages"] if m["role"] == "user"]
    assert "billing" in str(user_msgs[-1]["content"]).lower()
    said = s.log.texts("interviewer")
    assert said[0].startswith("Hello, I am your interviewer") and said[-1] == FOLLOW_UP_SHOWN
    assert s.log.bot_audio_ms > 2000
    # A loopback endpoint gets a connection per request (see BudgetedOpenAILLMService).
    peers = [r["peer"] for r in standin.requests]
    assert None not in peers and len(set(peers)) == len(peers), peers


async def test_report_is_scored_by_the_llm_with_quotes_checked(tmp_path):
    """With an LLM configured, the report asks it for scores and keeps only real quotes."""
    import json

    from bots import get_mode
    from interviewer.report import finalize
    from interviewer.store import Store, now_utc

    mode = get_mode("behavioral")
    scores = {
        c: {"score": 4, "evidence": ["I mediated between the two teams", "an invented quote"]}
        for c in mode.competencies
    }
    standin = await OpenAIStandIn(lambda messages: "Here you go: " + json.dumps(scores)).start()
    try:
        store = Store(f"sqlite:///{tmp_path}/r.db")
        iid, _ = store.create_interview(mode.id, {"name": "Ada"}, "openai")
        t = now_utc()
        store.add_turn(iid, "interviewer", mode.questions[1].text, t, t, question_index=1)
        store.add_turn(
            iid,
            "candidate",
            "I mediated between the two teams and we agreed on a plan.",
            t,
            t,
            question_index=1,
        )
        from interviewer.config import load_settings

        settings = load_settings(
            LLM="auto",
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=standin.url,
            DATABASE_URL=f"sqlite:///{tmp_path}/r.db",
        )
        report = await finalize(store, iid, mode, "ended", settings)
    finally:
        await standin.stop()
    assert report["kind"] == "llm-scored"
    conflict = next(c for c in report["competencies"] if c["name"] == "conflict resolution")
    assert conflict["score"] == 4 and conflict["evidence"] == ["I mediated between the two teams"]
    assert standin.requests[-1]["body"].get("stream") in (None, False)


async def test_a_shutdown_while_the_report_is_scored_stores_it_unscored(tmp_path):
    """The candidate left; the LLM is scoring (it stalls) when the server starts shutting down.

    The scoring gives way at once and the report is stored without scores, instead of the
    shutdown waiting its grace out and cancelling the session before its report is stored.
    """
    import asyncio

    from bots import get_mode
    from interviewer.config import load_settings
    from interviewer.report import finalize
    from interviewer.store import Store, now_utc

    mode = get_mode("behavioral")
    standin = await OpenAIStandIn(mode="stall").start()
    try:
        store = Store(f"sqlite:///{tmp_path}/r.db")
        iid, _ = store.create_interview(mode.id, {"name": "Ada"}, "openai")
        t = now_utc()
        store.add_turn(iid, "interviewer", mode.questions[1].text, t, t, question_index=1)
        store.add_turn(iid, "candidate", "I mediated between the two teams.", t, t)
        settings = load_settings(LLM="auto", OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=standin.url)
        shutting_down = asyncio.Event()
        finalizing = asyncio.create_task(
            finalize(store, iid, mode, "ended", settings, stop=shutting_down)
        )
        for _ in range(500):  # until the scoring request is at the LLM (5 s at most)
            if standin.requests:
                break
            await asyncio.sleep(0.01)
        assert standin.requests and not finalizing.done()
        shutting_down.set()
        report = await asyncio.wait_for(finalizing, 5)  # the LLM client's own timeout is 30 s
    finally:
        await standin.stop()
    assert report["kind"] == "measured", report["kind"]
    assert standin.stalled_for, "the scoring request was not given up"
    stored = store.get(iid)
    assert stored.report == report and stored.status == "ended"
