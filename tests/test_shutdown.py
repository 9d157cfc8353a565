"""SIGTERM mid-interview: the candidate hears a goodbye, the transcript and report are written,
and the process exits in time."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest

from candidate.session_client import CandidateSession
from interviewer.audio import synthesize
from interviewer.store import Store
from web.sessions import SHUTDOWN_GOODBYE

ROOT = Path(__file__).resolve().parents[1]
EXIT_WITHIN_S = 10.0  # the bound: goodbyes, transcripts and reports included


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _ready(url: str, proc, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            assert proc.returncode is None, "the server exited while starting"
            try:
                if (await http.get(f"{url}/status")).json().get("ready"):
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    pytest.fail("the server never became ready")


@pytest.mark.slow
async def test_sigterm_says_goodbye_writes_everything_and_exits(tmp_path, models):
    db_url = f"sqlite:///{tmp_path / 'interviews.db'}"
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "PORT": str(port), "HOST": "127.0.0.1"}
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "web.server", cwd=ROOT, env=env, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        await _ready(url, proc)
        answer = synthesize(
            models.piper_voice,
            "I led the move of our payments service to a new database without downtime.",
        )
        async with CandidateSession(url, "technical") as candidate:
            assert await candidate.hear_greeting()
            assert await candidate.answer(answer)
            replies = candidate.interviewer_turns()
            assert replies >= 2  # the greeting and a reply to the answer
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(candidate.closed.wait(), EXIT_WITHIN_S)
            await asyncio.wait_for(proc.wait(), EXIT_WITHIN_S - (time.monotonic() - t0))
            exited_s = time.monotonic() - t0
        print(f"SIGTERM to exit: {exited_s:.1f} s")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    server_log = log_path.read_text(errors="replace")
    heard = " ".join(t.text for t in candidate.log.turns if t.role == "interviewer")
    assert "the server is restarting" in heard, (heard, server_log[-3000:])
    ended = [m for m in candidate.log.server_messages if m.get("state") == "ended"]
    assert ended and ended[-1]["report_url"]

    rows = Store(db_url).list()
    assert len(rows) == 1 and rows[0]["status"] == "stopped"
    stored = Store(db_url).get(rows[0]["id"])
    roles = [t.role for t in stored.turns]
    assert roles[:3] == ["interviewer", "candidate", "interviewer"], roles
    assert "database without downtime" in stored.turns[1].text.lower()
    assert stored.turns[-1].role == "interviewer"
    assert SHUTDOWN_GOODBYE.split(",")[0] in stored.turns[-1].text
    assert stored.report is not None and stored.report.get("status", "stopped") == "stopped"
