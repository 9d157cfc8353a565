"""What a connected session costs the server while the candidate is silent.

Starts the server (``python -m web.server``) in its own process, connects ``--sessions``
candidates over the real WebSocket, each streaming a microphone's 20 ms chunks of silence in
real time (digital zeros, or a room's noise floor with ``--room-dbfs``), waits until each has
heard the greeting, then reads the server's CPU time (/proc) over ``--seconds`` (under the
plan's 20 s silence nudge, so nothing is said in the window). The candidate is silent between
answers while they think; the VAD and the pipeline still see 50 chunks a second. Each round
connects new sessions to the same server; the figure is the median.

Run it on a quiet machine (the clients run in this process, on the same two cores):

    python benchmarks/session_cpu.py [--sessions 6] [--seconds 15] [--rounds 3] [--llm scripted]
                                     [--room-dbfs -70]

The last line is for scripts: ``RESULT sessions=N idle_pct=X per_session_pct=Y``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.latency import ServerProcess  # noqa: E402
from candidate.session_client import CandidateSession  # noqa: E402


async def cpu_pct(server: ServerProcess, seconds: float) -> float:
    """The server's CPU over ``seconds``, in % of one core."""
    cpu0, t0 = server.cpu_s(), time.monotonic()
    await asyncio.sleep(seconds)
    return 100 * (server.cpu_s() - cpu0) / (time.monotonic() - t0)


async def silent_round(
    server: ServerProcess, n: int, seconds: float, mode: str, room_dbfs: float | None
) -> float:
    """The server's CPU with ``n`` silent sessions connected, past their greetings."""
    sessions = [CandidateSession(server.url, mode, room_dbfs=room_dbfs) for _ in range(n)]
    try:
        for s in sessions:
            await s.__aenter__()
        heard = await asyncio.gather(*(s.hear_greeting() for s in sessions))
        if not all(heard):
            raise RuntimeError(f"only {sum(heard)} of {n} sessions heard the greeting")
        await asyncio.gather(*(s.wait_bot_done() for s in sessions))
        await asyncio.sleep(1.0)  # past the greeting's last chunks and the face's change
        return await cpu_pct(server, seconds)
    finally:
        for s in sessions:
            await s.__aexit__(None, None, None)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=6, help="silent sessions at once")
    ap.add_argument("--seconds", type=float, default=15.0, help="one measurement (< 20 s)")
    ap.add_argument("--rounds", type=int, default=3, help="measurements, each with new sessions")
    ap.add_argument("--llm", default="scripted", help="LLM= for the server (default scripted)")
    ap.add_argument("--mode", default="behavioral", help="the interview mode")
    ap.add_argument(
        "--room-dbfs",
        type=float,
        default=None,
        help="the microphones' noise floor (RMS dBFS, e.g. -70 for a quiet room); default zeros",
    )
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(
            [sys.executable, "-m", "web.server"],
            {"DATABASE_URL": f"sqlite:///{tmp}/i.db", "MAX_SESSIONS": "32", "LLM": args.llm},
        )
        try:
            print(f"server ready in {server.wait_ready():.1f} s", flush=True)
            await asyncio.sleep(3.0)
            idle = await cpu_pct(server, args.seconds)
            print(f"no session: {idle:.1f} % of a core", flush=True)
            rounds = []
            for _ in range(args.rounds):
                pct = await silent_round(
                    server, args.sessions, args.seconds, args.mode, args.room_dbfs
                )
                rounds.append(pct)
                print(
                    f"{args.sessions} silent sessions: {pct:.1f} % of a core "
                    f"({pct / args.sessions:.2f} each)",
                    flush=True,
                )
                await asyncio.sleep(2.0)  # the sessions wind down
        finally:
            server.stop()
    median = statistics.median(rounds)
    print(
        f"RESULT sessions={args.sessions} idle_pct={idle:.1f} "
        f"per_session_pct={median / args.sessions:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
