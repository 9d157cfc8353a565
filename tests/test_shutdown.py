"""SIGTERM mid-interview: every live candidate hears a goodbye, every transcript and report is
written, and the process exits in time."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time

import httpx
import pytest

from candidate.session_client import CandidateSession
from interviewer.audio import synthesize
from interviewer.store import Store
from tests.server_process import ServerProcess
from web.sessions import SHUTDOWN_GOODBYE

EXIT_WITHIN_S = 10.0  # the bound: goodbyes, transcripts and reports included
GOODBYE = "the server is restarting"

ANSWERS = {  # mode -> what its candidate says (each a word the other never says)
    "technical": "I led the move of our payments service to a new database without downtime.",
    "behavioral": "I once calmed an angry customer by listening to every complaint first.",
}
KEYS = {"technical": "database", "behavioral": "customer"}


def _interview_id(candidate: CandidateSession) -> str:
    started = [m for m in candidate.log.server_messages if m.get("state") == "started"]
    assert started and started[0]["interview_id"], candidate.log.server_messages
    return started[0]["interview_id"]


@pytest.mark.slow
async def test_sigterm_says_goodbye_in_every_session_writes_everything_and_exits(tmp_path, models):
    db_url = f"sqlite:///{tmp_path / 'interviews.db'}"
    server = await ServerProcess(tmp_path / "server.log", DATABASE_URL=db_url).start()
    proc, url = server.proc, server.url
    answers = {mode: synthesize(models.piper_voice, text) for mode, text in ANSWERS.items()}
    candidates = {mode: CandidateSession(url, mode) for mode in ANSWERS}
    try:
        async with candidates["technical"], candidates["behavioral"]:

            async def converse(mode: str) -> None:
                candidate = candidates[mode]
                assert await candidate.hear_greeting(), mode
                assert await candidate.answer(answers[mode]), mode

            await asyncio.gather(*(converse(mode) for mode in ANSWERS))
            for mode, candidate in candidates.items():  # both live, both answered
                replies = candidate.log.replies()
                assert not candidate.closed.is_set() and replies, (mode, candidate.log.turns)
                assert KEYS[mode] in replies[-1][0].text.lower(), (mode, replies)
            signalled_ms = {mode: c.now_ms() for mode, c in candidates.items()}
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(
                asyncio.gather(*(c.closed.wait() for c in candidates.values())), EXIT_WITHIN_S
            )
            await asyncio.wait_for(proc.wait(), EXIT_WITHIN_S - (time.monotonic() - t0))
            exited_s = time.monotonic() - t0
            by_server = {mode: c.log.closed_by_server for mode, c in candidates.items()}
        print(f"\nSIGTERM with {len(candidates)} live sessions to exit: {exited_s:.1f} s")
    finally:
        await server.stop()
    server_log = server.tail()
    assert exited_s < EXIT_WITHIN_S

    store = Store(db_url)
    rows = {row["id"]: row for row in store.list()}
    assert len(rows) == len(candidates), rows
    for mode, candidate in candidates.items():
        # The candidate heard the goodbye: audible audio after the signal, and its words
        # reported spoken after the signal.
        heard = " ".join(
            d["text"]
            for t, d in candidate.log.of_type("bot-output")
            if t >= signalled_ms[mode] and d.get("spoken_status") == "completed"
        )
        audible_after = [t for t in candidate.bot_audio_times if t > signalled_ms[mode]]
        print(f"  {mode}: heard after SIGTERM: {heard!r} ({len(audible_after)} audible chunks)")
        assert GOODBYE in heard and audible_after, (mode, candidate.log.turns, server_log[-3000:])
        assert by_server[mode], mode
        ended = [m for m in candidate.log.server_messages if m.get("state") == "ended"]
        assert ended and ended[-1]["report_url"], mode

        # Its transcript and report were written, as an interview stopped by the server.
        interview_id = _interview_id(candidate)
        assert rows[interview_id]["status"] == "stopped", (mode, rows[interview_id])
        stored = store.get(interview_id)
        assert stored.status == "stopped"
        roles = [t.role for t in stored.turns]
        assert roles[:3] == ["interviewer", "candidate", "interviewer"], (mode, roles)
        assert KEYS[mode] in stored.turns[1].text.lower(), (mode, stored.turns[1].text)
        assert stored.turns[-1].role == "interviewer"
        assert SHUTDOWN_GOODBYE.split(",")[0] in stored.turns[-1].text, stored.turns[-1].text
        assert stored.report is not None and stored.report["status"] == "stopped", (
            mode,
            stored.report,
        )
        print(
            f"  {mode}: stored {len(stored.turns)} turns, report status {stored.report['status']}"
        )


# The server, with goodbyes that are spoken but never end their session (as if the audio
# could not be delivered, or the voice hung): only the server's own bound ends them.
STALLED_GOODBYE_SERVER = """
from pipecat.frames.frames import InterruptionFrame, TTSSpeakFrame

import bots.pipeline
from web.server import main


async def say_goodbye_that_never_ends(self, line):
    await self.worker.queue_frames([InterruptionFrame(), TTSSpeakFrame(line)])


bots.pipeline.Interview.say_goodbye = say_goodbye_that_never_ends
main()
"""


@pytest.mark.slow
async def test_sigterm_exits_in_time_when_a_goodbye_never_ends(tmp_path, models):
    """A goodbye that never ends its session cannot hold the exit past 10 s, and the
    session's transcript and report are still written."""
    import sys

    from tests.server_process import READY_S, ROOT, free_port, server_env

    db_url = f"sqlite:///{tmp_path / 'interviews.db'}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            STALLED_GOODBYE_SERVER,
            cwd=ROOT,
            env=server_env(port, DATABASE_URL=db_url),
            stdout=out,
            stderr=out,
        )
    try:
        async with httpx.AsyncClient(timeout=2) as http:

            async def ready() -> bool:
                assert proc.returncode is None, log.read_text(errors="replace")[-3000:]
                with contextlib.suppress(httpx.HTTPError):
                    return (await http.get(f"{url}/status")).json().get("ready", False)
                return False

            deadline = time.monotonic() + READY_S
            while not await ready():  # noqa: ASYNC110 (the server process has no event to wait on)
                assert time.monotonic() < deadline, "the server never became ready"
                await asyncio.sleep(0.3)
        async with CandidateSession(url, "technical") as candidate:
            assert await candidate.hear_greeting()
            assert await candidate.answer(synthesize(models.piper_voice, ANSWERS["technical"]))
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), EXIT_WITHIN_S + 20)
            exited_s = time.monotonic() - t0
        print(f"\nSIGTERM with a goodbye that never ends to exit: {exited_s:.1f} s")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    server_log = log.read_text(errors="replace")
    assert exited_s < EXIT_WITHIN_S, server_log[-3000:]
    # The drain itself ended the session and wrote its report, before the server's shutdown.
    assert "every interview has ended" in server_log, server_log[-3000:]
    heard = " ".join(candidate.log.texts("interviewer"))
    assert GOODBYE in heard
    store = Store(db_url)
    (row,) = store.list()
    stored = store.get(row["id"])
    assert stored.status == "stopped" and stored.report["status"] == "stopped", row
    assert SHUTDOWN_GOODBYE.split(",")[0] in stored.turns[-1].text, stored.turns
