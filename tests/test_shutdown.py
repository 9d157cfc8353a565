"""SIGTERM mid-interview: the candidate hears a goodbye, the transcript and report are written,
and the process exits in time."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from candidate.session_client import CandidateSession
from interviewer.audio import synthesize
from interviewer.store import Store
from tests.server_process import ServerProcess
from web.sessions import SHUTDOWN_GOODBYE

EXIT_WITHIN_S = 10.0  # the bound: goodbyes, transcripts and reports included


@pytest.mark.slow
async def test_sigterm_says_goodbye_writes_everything_and_exits(tmp_path, models):
    db_url = f"sqlite:///{tmp_path / 'interviews.db'}"
    server = await ServerProcess(tmp_path / "server.log", DATABASE_URL=db_url).start()
    proc, url = server.proc, server.url
    try:
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
        await server.stop()
    server_log = server.tail()
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
