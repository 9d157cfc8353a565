"""Two server processes, one PostgreSQL: an interview on each, both reports read from the other."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from candidate.session_client import CandidateSession
from interviewer.audio import synthesize
from tests.pg import postgres  # noqa: F401  (fixture)
from tests.server_process import ServerProcess

pytestmark = pytest.mark.slow

FINAL_WORDS_SECS = 10.0


async def _interview(url: str, pcm: bytes) -> tuple[str, list[str]]:
    """One short interview; its report link and what the candidate was heard to say.

    The answer is decoded again once the reply has ended, and the page is told only when the
    words change; a page that leaves before that is told nothing while the report keeps the
    better words. So the candidate stays for the better words, or until they are evidently the
    same (no message within ``FINAL_WORDS_SECS``; ``benchmarks/final_words.py`` gives 1.1 s per
    synthesized turn of ~48 words, this one has 7).
    """
    async with CandidateSession(url, "technical", {"name": f"Candidate at {url}"}) as s:
        assert await s.hear_greeting(timeout_s=90, ready_s=60)
        assert await s.answer(pcm, timeout_s=90)
        assert s.log.replies(), s.log.turns  # answered, not only greeted
        deadline = time.monotonic() + FINAL_WORDS_SECS
        while time.monotonic() < deadline:
            if any(m.get("type") == "final-words" for m in s.log.server_messages):
                break
            await asyncio.sleep(0.1)
        started = [m for m in s.log.server_messages if m.get("state") == "started"]
    return started[0]["report_url"], s.log.texts("candidate")


async def _report(url: str, link: str, timeout_s: float = 60) -> dict:
    """The report once it is written (the session ends when its client leaves)."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=10) as http:
        while time.monotonic() < deadline:
            r = await http.get(f"{url}{link}.json")
            if r.status_code == 200 and r.json().get("status") != "active":
                return r.json()
            await asyncio.sleep(0.3)
    pytest.fail(f"no report at {url}{link}")


async def test_two_processes_one_database_reports_from_either(postgres, models, tmp_path):  # noqa: F811
    db_url = postgres.database()
    a, b = (ServerProcess(tmp_path / f"{n}.log", DATABASE_URL=db_url) for n in "ab")
    for server in (a, b):
        server.env["PUBLIC_URL"] = server.url  # each process names itself
    try:
        await asyncio.gather(a.start(), b.start())

        # A /start that came through a proxy still points the page at the process that granted it.
        async with httpx.AsyncClient(timeout=10) as http:
            granted = await http.post(
                f"{a.url}/start", json={"body": {}}, headers={"Host": "proxy.example"}
            )
        assert granted.json()["wsUrl"] == f"ws://127.0.0.1:{a.port}/ws-client"

        pcm_a = synthesize(models.piper_voice, "I led the payments migration to PostgreSQL.")
        pcm_b = synthesize(models.piper_voice, "I built the search service for our recipes.")
        (link_a, said_a), (link_b, said_b) = await asyncio.gather(
            _interview(a.url, pcm_a), _interview(b.url, pcm_b)
        )
        # Each report, from the other process.
        report_a = await _report(b.url, link_a)
        report_b = await _report(a.url, link_b)
    finally:
        await asyncio.gather(a.stop(), b.stop())

    assert report_a["candidate"]["name"] == f"Candidate at {a.url}"
    assert report_b["candidate"]["name"] == f"Candidate at {b.url}"
    text_a = " ".join(t["text"] for t in report_a["transcript"] if t["role"] == "candidate")
    text_b = " ".join(t["text"] for t in report_b["transcript"] if t["role"] == "candidate")
    assert "payments" in text_a.lower() and "recipes" in text_b.lower()
    assert text_a.strip() == " ".join(said_a).strip() and text_b.strip() == " ".join(said_b).strip()
    assert report_a["interview_id"] != report_b["interview_id"]
