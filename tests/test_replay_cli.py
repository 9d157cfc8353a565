"""`interviewer replay`: real speech files as the microphone, JSON out, clear errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REPLAY = [sys.executable, "-m", "web.cli", "replay"]


@pytest.mark.slow
def test_replay_transcribes_and_replies_with_latency(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/replay.db"}
    r = subprocess.run(
        [*REPLAY, "--mode", "technical", "../shared/audio/beckett.wav", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert out["mode"] == "technical"
    turns = out["turns"]
    assert turns[0]["role"] == "interviewer" and "technical project" in turns[0]["text"]
    heard = " ".join(t["text"] for t in turns if t["role"] == "candidate").lower()
    for word in ("tried", "no matter", "try again", "fail better"):
        assert word in heard, heard
    # The last interviewer line is a reply to the candidate's words, and its latency was
    # measured. The bound is a sanity check (a reply, not a timeout), not a speed limit: reply
    # latency is measured by `make bench` (benchmarks/latency.py).
    first_answer = next(i for i, t in enumerate(turns) if t["role"] == "candidate")
    replies = [t for t in turns[first_answer + 1 :] if t["role"] == "interviewer"]
    assert replies and replies[-1]["text"] and replies[-1]["latency_ms"] is not None
    assert 0 < replies[-1]["latency_ms"] < 60_000
    assert all({"role", "text", "start_ms", "end_ms", "latency_ms"} <= set(t) for t in turns)

    # The same interview is in the database, transcript and report, by its id.
    r2 = subprocess.run(
        [sys.executable, "-m", "web.cli", "report", out["interview_id"], "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )
    assert r2.returncode == 0, r2.stderr[-2000:]
    stored = json.loads(r2.stdout)
    assert stored["interview_id"] == out["interview_id"] and stored["status"] == "dropped"
    stored_heard = " ".join(
        t["text"] for t in stored["transcript"] if t["role"] == "candidate"
    ).lower()
    assert "fail better" in stored_heard
    assert (
        stored["report"]["kind"] == "measured" and stored["report"]["facts"]["candidate_turns"] >= 1
    )


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--json", "missing.wav"], "missing.wav: no such file"),
        (["--json", "pyproject.toml"], "pyproject.toml: no audio stream"),
        (["--json", "tests/__init__.py"], "tests/__init__.py: cannot decode audio"),
        (["--mode", "nope", "--json", "../shared/audio/beckett.wav"], "unknown mode"),
    ],
)
def test_replay_bad_input_is_one_clear_line_and_exit_2(args, needle):
    r = subprocess.run([*REPLAY, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 2
    assert needle in r.stderr and r.stderr.strip().count("\n") == 0
    assert r.stdout == ""
