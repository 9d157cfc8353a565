"""A report being scored gives way to the lines live interviews wait for (interviewer.give_way).

Fast tests: the real openai client against the OpenAI stand-in, whose whole answers take a
while as a model reading a long prompt does. Slow: the packaged model on llama.cpp.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from openai import AsyncOpenAI

from bots import get_mode
from interviewer.give_way import STEP_WORDS, LinesInFlight
from interviewer.line_writer import LineWriter
from interviewer.report import local_scores
from interviewer.store import StoredInterview, StoredTurn, now_utc
from tests.standins.openai_server import OpenAIStandIn

MODE = get_mode("technical")
LINE = "How did you move eighty million documents without downtime?"
ANSWER = "We rebuilt search on Elasticsearch and moved eighty million documents in a week."


def _interview() -> StoredInterview:
    """An ended interview with an answer to every planned question."""
    t = now_utc()
    turns = []
    for i, q in enumerate(MODE.questions):
        turns.append(StoredTurn(2 * i, "interviewer", q.text, t, t, None, False, i))
        turns.append(StoredTurn(2 * i + 1, "candidate", ANSWER, t, t, None, False, i))
    return StoredInterview(
        "i1", "tok", MODE.id, {"name": "Ada"}, "ended", "local", t, t, None, turns
    )


def _reply(messages) -> str:
    """Scores for a scoring prompt; the line for anything else."""
    if "Competency:" in messages[-1]["content"]:
        return json.dumps({"score": 4, "evidence": ["rebuilt search on Elasticsearch"]})
    return LINE


async def _until(condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def _client(standin: OpenAIStandIn) -> AsyncOpenAI:
    return AsyncOpenAI(api_key="sk-test", base_url=standin.url, max_retries=0, timeout=10)


def _one_answer(answer: str) -> StoredInterview:
    """An ended interview with one answer (one competency to score)."""
    t = now_utc()
    turns = [
        StoredTurn(0, "interviewer", MODE.questions[0].text, t, t, None, False, 0),
        StoredTurn(1, "candidate", answer, t, t, None, False, 0),
    ]
    return StoredInterview("i2", "tok", MODE.id, {}, "ended", "local", t, t, None, turns)


async def test_a_report_is_read_in_steps_on_its_slot():
    """The scoring prompt goes to the model a few dozen words at a time, each step a one-token
    request for a longer start of it on the same slot, then the whole prompt for the scores."""
    standin = await OpenAIStandIn(_reply).start()
    client = _client(standin)
    try:
        interview = _one_answer(" ".join([ANSWER] * 10))
        scores = await local_scores(interview, MODE, client, "m", LinesInFlight(), slot=1)
    finally:
        await client.close()
        await standin.stop()
    assert set(scores) == {MODE.questions[0].competency}
    bodies = [r["body"] for r in standin.requests]
    *steps, final = bodies
    prompt = final["messages"][-1]["content"]
    assert len(steps) == len(prompt.split(" ")) // STEP_WORDS >= 3, len(steps)
    read = 0
    for body in steps:
        start = body["messages"][-1]["content"]
        assert prompt.startswith(start) and 0 < len(start.split(" ")) - read <= STEP_WORDS
        read = len(start.split(" "))
        assert body["max_tokens"] == 1 and "response_format" not in body
    assert "response_format" in final and final["max_tokens"] == 200
    assert all(b["id_slot"] == 1 and b["cache_prompt"] for b in bodies)


async def test_a_line_started_while_a_report_is_read_waits_one_step_at_most():
    """A line starts while a step of the report is at the model: no step follows until the line
    is written; then the report is read on and scored."""
    standin = await OpenAIStandIn(_reply, answer_s=0.3).start()
    lines = LinesInFlight()
    client = _client(standin)
    try:
        interview = _one_answer(" ".join([ANSWER] * 10))
        scoring = asyncio.create_task(local_scores(interview, MODE, client, "m", lines, slot=0))
        await _until(lambda: len(standin.requests) == 2)
        with lines.writing():  # a live interview's line
            await asyncio.sleep(1.0)  # three steps' time
            assert len(standin.requests) == 2 and not scoring.done()
        scores = await asyncio.wait_for(scoring, 10)
    finally:
        await client.close()
        await standin.stop()
    assert set(scores) == {MODE.questions[0].competency}
    assert len(standin.requests) > 3 and not standin.gave_up


async def test_a_report_waits_for_the_lines_being_written():
    """Scoring that starts while lines are written sends nothing until the last one is done."""
    standin = await OpenAIStandIn(_reply).start()
    lines = LinesInFlight()
    client = _client(standin)
    try:
        with lines.writing():
            with lines.writing():
                scoring = asyncio.create_task(local_scores(_interview(), MODE, client, "m", lines))
                await asyncio.sleep(0.3)
            await asyncio.sleep(0.3)
            assert not standin.requests and not scoring.done()
        scores = await asyncio.wait_for(scoring, 10)
        assert set(scores) == set(MODE.competencies)
        finals = [r for r in standin.requests if "response_format" in r["body"]]
        assert len(finals) == len(MODE.competencies) and not standin.gave_up
    finally:
        await client.close()
        await standin.stop()


async def test_the_report_of_an_ended_interview_waits_for_the_servers_lines(tmp_path):
    """``finalize`` with LLM=local scores through the server's count of lines in flight."""
    from interviewer.config import load_settings
    from interviewer.local_llm import LocalLLMServer
    from interviewer.report import finalize
    from interviewer.store import Store

    standin = await OpenAIStandIn(_reply).start()
    server = LocalLLMServer(standin.url, "sk-test", "standin-1", 0.0, slots=2, _free=[1])
    try:
        store = Store(f"sqlite:///{tmp_path}/r.db")
        iid, _ = store.create_interview(MODE.id, {"name": "Ada"}, "local")
        t = now_utc()
        store.add_turn(iid, "interviewer", MODE.questions[0].text, t, t, question_index=0)
        store.add_turn(iid, "candidate", ANSWER, t, t, question_index=0)
        settings = load_settings(LLM="local", DATABASE_URL=f"sqlite:///{tmp_path}/r.db")
        with server.lines.writing():  # a live interview's line
            finalizing = asyncio.create_task(
                finalize(store, iid, MODE, "ended", settings, local_llm=server)
            )
            await asyncio.sleep(0.3)
            assert not standin.requests and not finalizing.done()
        report = await asyncio.wait_for(finalizing, 10)
    finally:
        await standin.stop()
    assert report["kind"] == "llm-scored" and "local model" in report["note"]
    assert [c["score"] for c in report["competencies"] if "score" in c] == [4]
    # On the slot the ended interview gave back, which it gives back in turn.
    assert all(r["body"]["id_slot"] == 1 for r in standin.requests) and server._free == [1]


