"""Persistence: every turn written as it happens, on SQLite and on a real PostgreSQL server."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bots import get_mode
from candidate.session_client import CandidateSession
from interviewer.audio import SAMPLE_RATE, synthesize
from interviewer.scripted import ScriptedInterviewer
from interviewer.store import Store, now_utc
from tests.pg import _free_port, db_url, postgres  # noqa: F401  (fixtures)
from tests.server_process import wait_ready

ROOT = Path(__file__).resolve().parent.parent


def _words(text: str) -> str:
    return " ".join(text.split())


async def _until(condition, timeout_s: float = 30.0) -> None:
    """Wait until ``condition()`` holds (checked every 20 ms); fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


def test_store_round_trip(db_url):  # noqa: F811
    store = Store(db_url)
    iid, token = store.create_interview("behavioral", {"name": "Ada", "role": "SRE"}, "scripted")
    t0 = now_utc()
    store.add_turn(
        iid, "interviewer", "Hello, tell me about yourself.", t0, now_utc(), question_index=0
    )
    store.add_turn(iid, "candidate", "I run databases.", t0, now_utc(), question_index=0)
    store.add_turn(
        iid,
        "interviewer",
        "Thanks.",
        t0,
        now_utc(),
        latency_ms=640,
        interrupted=True,
        question_index=0,
    )
    store.finish(iid, "ended", report={"kind": "measured"})
    got = store.get_by_token(token)
    assert [t.role for t in got.turns] == ["interviewer", "candidate", "interviewer"]
    assert [t.seq for t in got.turns] == [0, 1, 2]
    assert got.turns[2].latency_ms == 640 and got.turns[2].interrupted
    assert (
        got.status == "ended"
        and got.report == {"kind": "measured"}
        and got.candidate["role"] == "SRE"
    )
    assert got.started_at.tzinfo is not None
    assert store.get_by_token("not-the-token") is None and store.get_by_token(token + "x") is None
    assert any(
        row["id"] == iid for row in Store(db_url).list()
    )  # a second engine sees it: committed


@pytest.mark.slow
def test_killed_server_loses_no_completed_turn(db_url, models):  # noqa: F811
    """Hold a real interview against a server process, SIGKILL it mid-answer, read the database.

    Every turn completed before the kill is stored in full (role, text, seq, question,
    interrupted, latency, times) as the candidate heard and said it; the answer being spoken
    when the server died is not.
    """
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "PORT": str(port), "HOST": "127.0.0.1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "web.server"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        answer = synthesize(
            models.piper_voice,
            "I run the payments platform team and I care about reliability above all.",
        )
        second = synthesize(
            models.piper_voice,
            "The hardest bug I ever tracked down was a race condition in our job scheduler that "
            * 2,
        )
        second_ms = 1000 * len(second) / 2 / SAMPLE_RATE

        async def converse():
            async with CandidateSession(url, "technical") as s:
                assert await s.hear_greeting()
                assert await s.answer(answer)
                completed = len(s.log.turns)
                began = s.now_ms()
                s.speak(second)
                # Mid-sentence: the server has heard the second answer begin, not end.
                await _until(
                    lambda: any(t >= began for t, _ in s.log.of_type("user-started-speaking"))
                )
                proc.send_signal(signal.SIGKILL)
                killed_at = now_utc()
                assert s.now_ms() - began < second_ms  # the candidate was still speaking
                assert not any(t >= began for t, _ in s.log.of_type("user-stopped-speaking"))
                proc.wait(10)
                return s.log.turns[:completed], killed_at

        seen, killed_at = asyncio.run(converse())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    rows = [r for r in Store(db_url).list() if r["mode"] == "technical"]
    assert len(rows) == 1 and rows[0]["status"] == "active"  # killed: never got to finish
    stored = Store(db_url).get(rows[0]["id"])

    # What the candidate saw complete: the greeting, their answer, the reply to it.
    assert [t.role for t in seen] == ["interviewer", "candidate", "interviewer"], seen
    assert not any(t.interrupted for t in seen)
    # What the scripted interviewer says, given what was heard of the answer.
    mode = get_mode("technical")
    script = ScriptedInterviewer(mode)
    greeting = script.opening()
    reply = script.reply(seen[1].text)
    expected = [
        # seq, role, text, question, interrupted, has latency
        (0, "interviewer", greeting.text, 0, False, False),
        (1, "candidate", seen[1].text, 0, False, False),
        (2, "interviewer", reply.text, reply.question_index, False, True),
    ]
    assert [
        (t.seq, t.role, t.text, t.question_index, t.interrupted, t.latency_ms is not None)
        for t in stored.turns
    ] == [(seq, role, _words(text), q, i, lat) for seq, role, text, q, i, lat in expected]
    assert [t.text for t in stored.turns] == [_words(t.text) for t in seen]  # as heard and said
    # The server measured the reply's latency from the end of speech as the candidate did
    # (their clocks differ by the VAD's stop time and the network: a bound on agreement, not speed).
    assert abs(stored.turns[2].latency_ms - seen[2].latency_ms) < 1500
    for before, turn in zip([None, *stored.turns], stored.turns, strict=False):
        assert stored.started_at <= turn.started_at <= turn.ended_at <= killed_at
        if before is not None:
            assert before.ended_at <= turn.ended_at and before.started_at <= turn.started_at
