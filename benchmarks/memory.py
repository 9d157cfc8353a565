"""The server's memory across interviews held one after another: does it give back what each took?

    python benchmarks/memory.py [--sessions 10] [--audio ../shared/audio/beckett.wav]

Starts the real server in its own process (the configured models, LLM=local by default),
holds ``--sessions`` interviews one at a time with the recording as the candidate's microphone
(real time, over the WebSocket), and reads the server's resident memory (VmRSS) 2 s after each
ends. The first interview warms the models' buffers; the growth per interview is the slope of a
least-squares line through the rest. A server that gives back what a session took stays flat.

The last line is for scripts: ``RESULT start_mb=N first_mb=N last_mb=N per_session_mb=X``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.latency import ServerProcess  # noqa: E402
from candidate.session_client import CandidateSession  # noqa: E402
from interviewer.audio import load_pcm16  # noqa: E402

SETTLE_S = 2.0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--audio", default=str(ROOT.parent / "shared" / "audio" / "beckett.wav"))
    parser.add_argument("--mode", default="technical")
    args = parser.parse_args()
    if args.sessions < 3:
        parser.error("--sessions: at least 3 (one warms up, the slope needs two more)")
    answer = load_pcm16(args.audio)
    with tempfile.TemporaryDirectory() as tmp:
        env = {"DATABASE_URL": f"sqlite:///{tmp}/memory.db", "RECORDINGS_DIR": f"{tmp}/rec"}
        server = ServerProcess([sys.executable, "-m", "web.server"], env)
        try:
            ready = server.wait_ready(300)
            start = server.mem_mb()
            async with httpx.AsyncClient() as client:
                llm = (await client.get(f"{server.url}/status", timeout=5)).json().get("llm")
            print(f"server ready in {ready:.1f} s, {start:.0f} MB (LLM: {llm})")
            after: list[float] = []
            for i in range(args.sessions):
                async with CandidateSession(server.url, args.mode) as session:
                    await session.interview([answer])
                await asyncio.sleep(SETTLE_S)
                after.append(server.mem_mb())
                print(f"after interview {i + 1:2d}: {after[-1]:6.0f} MB", flush=True)
        finally:
            server.stop()
    per = statistics.linear_regression(range(len(after) - 1), after[1:]).slope
    print(
        f"growth after the first interview: {after[-1] - after[0]:+.0f} MB over "
        f"{len(after) - 1} interviews, {per:+.1f} MB per interview (least squares)"
    )
    print(
        f"RESULT start_mb={start:.0f} first_mb={after[0]:.0f} last_mb={after[-1]:.0f} "
        f"per_session_mb={per:.1f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
