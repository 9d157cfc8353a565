"""The interview engine through the real server: time boxes, monologue cap, silence, close, report."""

import asyncio
import json
import re

import httpx
import pytest

import bots
from candidate.session_client import CandidateSession
from interviewer.audio import SAMPLE_RATE, synthesize
from interviewer.plan import FollowUp, InterviewMode, Question
from processors.interview_conductor import CAP_LINE, NUDGE_LINE
from web.cli import LocalServer

pytestmark = pytest.mark.slow

SHORT = InterviewMode(
    id="short_test",
    title="Short test interview",
    interviewer_name="Robin",
    persona="A brisk test interviewer.",
    intro="This is a short timed interview{role}.",
    questions=(
        Question("Tell me about your current job.", competency="communication", time_box_s=120),
        Question("What is your favourite tool and why?", competency="tools", time_box_s=120),
        Question(
            "How do you write tests?",
            competency="testing",
            time_box_s=6,
            follow_ups=(FollowUp(("unit",), "Where do {topic} tests stop paying off?"),),
        ),
        Question("What would you improve at work?", competency="improvement", time_box_s=120),
    ),
    closing="That is all for today. Goodbye.",
    duration_min=2,
    competencies=("communication", "tools", "testing", "improvement"),
    monologue_cap_s=6,
    silence_nudge_s=5,
)


def _said(session, since: int = 0) -> str:
    return " ".join(t.text for t in session.log.turns[since:] if t.role == "interviewer")


