"""Two interviews at once, one candidate pausing often: are the other's model lines in time?

    python benchmarks/paired_lines.py [--rounds 2] [--alone] [--log /tmp/paired.log]

Runs the real server in its own process (the default brain: the local model) and holds pairs of
interviews at once over the real WebSocket in real time: a real recording (../shared/audio,
answered three times, so its candidate speaks with pauses the whole time and the model writes
lines early in them) beside a scenario's synthesized answers (crisp turn ends, each needing its
line). Both share the server's one model, so a line one interview needs may wait for the other's.
With ``--alone`` the two interviews of each pair run one after the other instead: the baseline.

Prints per pair the model lines written of those asked (a line not ready in time is replaced by
the scripted line; of the written, how many ended in the moment after the deadline that a line
whose words are still coming gets, ``LOCAL_LLM_FINISH_SECS``), the replies' latency, and from
the server's log how many lines waited for another interview's line and how many early lines
gave the model way. Run it on a quiet machine; its database is removed at the end.

It also prints which rules the rejected lines broke, and how long lines spent reading the
candidate's answer once they had the model (from each line's log: what was not read while the
candidate spoke). The last line is for scripts: ``RESULT written=N asked=N after_deadline=N
waited=N gave_way=N read_p50_ms=N read_max_ms=N p50_ms=N p95_ms=N``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.latency import AUDIO, ServerProcess, _pct, _run_session  # noqa: E402
from candidate.scenario import Scenario  # noqa: E402
from interviewer.audio import load_pcm16, synthesize  # noqa: E402

PAIRS = [
    ("two_cities.wav", "behavioral_answers.yaml"),
    ("endgame_nagg_nell.wav", "technical_followups.yaml"),
]
SUMMARY = re.compile(
    r"Model lines: (\d+) of (\d+) written .*?(\d+) waited for another interview's line"
    r"(?:; (\d+) gave way)?"
)
AFTER_DEADLINE = re.compile(r"Model lines: \d+ of \d+ written \((\d+) finished after the deadline")
# Each line's log (written or late) says where it was; a line whose prompt was sent at once (the
# answer all read by then) names no reading.
LINE_LOG = re.compile(r"(?:Model \w+ line in|line was not ready in) [\d.]+s \(([^)]*)")
BROKE = re.compile(r"line broke a rule \(([^:]*):")  # the rule a rejected line broke
READ = re.compile(r"read(?:ing)? the answer (?:in|for) ([\d.]+)s")  # "for": late, still reading


def _scenario(name: str, voice) -> tuple[str, list[bytes]]:
    sc = Scenario.load(ROOT / "scenarios" / name)
    turns = [t for t in sc.turns if t.barge_in_after_ms is None]
    return sc.mode, [
        load_pcm16(ROOT / t.audio) if t.audio else synthesize(voice, t.say) for t in turns
    ]


def _summaries(log: Path, start: int) -> list[tuple[int, int, int, int, int]]:
    """(written, asked, waited, gave way, after the deadline) of sessions ended since ``start``.

    ``start`` counts bytes; "after the deadline": of the lines written.
    """
    text = log.read_bytes()[start:].decode(errors="replace")
    return [
        (int(m[1]), int(m[2]), int(m[3]), int(m[4] or 0), int(a[1]) if a else 0)
        for m in SUMMARY.finditer(text)
        for a in [AFTER_DEADLINE.match(m[0])]
    ]


def _readings(log: Path) -> list[float]:
    """Seconds each line (written or late) spent reading the answer once it had the model.

    A line late while still reading counts the reading so far.
    """
    return [
        float(m[1]) if m else 0.0
        for line in LINE_LOG.finditer(log.read_text(errors="replace"))
        for m in [READ.search(line[1])]
    ]


def _rules_broken(log: Path) -> Counter[str]:
    """How many rejected lines broke each rule."""
    return Counter(m[1] for m in BROKE.finditer(log.read_text(errors="replace")))


def _remove_database(url: str) -> None:
    """Remove the SQLite database at ``url`` with its write-ahead log."""
    for suffix in ("", "-wal", "-shm"):
        Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--alone", action="store_true", help="each pair's two one after the other")
    parser.add_argument("--log", type=Path, default=None, help="keep the server's log here")
    args = parser.parse_args()

    from piper import PiperVoice

    from interviewer.config import load_settings
    from interviewer.models import piper_voice_path

    voice = PiperVoice.load(str(piper_voice_path(load_settings())))
    log = args.log or Path(tempfile.mkstemp(prefix="paired-lines-", suffix=".log")[1])
    log.write_text("")
    os.environ["BENCH_SERVER_LOG"] = str(log)
    db = f"sqlite:////tmp/interviewer-paired-{os.getpid()}.db"
    server = ServerProcess([sys.executable, "-m", "web.server"], {"DATABASE_URL": db})
    print(f"server ready in {server.wait_ready():.1f} s; its log: {log}")
    join = "then" if args.alone else "+"
    totals = [0, 0, 0, 0, 0]
    latencies: list[int] = []
    try:
        for r in range(args.rounds):
            for real, scenario in PAIRS:
                start = log.stat().st_size
                mode, turns = _scenario(scenario, voice)
                pcm = load_pcm16(AUDIO / real)
                talker = _run_session(server.url, "technical", [pcm] * 3)
                crisp = _run_session(server.url, mode, turns)
                if args.alone:
                    (lat_a, _, cut_a), (lat_b, _, cut_b) = await talker, await crisp
                else:
                    (lat_a, _, cut_a), (lat_b, _, cut_b) = await asyncio.gather(talker, crisp)
                server.line_counts()  # until both sessions have ended and logged their lines
                await asyncio.sleep(1.0)
                rows = _summaries(log, start)
                pair = [sum(x[i] for x in rows) for i in range(5)]
                totals = [a + b for a, b in zip(totals, pair, strict=True)]
                latencies += lat_a + lat_b
                print(
                    f"round {r + 1} {real} {join} {scenario}: model lines {pair[0]} of {pair[1]} "
                    f"({pair[4]} after the deadline); "
                    f"waited for another's {pair[2]}, early lines gave way {pair[3]}; "
                    f"replies ms {lat_a} / {lat_b}; cut-ins {cut_a} / {cut_b}"
                )
        readings, broken = _readings(log), _rules_broken(log)
    finally:
        server.stop()
        _remove_database(db)
    written, asked, waited, gave_way, after = totals
    read_p50, read_max = (
        (round(1000 * statistics.median(readings)), round(1000 * max(readings)))
        if readings
        else (None, None)
    )
    print(f"rules broken: {', '.join(f'{rule} {n}' for rule, n in broken.most_common()) or 'none'}")
    print(
        f"reading the answer once a line had the model: p50 {read_p50} ms, max {read_max} ms "
        f"(n={len(readings)}; 0 for a line whose answer was all read before)"
    )
    print(
        f"all: model lines {written} of {asked} ({after} after the deadline); waited {waited}; "
        f"gave way {gave_way}; "
        f"replies p50 {_pct(latencies, 50)} ms, p95 {_pct(latencies, 95)} ms (n={len(latencies)})"
    )
    print(
        f"RESULT written={written} asked={asked} after_deadline={after} waited={waited} "
        f"gave_way={gave_way} read_p50_ms={read_p50} read_max_ms={read_max} "
        f"p50_ms={_pct(latencies, 50)} p95_ms={_pct(latencies, 95)}"
    )


if __name__ == "__main__":
    asyncio.run(main())
