"""Replies started in the pause, with an OpenAI-compatible LLM: first audio with and without.

``python benchmarks/speculation.py [--first-token-s 0.5] [--synthesized-only]``

The server runs in its own process with its LLM at a loopback stand-in that speaks the
OpenAI streaming protocol and takes ``--first-token-s`` to its first token, as a cloud model
does (tests/standins/openai_server.py). The benchmark's workload (benchmarks/latency.py: the
real recordings and every scenario) is replayed twice over the real WebSocket in real time:
``TURN_SPECULATE=false``, then ``true``. For each it prints end of speech to first interviewer
audio per kind of speech, the cut-ins, and the LLM requests: one per reply when no early reply
was dropped; each dropped one (the candidate went on) is a request given up before its first
token. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.latency import (  # noqa: E402
    ServerProcess,
    _kind,
    _pct,
    _workload,
    bench_server,
    mid_answer_pauses,
)
from tests.standins.openai_server import OpenAIStandIn  # noqa: E402

REPLY = "Thanks, that is helpful. What was the hardest part of it for you?"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--first-token-s", type=float, default=0.5)
    parser.add_argument("--synthesized-only", action="store_true")
    args = parser.parse_args()

    from piper import PiperVoice

    from interviewer.config import load_settings
    from interviewer.models import piper_voice_path

    voice = PiperVoice.load(str(piper_voice_path(load_settings())))
    workload = _workload(voice)
    if args.synthesized_only:
        workload = [w for w in workload if _kind(w[0]) == "synthesized"]
    pauses = await mid_answer_pauses(workload)
    results = {}
    for speculate in ("false", "true"):
        standin = await OpenAIStandIn(lambda _m: REPLY, first_token_s=args.first_token_s).start()
        server = ServerProcess(
            [sys.executable, "-m", "web.server"],
            {
                "DATABASE_URL": f"sqlite:////tmp/interviewer-spec-{os.getpid()}-{speculate}.db",
                "LLM": "openai",
                "OPENAI_BASE_URL": standin.url,
                "OPENAI_API_KEY": "sk-bench",
                "OPENAI_MODEL": "standin-1",
                "TURN_SPECULATE": speculate,
            },
        )
        try:
            server.wait_ready()
            label = f"TURN_SPECULATE={speculate}, first token after {args.first_token_s:.2f} s"
            results[speculate] = await bench_server(label, server, workload, pauses)
            streamed = sum(1 for r in standin.requests if r["body"].get("stream"))
            print(
                f"  LLM requests {streamed}, of which given up before the first token "
                f"(an early reply dropped) {len(standin.gave_up)}"
            )
        finally:
            server.stop()
            await standin.stop()
    print()
    for kind in ("real", "synthesized"):
        off, on = results["false"][kind], results["true"][kind]
        if off and on:
            print(
                f"{kind:<11} p50 {_pct(off, 50)} -> {_pct(on, 50)} ms, "
                f"p95 {_pct(off, 95)} -> {_pct(on, 95)} ms (n={len(off)}, {len(on)})"
            )


if __name__ == "__main__":
    asyncio.run(main())
