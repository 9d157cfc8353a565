"""Live interviews' lines take turns at the model; reports and prefills give way (interviewer.give_way).

Fast tests: the real openai client against the OpenAI stand-in, whose whole answers take a
while as a model reading a long prompt does. Slow: the packaged model on llama.cpp.
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager

import httpx
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


async def _hold(lines: LinesInFlight, release: asyncio.Event) -> None:
    """A live interview's line: queued, then written until ``release``."""
    async with lines.writing():
        await release.wait()


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
        async with lines.writing():  # a live interview's line
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
        first, second = asyncio.Event(), asyncio.Event()
        holding = [
            asyncio.create_task(_hold(lines, first)),
            asyncio.create_task(_hold(lines, second)),
        ]
        await asyncio.sleep(0.05)  # one written, one queued
        scoring = asyncio.create_task(local_scores(_interview(), MODE, client, "m", lines))
        await asyncio.sleep(0.3)
        first.set()
        await asyncio.sleep(0.3)
        assert not standin.requests and not scoring.done()
        second.set()
        await asyncio.gather(*holding)
        scores = await asyncio.wait_for(scoring, 10)
        assert set(scores) == set(MODE.competencies)
        finals = [r for r in standin.requests if "response_format" in r["body"]]
        assert len(finals) == len(MODE.competencies) and not standin.gave_up
    finally:
        await client.close()
        await standin.stop()


def _streamed(standin: OpenAIStandIn) -> list[int]:
    """The indices of the streamed requests the stand-in had (the scores'; the steps are not)."""
    return [i for i, r in enumerate(standin.requests) if r["body"].get("stream")]


@asynccontextmanager
async def _scoring(first_token_s: float):
    """A short report being scored on slot 1 between ``lines``: (stand-in, lines, the scoring)."""
    standin = await OpenAIStandIn(_reply, first_token_s=first_token_s).start()
    lines = LinesInFlight()
    client = _client(standin)
    scoring = asyncio.create_task(
        local_scores(_one_answer(ANSWER), MODE, client, "m", lines, slot=1)
    )
    try:
        yield standin, lines, scoring
    finally:
        scoring.cancel()
        await asyncio.gather(scoring, return_exceptions=True)
        await client.close()
        await standin.stop()


async def test_a_reports_scores_give_way_to_a_line_and_are_written_after():
    """The report's scores are being written when a live interview's turn ends: the request is
    closed, nothing is sent beside the line, and the scores are asked for again after it."""
    async with _scoring(first_token_s=0.5) as (standin, lines, scoring):
        await _until(lambda: _streamed(standin))
        async with lines.writing():  # a live interview's needed line
            await _until(lambda: standin.gave_up, 2)
            sent = len(standin.requests)
            await asyncio.sleep(0.3)
            assert len(standin.requests) == sent and not scoring.done()
        scores = await asyncio.wait_for(scoring, 10)
    assert set(scores) == {MODE.questions[0].competency}
    streamed = _streamed(standin)
    assert len(streamed) == 2 and standin.gave_up == streamed[:1]
    first, again = (standin.requests[i]["body"] for i in streamed)
    assert first == again and "response_format" in first and first["id_slot"] == 1


async def test_a_reports_scores_give_way_a_few_times_then_keep_the_model():
    """Lines keep coming: the scores give way three times, then are written beside a line."""
    async with _scoring(first_token_s=0.3) as (standin, lines, scoring):
        for n in range(1, 5):
            await _until(lambda n=n: len(_streamed(standin)) == n)  # the scores asked for again
            async with lines.writing():
                if n <= 3:
                    await _until(lambda n=n: len(standin.gave_up) == n, 2)
                else:
                    scores = await asyncio.wait_for(scoring, 5)  # beside this line
    assert set(scores) == {MODE.questions[0].competency}
    assert len(_streamed(standin)) == 4 and standin.gave_up == _streamed(standin)[:3]