@pytest.fixture(scope="module")
def llm_server(settings):
    from interviewer.local_llm import LocalLLMServer

    server = LocalLLMServer.start(settings.model_copy(update={"llm": "local", "max_sessions": 2}))
    yield server
    server.stop()


@pytest.mark.slow
async def test_the_local_model_writes_a_line_while_a_report_is_read_and_scores_it_after(
    llm_server,
):
    """On llama.cpp: a line starts while a long report is being read; it is written first, and
    the report's steps were kept in its slot's cache: the last request reads only the end."""
    from openai import DefaultAsyncHttpxClient

    from interviewer.lines import system_prompt
    from interviewer.plan import CandidateContext

    server = llm_server
    timings: list[dict] = []

    async def keep_timings(response):
        await response.aread()
        timings.append(response.json().get("timings") or {})

    client = AsyncOpenAI(
        api_key=server.api_key,
        base_url=server.base_url,
        timeout=120,
        max_retries=0,
        http_client=DefaultAsyncHttpxClient(event_hooks={"response": [keep_timings]}),
    )
    writer = LineWriter(
        server.openai_client(timeout=120),
        server.model,
        system_prompt(MODE, CandidateContext()),
        slot=0,
        in_flight=server.lines,
    )
    q = "Tell me about a project."
    try:
        assert await writer.write("follow_up", q, ANSWER, time.monotonic() + 120)  # an earlier one
        scoring = asyncio.create_task(
            local_scores(
                _one_answer(" ".join([ANSWER] * 50)),
                MODE,
                client,
                server.model,
                server.lines,
                slot=1,
            )
        )
        await _until(lambda: len(timings) >= 2, 60)  # a few steps of ~900 tokens read
        line = await writer.write("follow_up", q, ANSWER, time.monotonic() + 120)
        assert line and not scoring.done()  # the line did not wait for the whole report
        scores = await asyncio.wait_for(scoring, 120)
    finally:
        await writer.close()
        await client.close()
    competency = MODE.questions[0].competency
    assert set(scores) == {competency} and 1 <= scores[competency]["score"] <= 5, scores
    final = timings[-1]
    assert final["prompt_n"] < 100 < final["cache_n"], final  # the steps were its cache