async def _wait_for_words(session, since: int, words: str, timeout_s: float) -> str:
    """Silence from the candidate until the interviewer has said ``words`` (or time runs out)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while words not in _said(session, since) and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    await session.wait_bot_done(timeout_s=30)
    return _said(session, since)


async def test_conductor_keeps_time(settings, models, monkeypatch):
    monkeypatch.setitem(bots.MODES, SHORT.id, SHORT)
    voice = models.piper_voice
    monologue = synthesize(
        voice,
        "I work on the billing platform where I maintain the invoicing service and "
        "the payment gateway integrations and I also mentor two junior engineers "
        "and run our weekly incident review with the support team",
    )
    tests_answer = synthesize(
        voice,
        "I write unit tests first for the core logic and then a few integration "
        "tests around the database layer.",
    )
    async with LocalServer(settings, models=models) as server:
        async with CandidateSession(server.url, SHORT.id) as s:
            await s.hear_greeting()
            # 1. A monologue past the 6 s cap: the interviewer cuts in politely, then moves on.
            n = len(s.log.turns)
            await s.answer(monologue)
            said = _said(s, n)
            assert CAP_LINE.split(",")[0] in said, said
            assert "favourite tool" in said and "interest of time" in said
            # 2. Silence: a nudge after 5 s, then on to the next question after another 5 s.
            n = len(s.log.turns)
            said = await _wait_for_words(s, n, "How do you write tests?", timeout_s=30)
            assert NUDGE_LINE.split(",")[0] in said and "How do you write tests?" in said, said
            # 3. The 6 s time box of the testing question runs out while they answer: no follow-up.
            # The box opened no later than the question was heard: an answer begun at begin_ms
            # (or now, if later) ends at least a second after the box closed, on any machine.
            n = len(s.log.turns)
            asked = next(t for t in reversed(s.log.turns) if "How do you write tests?" in t.text)
            box_ms = SHORT.questions[2].time_box_s * settings.time_scale * 1000
            answer_ms = 1000 * len(tests_answer) / 2 / SAMPLE_RATE  # PCM16
            begin_ms = asked.start_ms + box_ms - answer_ms + 1000
            await asyncio.sleep(max(0.0, begin_ms - s.now_ms()) / 1000)
            await s.answer(tests_answer)
            said = _said(s, n)
            assert "What would you improve at work?" in said and "stop paying off" not in said, said
            progress = [m for m in s.log.server_messages if m.get("type") == "progress"]
            assert progress[-1]["question"] == 4 and progress[-1]["total"] == 4
            assert all(isinstance(m["time_left_s"], int) for m in progress)


async def _full_interview(url: str, mode_id: str, voice) -> tuple[CandidateSession, dict]:
    mode = bots.get_mode(mode_id)
    answer = synthesize(
        voice,
        "In my last role I owned a project end to end, I planned the work with the "
        "product manager, shipped it in stages and measured the outcome every week.",
    )
    no_more = synthesize(voice, "No, that's all from me, thank you.")
    async with CandidateSession(url, mode_id, {"name": "Ada", "role": "platform engineer"}) as s:
        await s.hear_greeting()
        for _ in range(len(mode.questions) * 2 + 2):
            if s.closed.is_set():
                break
            asking = s.log.turns[-1].text if s.log.turns else ""
            await s.answer(no_more if mode.wrap_up in asking else answer)
        await asyncio.wait_for(s.closed.wait(), 30)
    ended = next(
        m
        for m in s.log.server_messages
        if m.get("type") == "interview" and m.get("state") == "ended"
    )
    return s, ended


async def test_full_offline_interview_in_every_mode_ends_with_a_report(settings, models):
    async with LocalServer(settings, models=models) as server:
        results = await asyncio.gather(
            *[_full_interview(server.url, m, models.piper_voice) for m in bots.MODES]
        )
        async with httpx.AsyncClient(base_url=server.url) as http:
            for (s, ended), mode_id in zip(results, bots.MODES, strict=True):
                mode = bots.get_mode(mode_id)
                said = " ".join(s.log.texts("interviewer"))
                positions = [said.find(q.text) for q in mode.questions]
                assert all(p >= 0 for p in positions) and positions == sorted(positions), (
                    mode_id,
                    positions,
                )
                assert mode.wrap_up in said and mode.closing in said
                url = ended["report_url"]
                assert re.fullmatch(r"/report/[\w-]{32}", url)
                # Written once the session is over (after its last turn is decoded again).
                report = await _final_report(http, url)
                page = await http.get(url)
                assert page.status_code == 200 and mode.title in page.text and "Ada" in page.text
                # The pictures, with the interview's real turns: every turn on the timeline, a
                # latency bar per reply that has one, no scores (measured, not judged).
                drawn = _drawn(page.text)
                replies = [t for t in report["transcript"] if t["latency_ms"] is not None]
                assert drawn["turns"] == len(report["transcript"]) > 2 * len(mode.questions)
                assert drawn["latency_bars"] == len(replies) >= len(mode.questions), mode_id
                assert drawn["score_bars"] == 0 and 'id="timeline"' in page.text
                assert report["status"] == "ended" and report["kind"] == "measured"
                assert report["facts"]["questions_covered"] == len(mode.questions)
                assert report["facts"]["words_per_minute"] and report["facts"]["talk_time_ratio"]
                assert all(c["evidence"] for c in report["competencies"])
                md = (await http.get(f"{url}.md")).text
                assert md.startswith(f"# {mode.title}: Ada")
                assert (await http.get(url[:-3] + "xyz")).status_code == 404


def _drawn(page: str) -> dict[str, int]:
    """What the report page drew: turn bars, latency bars, score bars, overlap marks."""
    return {
        "turns": len(re.findall(r'<rect class="(?:interviewer|candidate)[ "]', page)),
        "latency_bars": len(re.findall(r'<rect class="bar[ "]', page)),
        "score_bars": len(re.findall(r'<rect class="s[1-5]"', page)),
        "cut_in": page.count('<line class="cut-in"'),
        "talked_over": page.count('<line class="talked-over"'),
    }


async def _final_report(http: httpx.AsyncClient, url: str) -> dict:
    """The report once the server has closed the interview (the candidate hung up)."""
    for _ in range(300):
        report = (await http.get(f"{url}.json")).json()
        if report["status"] != "active":
            return report
        await asyncio.sleep(0.1)
    raise AssertionError("the interview was never closed")


async def _wait_audible(s: CandidateSession, timeout_s: float = 30) -> None:
    """Until the interviewer's voice is playing at the candidate's end."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not (s.bot_audio_times and s.bot_audio_times[-1] > s.now_ms() + 20):  # noqa: ASYNC110
        assert asyncio.get_running_loop().time() < deadline, "the interviewer never answered"
        await asyncio.sleep(0.01)