async def test_early_lines_do_not_stop_a_reports_scores():
    """An early line (the candidate only paused) queues while the scores are written: they go on."""
    async with _scoring(first_token_s=0.3) as (standin, lines, scoring):
        await _until(lambda: _streamed(standin))
        async with lines.writing(lines.ticket(early=True)):
            scores = await asyncio.wait_for(scoring, 5)
    assert set(scores) == {MODE.questions[0].competency}
    assert len(_streamed(standin)) == 1 and not standin.gave_up


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
        async with server.lines.writing():  # a live interview's line
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


async def test_reports_scored_at_once_take_turns_and_leave_the_next_interviews_their_slots(
    tmp_path,
):
    """Two interviews end together beside a full house: their reports are scored one after the
    other on the report slot, so the two interviews that start meanwhile each get a slot of
    their own (were both reports to take one, the second new interview would go without)."""
    from interviewer.config import load_settings
    from interviewer.local_llm import LocalLLMServer
    from interviewer.report import finalize
    from interviewer.store import Store

    standin = await OpenAIStandIn(_reply, answer_s=0.2).start()
    server = LocalLLMServer(standin.url, "sk-test", "standin-1", 0.0, slots=3, _free=[0, 1, 2])
    settings = load_settings(LLM="local", DATABASE_URL=f"sqlite:///{tmp_path}/r.db")
    store = Store(settings.database_url)
    answers = [ANSWER, "I led the billing migration to Postgres and kept every invoice intact."]
    ids = []
    for answer in answers:
        iid, _ = store.create_interview(MODE.id, {"name": "Ada"}, "local")
        t = now_utc()
        store.add_turn(iid, "interviewer", MODE.questions[0].text, t, t, question_index=0)
        store.add_turn(iid, "candidate", answer, t, t, question_index=0)
        ids.append(iid)
    running = [server.acquire_slot(), server.acquire_slot()]  # a full house: two interviews
    try:
        reports = []
        for iid, slot in zip(ids, running, strict=True):
            server.release_slot(slot)  # the interview ends, then its report is scored
            reports.append(
                asyncio.create_task(finalize(store, iid, MODE, "ended", settings, local_llm=server))
            )
            await asyncio.sleep(0)
        await _until(lambda: len(standin.requests) >= 1)
        first = standin.requests[0]["body"]["id_slot"]
        starting = [server.acquire_slot(), server.acquire_slot()]  # two new interviews
        assert None not in starting and len({first, *starting}) == 3, (first, starting)
        done = await asyncio.wait_for(asyncio.gather(*reports), 10)
    finally:
        await standin.stop()
    assert all(r["kind"] == "llm-scored" for r in done)
    bodies = [r["body"] for r in standin.requests]
    assert {b["id_slot"] for b in bodies} == {first}  # the report slot, in turn
    whose = [
        i
        for b in bodies
        for i, answer in enumerate(answers)
        if answer in b["messages"][-1]["content"]
    ]
    assert set(whose) == {0, 1} and whose in (sorted(whose), sorted(whose)[::-1]), whose
    assert server._free == [first]  # one report, then the other; the slot given back


async def test_a_report_waiting_for_its_turn_is_stored_unscored_when_the_server_stops(tmp_path):
    """Shutting down while a report waits for the report slot: it is stored without scores at
    once, and its place in the queue is given up."""
    from interviewer.config import load_settings
    from interviewer.local_llm import LocalLLMServer
    from interviewer.report import finalize
    from interviewer.store import Store

    standin = await OpenAIStandIn(_reply).start()
    server = LocalLLMServer(standin.url, "sk-test", "standin-1", 0.0, slots=2, _free=[1])
    settings = load_settings(LLM="local", DATABASE_URL=f"sqlite:///{tmp_path}/r.db")
    store = Store(settings.database_url)
    iid, _ = store.create_interview(MODE.id, {"name": "Ada"}, "local")
    t = now_utc()
    store.add_turn(iid, "interviewer", MODE.questions[0].text, t, t, question_index=0)
    store.add_turn(iid, "candidate", ANSWER, t, t, question_index=0)
    stop = asyncio.Event()
    try:
        async with server.report_slot() as held:  # another report is being scored
            assert held == 1
            finalizing = asyncio.create_task(
                finalize(store, iid, MODE, "ended", settings, local_llm=server, stop=stop)
            )
            await asyncio.sleep(0.3)
            assert not finalizing.done()
            stop.set()
            report = await asyncio.wait_for(finalizing, 2)
        async with server.report_slot() as again:  # the queue is empty again
            assert again == 1
    finally:
        await standin.stop()
    assert not standin.requests and server._free == [1]
    assert not any("score" in c for c in report["competencies"])
    assert store.get(iid).report == report


