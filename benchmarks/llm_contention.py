"""The local model's speed when another thread holds one of the two cores, by OpenMP spin count.

    python benchmarks/llm_contention.py [--spins 300000 3000 0] [--tokens 20]

For each spin count (``LLM_BARRIER_SPINS``; 300000 is libgomp's default), a fresh process starts
the offline interviewer model as the server does (``LocalLLMServer.start``: two threads at the
model's lower CPU priority) and writes ``--tokens`` tokens three times: on idle cores, then beside
one busy thread at normal priority (a stand-in for a transcript or the other session's audio).
Prints llama.cpp's own milliseconds per generated token.

The last line is for scripts: ``RESULT spins=N idle_ms=X busy_ms=Y ...`` for each count.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MESSAGES = [
    {"role": "system", "content": "You are Sam, interviewing a candidate. One short question."},
    {
        "role": "user",
        "content": "Candidate's answer: I have spent six years building backend systems, most "
        "recently leading a small payments team. Ask a follow-up question.",
    },
]
BUSY = "import os\nos.setpriority(os.PRIO_PROCESS, 0, 0)\nwhile True: pass"


def ms_per_token(server, tokens: int) -> float:
    """llama.cpp's milliseconds per generated token for one completion of ``tokens`` tokens."""
    body = {
        "model": server.model,
        "messages": MESSAGES,
        "max_tokens": tokens,
        "ignore_eos": True,
        "temperature": 0.2,
        "seed": 7,
        "id_slot": 0,
        "cache_prompt": True,
    }
    request = urllib.request.Request(
        server.base_url + "/chat/completions",
        json.dumps(body).encode(),
        {"Content-Type": "application/json", "Authorization": f"Bearer {server.api_key}"},
    )
    with urllib.request.urlopen(request, timeout=600) as r:
        return json.loads(r.read())["timings"]["predicted_per_token_ms"]


def measure(tokens: int) -> None:
    """In this process (LLM_BARRIER_SPINS set by the caller): print idle and busy figures as JSON."""
    from interviewer.config import load_settings
    from interviewer.local_llm import LocalLLMServer

    server = LocalLLMServer.start(load_settings())
    try:
        ms_per_token(server, tokens)  # the prompt read once, the threads started
        idle = [ms_per_token(server, tokens) for _ in range(3)]
        busy_thread = subprocess.Popen([sys.executable, "-c", BUSY])
        try:
            busy = [ms_per_token(server, tokens) for _ in range(3)]
        finally:
            busy_thread.kill()
    finally:
        server.stop(idle_timeout_s=0)
    print(json.dumps({"idle": idle, "busy": busy}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spins", type=int, nargs="+", default=[300000, 3000, 0])
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measure(args.tokens)
        return
    print(
        f"ms per token, {args.tokens} tokens a line, 3 lines each (median [all]); {os.cpu_count()} cores"
    )
    results = []
    for spins in args.spins:
        env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
        env |= {"LLM": "local", "MAX_SESSIONS": "1", "LLM_BARRIER_SPINS": str(spins)}
        done = subprocess.run(
            [sys.executable, __file__, "--child", "--tokens", str(args.tokens)],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(
                f"LLM_BARRIER_SPINS={spins}: the model did not run:\n{done.stderr[-2000:]}"
            )
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        idle, busy = statistics.median(figures["idle"]), statistics.median(figures["busy"])
        results.append(f"spins={spins} idle_ms={idle:.0f} busy_ms={busy:.0f}")
        print(
            f"  LLM_BARRIER_SPINS={spins:>6}: idle cores {idle:6.0f} {[round(x) for x in figures['idle']]}"
            f"   one core busy {busy:6.0f} {[round(x) for x in figures['busy']]}",
            flush=True,
        )
    print("RESULT " + " ".join(results))


if __name__ == "__main__":
    main()
