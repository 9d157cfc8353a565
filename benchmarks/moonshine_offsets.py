"""How much Moonshine's words depend on where the speech falls in its stretch.

Each sentence (Piper, without sampling noise: the same audio every run) is heard by Moonshine
tiny with a lead of silence before it that steps over ``--from``..``--to`` seconds, as pipecat's
pre-roll puts it in a stretch. For each sentence it prints every distinct transcript, how many
leads gave it, and the first few leads. A word that changes with a shift of a few milliseconds
cannot be pinned by placing the stretch more carefully: the VAD decides on 32 ms frames, the
client sends 20 ms chunks, and the STT learns of the start upstream, after the audio that
caused it, so load shifts the lead too.

    python benchmarks/moonshine_offsets.py                     # tests/test_load.py's sentences
    python benchmarks/moonshine_offsets.py "Any sentence." ...  # others
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from interviewer.audio import SAMPLE_RATE, silence, synthesize  # noqa: E402
from interviewer.config import load_settings  # noqa: E402
from interviewer.models import piper_voice_path  # noqa: E402
from interviewer.moonshine import MoonshineLoad, load_moonshine_tiny  # noqa: E402


def speech_only(pcm: bytes, floor: int = 300) -> bytes:
    """``pcm`` from its first sample above ``floor`` (of 32767): Piper's own lead removed."""
    samples = np.frombuffer(pcm, dtype=np.int16)
    return pcm[int(np.argmax(np.abs(samples) > floor)) * 2 :]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sentences", nargs="*")
    parser.add_argument("--from", dest="lo", type=float, default=0.2, help="shortest lead (s)")
    parser.add_argument("--to", dest="hi", type=float, default=0.5, help="longest lead (s)")
    parser.add_argument("--step-ms", type=float, default=1.25)
    args = parser.parse_args()
    if args.sentences:
        sentences = args.sentences
    else:
        from tests.test_load import SENTENCES

        sentences = list(SENTENCES.values())

    from piper import PiperVoice

    voice = PiperVoice.load(str(piper_voice_path(load_settings())))
    moonshine = MoonshineLoad(load_moonshine_tiny())
    leads = np.arange(args.lo, args.hi + 1e-9, args.step_ms / 1000)
    for text in sentences:
        speech = speech_only(synthesize(voice, text))
        heard: dict[str, list[float]] = {}
        t0 = time.perf_counter()
        for lead in leads:
            words = moonshine.words(silence(lead) + speech + silence(1.0))
            heard.setdefault(words, []).append(round(float(lead) * 1000, 2))
        ms = (time.perf_counter() - t0) / len(leads) * 1000
        print(f"\n{text}  ({len(leads)} leads, {ms:.0f} ms a decode, {SAMPLE_RATE} Hz)")
        for words, at in sorted(heard.items(), key=lambda kv: -len(kv[1])):
            print(f"  {len(at):4d}  {words!r}  at {at[:5]} ms")


if __name__ == "__main__":
    main()