async def test_reports_waiting_for_the_report_slot_are_scored_first_come_first_served():
    """Each waiting report looked again every 0.1 s, so the one that happened to look first after
    the slot came free went first: a report that began waiting later could go before one that
    had waited longer. Now they go in the order they came."""
    from interviewer.local_llm import REPORT_WAIT_POLL_S, LocalLLMServer

    server = LocalLLMServer("http://127.0.0.1:9/v1", "k", "m", 0.0, slots=2, _free=[1])
    order: list[str] = []

    async def report(name: str) -> None:
        async with server.report_slot() as slot:
            assert slot == 1
            order.append(name)
            await asyncio.sleep(0.01)

    async with server.report_slot():  # a report being scored
        first = asyncio.create_task(report("first"))
        await asyncio.sleep(REPORT_WAIT_POLL_S * 1.5)  # it has looked once more, in vain
        later = asyncio.create_task(report("later"))
        await asyncio.sleep(REPORT_WAIT_POLL_S * 0.6)  # past the first's look, before the later's
        gone = asyncio.create_task(report("gone"))
        await asyncio.sleep(0)
        gone.cancel()  # a report given up while it waits leaves the queue
    await asyncio.wait_for(asyncio.gather(first, later), 2)
    assert order == ["first", "later"]
    assert server._free == [1] and server._reports == 0 and not server._report_queue


def _writer(standin: OpenAIStandIn, lines: LinesInFlight, slot: int) -> LineWriter:
    """One interview's writer on ``slot``, with its own client, queueing in ``lines``."""
    return LineWriter(
        _client(standin),
        "m",
        "system",
        slot=slot,
        write_on_finished_sentence=False,
        in_flight=lines,
    )


async def test_two_interviews_lines_take_turns_at_the_model():
    """Two interviews need a line at the same moment: the second goes to the model only once the
    first is written, so the first comes back as fast as alone (not both at half speed)."""
    standin = await OpenAIStandIn(_reply, first_token_s=0.3).start()
    lines = LinesInFlight()
    writers = [_writer(standin, lines, 0), _writer(standin, lines, 1)]
    done_at: dict[int, float] = {}

    async def line(writer: LineWriter) -> str | None:
        text = await writer.write(
            "follow_up", "Tell me about a project.", ANSWER, time.monotonic() + 10
        )
        done_at[writer.slot] = time.monotonic()
        return text

    try:
        written = await asyncio.gather(*(line(w) for w in writers))
    finally:
        for w in writers:
            await w.close()
        await standin.stop()
    assert written == [LINE, LINE]
    first, second = standin.requests
    assert second["at"] >= done_at[first["body"]["id_slot"]], "the two lines were written at once"
    assert sorted(w.stats.queued for w in writers) == [0, 1] and not lines.busy


async def test_a_line_that_waits_past_its_deadline_leaves_the_queue():
    """A line still waiting for another interview's line at its deadline is given up (the
    scripted line is spoken) and leaves the queue: it never reaches the model, and the next line
    does not wait for it."""
    standin = await OpenAIStandIn(_reply).start()
    lines = LinesInFlight()
    writer = _writer(standin, lines, 1)
    release = asyncio.Event()
    holding = asyncio.create_task(_hold(lines, release))  # another interview's line
    try:
        await asyncio.sleep(0.05)
        q = "Tell me about a project."
        assert await writer.write("follow_up", q, ANSWER, time.monotonic() + 0.3) is None
        assert writer.stats.late == 1 and not standin.requests
        release.set()
        await holding
        assert not lines.busy
        assert await writer.write("follow_up", q, ANSWER, time.monotonic() + 5) == LINE
    finally:
        await writer.close()
        await standin.stop()


