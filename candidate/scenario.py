"""Scripted candidate scenarios (scenarios/*.yaml) replayed through the real server.

A scenario lists candidate turns, each an audio file (any format ffmpeg reads; paths
relative to the project root) or text spoken by the local Piper voice, and what must
happen: words heard, words in the interviewer's reply, questions asked in order, and
for a barge-in how quickly the interviewer fell silent.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bots import get_mode
from candidate.session_client import CandidateSession
from interviewer.audio import load_pcm16, synthesize

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_DIR = ROOT / "scenarios"


@dataclass
class ScenarioTurn:
    """One candidate turn of a scenario."""

    audio: str | None = None
    say: str | None = None
    heard: list[str] = field(default_factory=list)
    reply_contains: list[str] = field(default_factory=list)
    barge_in_after_ms: int | None = None


@dataclass
class Scenario:
    """A scenario file, parsed."""

    name: str
    mode: str
    turns: list[ScenarioTurn]
    expect: dict[str, Any]
    path: Path | None = None

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        """Parse a scenario YAML file."""
        data = yaml.safe_load(Path(path).read_text())
        turns = [ScenarioTurn(**t) for t in data["turns"]]
        for t in turns:
            if (t.audio is None) == (t.say is None):
                raise ValueError(f"{path}: each turn needs exactly one of 'audio' or 'say'")
        return cls(data["name"], data["mode"], turns, data.get("expect") or {}, Path(path))


def all_scenarios() -> list[Path]:
    """Every scenario file in the project."""
    return sorted(SCENARIO_DIR.glob("*.yaml"))


@dataclass
class TurnOutcome:
    """What happened after one candidate turn."""

    heard: str
    reply: str
    latency_ms: int | None
    stop_ms: int | None = None
    replied: bool = False


@dataclass
class ScenarioResult:
    """The outcome of one replay, and the failed checks (empty when it passed)."""

    scenario: Scenario
    session: CandidateSession
    outcomes: list[TurnOutcome]
    failures: list[str]


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", "", text.lower())


async def run_scenario(base_url: str, scenario: Scenario, voice: Any) -> ScenarioResult:
    """Replay ``scenario`` against the server at ``base_url``; ``voice`` speaks 'say' turns."""
    audio = [
        load_pcm16(ROOT / t.audio) if t.audio else synthesize(voice, t.say or "")
        for t in scenario.turns
    ]
    outcomes: list[TurnOutcome] = []
    async with CandidateSession(base_url, scenario.mode) as session:
        await session.hear_greeting()
        for i, (turn, pcm) in enumerate(zip(scenario.turns, audio, strict=True)):
            if session.closed.is_set():
                break
            n_turns = len(session.log.turns)
            barge_at = None
            if turn.barge_in_after_ms is not None:
                # Talk over the interviewer's reply to the previous turn, while it is audible
                # (a reply may pause while a model writes its next line).
                await asyncio.sleep(turn.barge_in_after_ms / 1000)
                await _wait_bot_audible(session, timeout_s=30)
                barge_at = session.now_ms()
            session.speak(pcm)
            await session.drain()
            next_turn = scenario.turns[i + 1] if i + 1 < len(scenario.turns) else None
            if next_turn is not None and next_turn.barge_in_after_ms is not None:
                await _wait_bot_reply_started(session, timeout_s=30)
            else:
                await session.wait_bot_done(timeout_s=60)
            new = session.log.turns[n_turns:]
            heard = " ".join(t.text for t in new if t.role == "candidate")
            replies = [t for t in new if t.role == "interviewer"]
            reply = " ".join(t.text for t in replies)
            latency = next((t.latency_ms for t in replies if t.latency_ms is not None), None)
            stop_ms = _stop_ms(session, barge_at) if barge_at is not None else None
            outcomes.append(TurnOutcome(heard, reply, latency, stop_ms, replied=bool(replies)))
    return ScenarioResult(scenario, session, outcomes, _check(scenario, session, outcomes))


async def _wait_bot_reply_started(session: CandidateSession, timeout_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    start = session.now_ms()
    while asyncio.get_running_loop().time() < deadline:
        last = session.log.turns[-1] if session.log.turns else None
        if last is not None and last.role == "interviewer" and last.start_ms >= start - 50:
            return
        await asyncio.sleep(0.02)


async def _wait_bot_audible(session: CandidateSession, timeout_s: float) -> None:
    """Wait until the interviewer's voice is playing at this moment."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if session.bot_audio_times and session.bot_audio_times[-1] > session.now_ms() + 20:
            return
        await asyncio.sleep(0.01)


def _stop_ms(session: CandidateSession, barge_at: int) -> int | None:
    """How long the interviewer's audio went on after the candidate started talking over it."""
    times = [t for t in session.bot_audio_times if t >= barge_at]
    last = barge_at
    for t in times:
        if t - last > 300:  # a gap: the interrupted reply has ended, the next one began
            break
        last = t
    return last - barge_at


def _check(scenario: Scenario, session: CandidateSession, outcomes: list[TurnOutcome]) -> list[str]:
    failures: list[str] = []
    for i, (turn, out) in enumerate(zip(scenario.turns, outcomes, strict=False), 1):
        for word in turn.heard:
            if _norm(word) not in _norm(out.heard):
                failures.append(
                    f"turn {i}: candidate said {word!r} but the server heard {out.heard!r}"
                )
        if not out.replied:
            failures.append(f"turn {i}: the interviewer did not answer")
        for word in turn.reply_contains:
            if _norm(word) not in _norm(out.reply):
                failures.append(f"turn {i}: reply {out.reply!r} lacks {word!r}")
    if len(outcomes) < len(scenario.turns):
        failures.append(f"session ended after {len(outcomes)} of {len(scenario.turns)} turns")
    expect = scenario.expect
    bot_texts = session.log.texts("interviewer")
    if expect.get("min_interviewer_turns") and len(bot_texts) < expect["min_interviewer_turns"]:
        failures.append(f"only {len(bot_texts)} interviewer turns")
    if expect.get("questions_in_order"):
        questions = [q.text for q in get_mode(scenario.mode).questions]
        said = _norm(" ".join(bot_texts))
        positions = [said.find(_norm(q)) for q in questions]
        asked = [p for p in positions if p >= 0]
        if not asked:
            failures.append("no planned question was asked")
        if asked != sorted(asked) or -1 in positions[: len(asked)]:
            failures.append(f"planned questions not asked in order: positions {positions}")
    if expect.get("interrupted"):
        stops = [o.stop_ms for o in outcomes if o.stop_ms is not None]
        if not any(t.interrupted for t in session.log.turns):
            failures.append("the interviewer was never interrupted")
        limit = expect.get("max_stop_ms", 1000)
        if stops and max(stops) > limit:
            failures.append(
                f"interviewer kept talking {max(stops)} ms after being interrupted (limit {limit})"
            )
    return failures
