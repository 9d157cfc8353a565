"""Interview quality and pace of both offline brains, on every scenario: ``python benchmarks/interview_quality.py``.

For each brain (``LLM=scripted``, ``LLM=local``) a server runs in its own process and a
candidate client replays every scenario (scenarios/*.yaml: real speech and Piper-synthesized
answers) over the real WebSocket in real time. For every reply to an answer it prints:

- refers: the reply names something the candidate said that the question did not (content
  words, crude stems; the planned questions are the same for both brains);
- question: the reply is one well-formed question (exactly one "?", at the end);
- words per reply;
- first audio: end of the candidate's speech to the first audible interviewer audio;
- gap: the first silence inside the reply after its first sentence (the candidate hears the
  acknowledgement, then waits for the next sentence): the dead air the model may add.

Run it on a quiet machine. The last line is for scripts:
``RESULT scripted_refers=.. local_refers=.. scripted_p50_ms=.. local_p50_ms=.. local_gap_p95_ms=..``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.latency import ServerProcess, _breakdown, _pct  # noqa: E402
from candidate.scenario import Scenario, all_scenarios  # noqa: E402
from candidate.session_client import CandidateSession  # noqa: E402
from interviewer.audio import load_pcm16, synthesize  # noqa: E402
from interviewer.lines import refers_to_answer  # noqa: E402
from interviewer.turn_text import words  # noqa: E402
from processors.local_brain import last_question  # noqa: E402

GAP_MIN_MS = 60  # silences shorter than this are the chunking of continuous speech


def _gaps(times: list[int], start: int, end: int) -> list[int]:
    """Silences (ms) between voiced chunks played in [start, end]."""
    ts = [t for t in times if start <= t <= end]
    diffs = [b - a for a, b in zip(ts, ts[1:], strict=False)]
    if not diffs:
        return []
    chunk = min(diffs)  # one chunk's length: back-to-back chunks are this far apart
    return [d - chunk for d in diffs if d - chunk >= GAP_MIN_MS]


async def _session(url: str, mode: str, turns: list[bytes], parts: list[dict]) -> list[dict]:
    async with CandidateSession(url, mode) as s:
        await s.interview(turns, timeout_s=90, ready_s=120)
    parts += [m for m in s.log.server_messages if m.get("type") == "latency"]
    rows, asked, answer = [], "", ""
    for t in s.log.turns:
        if t.role == "candidate":
            answer = f"{answer} {t.text}".strip()
            continue
        if t.latency_ms is not None and answer and not t.interrupted:
            end = t.end_ms if t.end_ms is not None else 10**12
            gaps = _gaps(s.bot_audio_times, t.start_ms, end)
            rows.append(
                {
                    "reply": t.text,
                    "answer": answer,
                    "refers": refers_to_answer(t.text, answer, asked),
                    "question": t.text.count("?") == 1 and t.text.rstrip().endswith("?"),
                    "words": len(words(t.text)),
                    "latency_ms": t.latency_ms,
                    "gap_ms": gaps[0] if gaps else 0,
                }
            )
        if not t.interrupted:
            answer = ""
        asked = last_question(t.text) or asked
    return rows


async def bench_brain(brain: str, workload, db: str) -> dict:
    server = ServerProcess([sys.executable, "-m", "web.server"], {"DATABASE_URL": db, "LLM": brain})
    ready = server.wait_ready(300)
    print(f"\n== LLM={brain} (server ready in {ready:.1f} s) ==")
    rows: list[dict] = []
    parts: list[dict] = []
    cpu0 = server.cpu_s()
    try:
        for name, mode, turns in workload:
            got = await _session(server.url, mode, turns, parts)
            rows += got
            print(f"  {name}")
            for r in got:
                print(f"    [{r['latency_ms']:>5} ms, gap {r['gap_ms']:>4} ms] {r['reply']}")
        cpu = server.cpu_s() - cpu0
        rss = server.mem_mb("VmHWM")
    finally:
        server.stop()
    lat = [r["latency_ms"] for r in rows]
    gaps = [r["gap_ms"] for r in rows]
    n = len(rows) or 1
    out = {
        "replies": len(rows),
        "refers": sum(r["refers"] for r in rows) / n,
        "question": sum(r["question"] for r in rows) / n,
        "words": statistics.mean(r["words"] for r in rows) if rows else 0,
        "p50": _pct(lat, 50),
        "p95": _pct(lat, 95),
        "gap_p50": _pct(gaps, 50),
        "gap_p95": _pct(gaps, 95),
        "cpu_s": cpu,
        "rss_mb": rss,
    }
    print("  breakdown (median ms): " + ", ".join(f"{k} {v}" for k, v in _breakdown(parts).items()))
    print(
        f"  replies {out['replies']}; refer to the answer {out['refers']:.0%}; single question {out['question']:.0%}; "
        f"words/reply {out['words']:.1f}; first audio p50 {out['p50']} ms p95 {out['p95']} ms; "
        f"first gap p50 {out['gap_p50']} ms p95 {out['gap_p95']} ms; server CPU {cpu:.0f} s, peak RSS {rss:.0f} MB"
    )
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--brains", default="scripted,local")
    args = parser.parse_args()

    from piper import PiperVoice

    from interviewer.config import load_settings
    from interviewer.models import piper_voice_path

    voice = PiperVoice.load(str(piper_voice_path(load_settings(LLM="scripted"))))
    workload = []
    for path in all_scenarios():
        sc = Scenario.load(path)
        turns = [t for t in sc.turns if t.barge_in_after_ms is None]
        workload.append(
            (
                sc.name,
                sc.mode,
                [
                    load_pcm16(ROOT / t.audio) if t.audio else synthesize(voice, t.say)
                    for t in turns
                ],
            )
        )
    t0 = time.monotonic()
    results = {}
    for brain in args.brains.split(","):
        results[brain] = await bench_brain(
            brain, workload, f"sqlite:////tmp/interviewer-quality-{os.getpid()}-{brain}.db"
        )

    print(
        "\n| brain | replies | refer to the answer | single question | words/reply | first audio p50 / p95 | first gap p50 / p95 |"
    )
    print("|---|---|---|---|---|---|---|")
    for brain, r in results.items():
        print(
            f"| {brain} | {r['replies']} | {r['refers']:.0%} | {r['question']:.0%} | {r['words']:.1f} | "
            f"{r['p50']} / {r['p95']} ms | {r['gap_p50']} / {r['gap_p95']} ms |"
        )
    print(f"total {time.monotonic() - t0:.0f} s")
    s, loc = results.get("scripted", {}), results.get("local", {})
    print(
        f"RESULT scripted_refers={s.get('refers', 0):.2f} local_refers={loc.get('refers', 0):.2f} "
        f"scripted_p50_ms={s.get('p50', 0)} local_p50_ms={loc.get('p50', 0)} "
        f"local_gap_p95_ms={loc.get('gap_p95', 0)}"
    )


if __name__ == "__main__":
    asyncio.run(main())