async def test_a_needed_line_goes_before_early_lines_that_queued_first():
    """While one line is written, an early line (written in a pause) and then another
    interview's needed line queue: the needed one is written next, then the early one."""
    lines = LinesInFlight()
    order: list[str] = []

    async def line(name: str, early: bool) -> None:
        async with lines.writing(lines.ticket(early=early)):
            order.append(name)

    release = asyncio.Event()
    holding = asyncio.create_task(_hold(lines, release))
    await asyncio.sleep(0.05)
    queued = [asyncio.create_task(line("early", True))]
    await asyncio.sleep(0.05)
    queued.append(asyncio.create_task(line("needed", False)))
    await asyncio.sleep(0.05)
    assert not order
    release.set()
    await asyncio.wait_for(asyncio.gather(holding, *queued), 2)
    assert order == ["needed", "early"] and not lines.busy


def _early(writer: LineWriter, question: str) -> None:
    """The candidate pauses after ANSWER: the writer starts its line early."""
    writer.expect_answer(question, "follow_up")
    writer.heard(ANSWER)
    writer.write_early()


@asynccontextmanager
async def _two_interviews():
    """Two interviews' writers (slots 0 and 1) queueing in one ``lines``, against a stand-in
    that takes 0.5 s to a streamed line's first token: (stand-in, lines, writers)."""
    standin = await OpenAIStandIn(_reply, first_token_s=0.5).start()
    lines = LinesInFlight()
    writers = _writer(standin, lines, 0), _writer(standin, lines, 1)
    try:
        yield standin, lines, writers
    finally:
        for w in writers:
            await w.close()
        await standin.stop()


async def test_an_early_line_gives_the_model_way_to_another_interviews_needed_line():
    """One candidate pauses and their line is being written early when another interview's turn
    ends: the early request is closed at once and the needed line written; the early one is then
    written again, and is still the turn's line when that candidate's turn ends there."""
    q = "Tell me about a project."
    async with _two_interviews() as (standin, lines, (pausing, done)):
        _early(pausing, q)
        await _until(lambda: _streamed(standin))
        needed = await done.write("follow_up", q, ANSWER, time.monotonic() + 3)
        assert needed == LINE
        early = await pausing.write("follow_up", q, ANSWER, time.monotonic() + 3)
    streamed = [(i, standin.requests[i]) for i in _streamed(standin)]
    assert [r["body"]["id_slot"] for _, r in streamed] == [0, 1, 0]
    (dropped, _), (_, second), (_, again) = streamed
    assert standin.gave_up == [dropped]  # closed before its first token
    assert again["at"] >= second["at"] + 0.5  # written again after the needed line
    assert early == LINE and pausing.stats.speculation_used == 1
    assert pausing.stats.gave_way == 1 and done.stats.gave_way == 0
    assert not lines.busy


async def test_an_early_line_whose_turn_ended_no_longer_gives_way():
    """The early line's own turn ends while it is written: it is needed now, and another
    interview's line that needs the model then waits for it instead of dropping it."""
    q = "Tell me about a project."
    async with _two_interviews() as (standin, lines, (first, second)):
        _early(first, q)
        await _until(lambda: _streamed(standin))
        own = asyncio.create_task(first.write("follow_up", q, ANSWER, time.monotonic() + 3))
        await asyncio.sleep(0.05)  # the turn ended: write() took the early line
        other = await second.write("follow_up", q, ANSWER, time.monotonic() + 3)
        assert await own == LINE and other == LINE
    streamed = [standin.requests[i]["body"]["id_slot"] for i in _streamed(standin)]
    assert streamed == [0, 1] and not standin.gave_up
    assert first.stats.gave_way == 0 and second.stats.queued == 1


