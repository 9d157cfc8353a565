"""What Piper's voice costs in CPU per sentence, as ``PiperVoice.load`` gives it and as the server loads it.

    python benchmarks/tts_cpu.py [--rounds 5]

Loads the bundled voice twice: ``PiperVoice.load`` (ONNX Runtime's defaults: its threads spin
after each run before they sleep) and :func:`interviewer.models.load_piper_voice` (they sleep at
once). Each says the same interviewer sentences ``--rounds`` times, one sentence every 0.5 s as
a reply's sentences come, and prints per sentence: the time to synthesize it (p50), the
process's CPU time while synthesizing, and the CPU time it burns in the 0.5 s after, when
nothing is asked of it (the spinning).

Run it on a quiet machine. The last line is for scripts:
``RESULT load_wall_ms=.. load_cpu_ms=.. load_idle_cpu_ms=.. server_wall_ms=.. server_cpu_ms=.. server_idle_cpu_ms=..``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from interviewer.config import load_settings  # noqa: E402
from interviewer.models import load_piper_voice, piper_voice_path  # noqa: E402

SENTENCES = [
    "What specific skills or experiences do you bring to this role?",
    "So you moved the payments service to Kubernetes last year.",
    "How did you measure the latency before and after the migration?",
    "Tell me about a time you disagreed with a colleague. What happened?",
]
IDLE_S = 0.5


def measure(voice, rounds: int) -> tuple[float, float, float]:
    """Median wall and CPU ms per sentence, and CPU ms burned in the idle time after each."""
    for text in SENTENCES:  # warm
        list(voice.synthesize(text))
    time.sleep(1.0)
    walls, cpus, idles = [], [], []
    for _ in range(rounds):
        for text in SENTENCES:
            w, c = time.perf_counter(), time.process_time()
            list(voice.synthesize(text))
            walls.append((time.perf_counter() - w) * 1000)
            cpus.append((time.process_time() - c) * 1000)
            c = time.process_time()
            time.sleep(IDLE_S)
            idles.append((time.process_time() - c) * 1000)
    return statistics.median(walls), statistics.median(cpus), statistics.median(idles)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from piper import PiperVoice

    path = piper_voice_path(load_settings())
    results = []
    print(f"per sentence, {args.rounds * len(SENTENCES)} sentences (median ms)")
    for name, load in (
        ("load", lambda: PiperVoice.load(str(path))),
        ("server", lambda: load_piper_voice(path)),
    ):
        wall, cpu, idle = measure(load(), args.rounds)
        label = "PiperVoice.load" if name == "load" else "load_piper_voice (server)"
        print(
            f"  {label:<26} synthesis {wall:5.0f}   CPU {cpu:5.0f}   CPU in the {IDLE_S} s after {idle:4.0f}",
            flush=True,
        )
        results += [
            f"{name}_wall_ms={wall:.0f}",
            f"{name}_cpu_ms={cpu:.0f}",
            f"{name}_idle_cpu_ms={idle:.0f}",
        ]
    print("RESULT " + " ".join(results))


if __name__ == "__main__":
    main()
