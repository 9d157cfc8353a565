"""Several candidates answering at once: does the pipeline keep up with real time?

    python benchmarks/backlog.py [--sessions 4] [--hold 45]

Runs the real server in this process (scripted brain, shared models) and holds ``--sessions``
behavioural interviews at once, each candidate answering with one synthesized sentence for
``--hold`` seconds (they all hear the same questions, so they finish speaking together: the
worst case for two cores). Prints, from inside the server:

- the deepest input queue of each session's user aggregator, in 20 ms audio frames. Every
  frame of the candidate's audio passes through it (VAD, turn detection); past a few frames
  the interview runs behind the candidate's voice, and pipecat's 5 s turn timeout can end a
  turn before its transcript arrives;
- turns pipecat ended by that timeout (none is healthy);
- the server event loop's lag (a 50 ms sleep, measured), and each reply's latency as the
  candidate's side heard it.

Run it on a quiet machine: anything else on the two cores changes every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("LLM", "scripted")


async def _loop_lag(samples: list[float]) -> None:
    while True:
        t = time.perf_counter()
        await asyncio.sleep(0.05)
        samples.append(time.perf_counter() - t - 0.05)


async def _aggregator_queues(peaks: list[int]) -> None:
    """Every 0.5 s, the deepest input queue among the live user aggregators."""
    from pipecat.processors.aggregators.llm_response_universal import LLMUserAggregator

    aggregators: list = []
    for tick in range(10**9):
        await asyncio.sleep(0.5)
        if tick % 10 == 0:  # sessions come and go: look for them again every 5 s
            aggregators = [o for o in gc.get_objects() if isinstance(o, LLMUserAggregator)]
        queues = [getattr(a, "_FrameProcessor__input_queue", None) for a in aggregators]
        peaks.append(max((q.qsize() for q in queues if q is not None), default=0))


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--hold", type=float, default=45.0, help="seconds each candidate answers")
    args = parser.parse_args()

    from loguru import logger

    from interviewer.audio import synthesize
    from interviewer.config import load_settings
    from interviewer.models import ModelBank
    from tests.conftest import ThreadedServer
    from tests.test_load import SENTENCES, held_session

    logger.remove()
    timeouts: list[str] = []
    logger.add(
        lambda m: timeouts.append(str(m)),
        level="DEBUG",
        filter=lambda r: "(strategy: None)" in r["message"],
    )
    settings = load_settings(DATABASE_URL=f"sqlite:///{tempfile.mkdtemp()}/interviews.db")
    models = ModelBank.load(settings)
    server = ThreadedServer(settings, models).start()
    words = list(SENTENCES)[: args.sessions] if args.sessions <= len(SENTENCES) else None
    if words is None:
        raise SystemExit(f"--sessions is at most {len(SENTENCES)}")
    pcms = {w: synthesize(models.piper_voice, SENTENCES[w]) for w in words}
    lags: list[float] = []
    peaks: list[int] = []
    monitors = [
        asyncio.run_coroutine_threadsafe(_loop_lag(lags), server._loop),
        asyncio.run_coroutine_threadsafe(_aggregator_queues(peaks), server._loop),
    ]
    try:
        results = await asyncio.gather(
            *(held_session(server.url, w, pcms[w], args.hold) for w in words)
        )
    finally:
        for m in monitors:
            m.cancel()
        server.stop()
        models.close()

    latencies = [
        t.latency_ms
        for _, s, _, _ in results
        for t in s.log.turns
        if t.role == "interviewer" and t.latency_ms
    ]
    answered = sum(len(s.log.replies()) for _, s, _, _ in results)
    given = sum(turns for _, _, turns, _ in results)
    print(f"{args.sessions} sessions at once, {args.hold:.0f} s of answers each")
    print(
        f"  user aggregator input queue (frames of 20 ms): peak {max(peaks, default=0)}, "
        f"p90 {_pct(peaks, 0.9):.0f}"
    )
    print(f"  turns ended by pipecat's 5 s timeout: {len(timeouts)}")
    print(
        f"  server loop lag (ms): p50 {1000 * _pct(lags, 0.5):.0f}, p90 {1000 * _pct(lags, 0.9):.0f}, "
        f"p99 {1000 * _pct(lags, 0.99):.0f}, max {1000 * max(lags, default=0):.0f}"
    )
    print(f"  answers {given}, answered {answered}")
    print(
        f"  reply latency (ms): p50 {_pct(latencies, 0.5):.0f}, p95 {_pct(latencies, 0.95):.0f}, "
        f"max {max(latencies, default=0):.0f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