async def test_a_prefill_waits_for_another_interviews_line_and_goes_in_its_own_turn():
    """The answer heard so far is not read while another interview's line is written, nor while
    this interview's own line waits behind it; in its own turn it is read first, then the line."""
    standin = await OpenAIStandIn(_reply).start()
    lines = LinesInFlight()
    writer = _writer(standin, lines, 1)
    release = asyncio.Event()
    holding = asyncio.create_task(_hold(lines, release))
    q = "Tell me about a project."
    try:
        await asyncio.sleep(0.05)
        writer.expect_answer(q, "follow_up")
        writer.heard(ANSWER)
        await asyncio.sleep(0.3)
        assert not standin.requests  # no prefill beside the other line
        writing = asyncio.create_task(writer.write("follow_up", q, ANSWER, time.monotonic() + 10))
        await asyncio.sleep(0.3)
        assert not standin.requests and not writing.done()  # queued behind it, prefill too
        release.set()
        await holding
        assert await asyncio.wait_for(writing, 5) == LINE
    finally:
        await writer.close()
        await standin.stop()
    prefill, streamed = (r["body"] for r in standin.requests)
    assert prefill["max_tokens"] == 1 and not prefill.get("stream") and streamed["stream"]
    assert prefill["id_slot"] == streamed["id_slot"] == 1
    assert writer.stats.queued == 1


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
        body = (await response.aread()).decode()
        if body.startswith("data:"):  # the scores, streamed: the figures come with the last chunk
            chunks = [json.loads(x[5:]) for x in body.splitlines() if x.startswith("data: {")]
            body = json.dumps(chunks[-1])
        timings.append(json.loads(body).get("timings") or {})

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


@pytest.mark.slow
async def test_on_llama_cpp_an_early_line_that_gives_way_stops_at_once(llm_server):
    """On llama.cpp: one interview's early line is being written when another's turn ends. Its
    request is closed and llama.cpp stops it (its slot idles while the needed line is written);
    it is written again after, and is that turn's line when the turn ends there."""
    from interviewer.lines import system_prompt
    from interviewer.plan import CandidateContext

    server = llm_server
    lines = LinesInFlight()
    pausing, done = (
        LineWriter(
            server.openai_client(timeout=120),
            server.model,
            system_prompt(MODE, CandidateContext()),
            slot=slot,
            write_on_finished_sentence=False,
            in_flight=lines,
        )
        for slot in (0, 1)
    )
    slots = httpx.AsyncClient(
        base_url=server.base_url.removesuffix("/v1"),
        headers={"Authorization": f"Bearer {server.api_key}"},
        verify=server.tls,
    )

    async def until_slot(slot: int, processing: bool, unless=lambda: False) -> None:
        """Until llama.cpp says ``slot`` is (not) processing a request; fail if ``unless()``."""
        for _ in range(3000):
            if (await slots.get("/slots")).json()[slot]["is_processing"] == processing:
                return
            assert not unless()
            await asyncio.sleep(0.01)
        raise AssertionError(f"slot {slot} never {'started' if processing else 'stopped'}")

    q = "Tell me about a project."
    try:
        pausing.expect_answer(q, "follow_up")
        pausing.heard(ANSWER)
        await _until(lambda: pausing.stats.prefills >= 1, 60)  # the answer so far is read
        pausing.write_early()
        await until_slot(0, True)  # the early line is being written
        needed = asyncio.create_task(done.write("follow_up", q, ANSWER, time.monotonic() + 60))
        await _until(lambda: pausing.stats.gave_way == 1, 10)
        await until_slot(0, False, unless=needed.done)  # llama.cpp stops the closed request ...
        assert not needed.done()  # ... while the needed line is still being written
        assert await needed
        assert await pausing.write("follow_up", q, ANSWER, time.monotonic() + 60)
    finally:
        await slots.aclose()
        for w in (pausing, done):
            await w.close()
    assert pausing.stats.speculation_used == 1 and pausing.stats.gave_way == 1
    assert done.stats.gave_way == 0