async def test_a_pause_mid_answer_that_the_interviewer_cut_in_on_is_marked(settings, models):
    """A real interview: the candidate pauses mid-answer long enough to be answered and goes on
    as the reply begins; later they talk over a reply they have heard. The stored turns say so
    (replies cut short; the answer carried on), their times are when speech was heard, and the
    report's timeline marks the first as the interviewer's cut-in, the second as a talk-over."""
    from datetime import datetime

    from interviewer.report import finalize
    from tests.standins.openai_server import OpenAIStandIn

    voice = models.piper_voice
    first = synthesize(voice, "I built the billing service at my last company, in Go.")
    more = synthesize(
        voice,
        # No comma: a pause inside this answer would be a second place to cut in, and whether the
        # interviewer may depends on the first reply's timing (its pause is learned under 2 s).
        "And I also ran the on call rotation for the payments team "
        "which taught me a lot about incidents.",
    )
    over = synthesize(voice, "Sorry, one more thing: I also wrote our incident review template.")
    async with LocalServer(settings, models=models) as server:
        async with CandidateSession(server.url, "technical", {"name": "Ada"}) as s:
            await s.hear_greeting()
            s.speak(first)
            await s.drain()
            # Silence, however long it takes the interviewer to answer; they go on as it starts.
            await _wait_audible(s)
            s.speak(more)
            await s.drain()
            # Then a talk-over: they hear 2 s of the next reply (about 4 s long) and speak over it.
            await _wait_audible(s)
            await asyncio.sleep(2.0)
            s.speak(over)
            await s.drain()
            await s.wait_bot_done(timeout_s=60)
            url = next(m for m in s.log.server_messages if m.get("type") == "interview")[
                "report_url"
            ]
        async with httpx.AsyncClient(base_url=server.url) as http:
            report = await _final_report(http, url)
            turns = report["transcript"]
            cuts = [i for i, t in enumerate(turns) if t["interrupted"]]
            assert len(cuts) == 2, turns  # the reply they went on over was stored, and the other
            cut, talked_over = cuts
            assert [t["role"] for t in turns[cut - 1 : cut + 2]] == [
                "candidate",
                "interviewer",
                "candidate",
            ], turns
            went_on = turns[cut + 1]["text"].replace("-", " ")  # Whisper writes "on-call" too
            assert "billing" in turns[cut - 1]["text"] and "on call" in went_on
            assert turns[talked_over + 1]["role"] == "candidate"
            assert "incident review" in turns[talked_over + 1]["text"]

            # Times are when speech was heard: a reply starts its latency after the answer ended
            # (stored as before, the answer would end at the end of the turn wait, and a reply at
            # the start of its response: a reply would start well under its latency after it).
            at = [
                (datetime.fromisoformat(t["started_at"]), datetime.fromisoformat(t["ended_at"]))
                for t in turns
            ]
            for i, t in enumerate(turns):
                if t["role"] == "interviewer" and t["latency_ms"] is not None:
                    gap_ms = (at[i][0] - at[i - 1][1]).total_seconds() * 1000
                    assert abs(gap_ms - t["latency_ms"]) < 400, (i, gap_ms, t["latency_ms"])
            went_on = (at[cut + 1][0] - at[cut][0]).total_seconds()
            assert 0 <= went_on < 1.0, went_on  # they went on as the reply began
            heard_s = (at[talked_over + 1][0] - at[talked_over][0]).total_seconds()
            assert heard_s > 1.5, heard_s  # the other reply they heard for 2 s, then spoke over

            page = (await http.get(url)).text
            drawn = _drawn(page)
            assert drawn["cut_in"] == 1 and drawn["talked_over"] == 1, drawn
            assert page.index('<line class="cut-in"') < page.index('<line class="talked-over"')
            assert "interviewer cut in (1)" in page and "went on" in page
            assert drawn["turns"] == len(turns)
            replies = [t for t in turns if t["role"] == "interviewer" and t["latency_ms"]]
            assert drawn["latency_bars"] == len(replies) >= 2
            assert drawn["score_bars"] == 0  # the scripted brain does not judge

            # Scored by an LLM (a stand-in), the same interview's report draws the scores too.
            mode = bots.get_mode("technical")
            scores = {c: {"score": 3, "evidence": ["billing service"]} for c in mode.competencies}
            standin = await OpenAIStandIn(lambda _m: json.dumps(scores)).start()
            try:
                scoring = settings.model_copy(
                    update={
                        "llm": "auto",
                        "openai_api_key": "sk-test",
                        "openai_base_url": standin.url,
                    }
                )
                store = server.app.state.store
                interview_id = store.get_by_token(url.rsplit("/", 1)[1]).id
                await finalize(store, interview_id, mode, report["status"], scoring)
            finally:
                await standin.stop()
            page = (await http.get(url)).text
            drawn = _drawn(page)
            assert drawn["score_bars"] == len(mode.competencies), drawn
            assert drawn["turns"] == len(turns) and drawn["cut_in"] == drawn["talked_over"] == 1
