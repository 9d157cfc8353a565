"""Persistence: every turn written as it happens, on SQLite and on a real PostgreSQL server."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from candidate.session_client import CandidateSession
from interviewer.audio import synthesize
from interviewer.store import Store, now_utc
from tests.pg import TempPostgres, _free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def postgres():
    pg = TempPostgres().start()
    yield pg
    pg.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/interviews.db"
    return request.getfixturevalue("postgres").url


def test_store_round_trip(db_url):
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
def test_killed_server_loses_no_completed_turn(db_url, models):
    """Hold a real interview against a server process, SIGKILL it mid-turn, read the database."""
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
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/status", timeout=2).json().get("ready"):
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        answer = synthesize(
            models.piper_voice,
            "I run the payments platform team and I care about reliability above all.",
        )
        second = synthesize(
            models.piper_voice,
            "The hardest bug I ever tracked down was a race condition in our job scheduler that "
            * 2,
        )

        async def converse():
            async with CandidateSession(url, "technical") as s:
                await s.hear_greeting()
                await s.answer(answer)
                s.speak(second)
                await asyncio.sleep(2.5)  # mid-sentence
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                return s.log

        log = asyncio.run(converse())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    heard = [t.text for t in log.turns if t.role == "candidate"]
    said = [t.text for t in log.turns if t.role == "interviewer"]
    rows = [r for r in Store(db_url).list() if r["mode"] == "technical"]
    assert len(rows) == 1 and rows[0]["status"] == "active"  # killed: never got to finish
    stored = Store(db_url).get(rows[0]["id"])
    roles = [t.role for t in stored.turns]
    assert roles[:3] == ["interviewer", "candidate", "interviewer"], roles
    assert "technical project" in stored.turns[0].text
    assert stored.turns[1].text.lower().startswith(heard[0].lower()[:20])
    assert said[1].split()[0].lower() in stored.turns[2].text.lower()
    assert stored.turns[2].latency_ms is not None
