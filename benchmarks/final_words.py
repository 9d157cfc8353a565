"""The stored words of a turn: Whisper stretch by stretch (live) against the whole turn again.

    python benchmarks/final_words.py

The pipeline transcribes each stretch of speech alone the moment it ends (the words its
turn decisions need): Whisper tiny.en, beam 1, or Moonshine tiny (``STT_MODEL``). ``STT_FINAL_MODEL`` decodes the whole turn again once the
reply is under way, for the transcript, the report and the LLM's context. This prints the word
error rate of each, and the seconds per turn, over real recordings (../shared/audio) and the
scenarios' answers synthesized in pairs with a 0.8 s pause between them. Stretches are cut
where faster-whisper's Silero VAD hears 200 ms of silence (the pipeline's VAD_STOP_SECS).
Run it on a quiet machine: the seconds are CPU time on this box's cores.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from faster_whisper import WhisperModel  # noqa: E402
from faster_whisper.vad import VadOptions, get_speech_timestamps  # noqa: E402

from interviewer.audio import (  # noqa: E402
    SAMPLE_RATE,
    STRETCH_LEAD_SECS,
    STRETCH_TRAILING_SILENCE_SECS,
    load_pcm16,
    silence,
    synthesize,
)
from interviewer.config import load_settings  # noqa: E402
from interviewer.final_words import FinalWords, Stretch, pieces  # noqa: E402
from interviewer.models import piper_voice_path, whisper_model_folder  # noqa: E402
from interviewer.moonshine import MoonshineLoad, load_moonshine_tiny  # noqa: E402

AUDIO = ROOT.parent / "shared" / "audio"
REAL = {
    "beckett.wav": "Ever tried. Ever failed. No matter. Try again. Fail again. Fail better.",
    "two_cities.wav": "It was the best of times, it was the worst of times, it was the age of "
    "wisdom, it was the age of foolishness, it was the epoch of belief, it was the epoch of "
    "incredulity, it was the season of Light, it was the season of Darkness, it was the spring "
    "of hope, it was the winter of despair, we had everything before us, we had nothing before "
    "us, we were all going direct to Heaven, we were all going direct the other way, in short, "
    "the period was so far like the present period, that some of its noisiest authorities "
    "insisted on its being received, for good or for evil, in the superlative degree of "
    "comparison only.",
    "hotwords.mp3": "Then you go into your ComfyUI folder again in the ComfyUI",
}


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]", " ", text.lower().replace("-", " ")).split()


def errors(reference: str, heard: str) -> tuple[int, int]:
    """Word edits from ``reference`` to ``heard``, and the reference's word count."""
    ref, hyp = _words(reference), _words(heard)
    row = list(range(len(hyp) + 1))
    for i in range(1, len(ref) + 1):
        diagonal, row[0] = row[0], i
        for j in range(1, len(hyp) + 1):
            above = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, diagonal + (ref[i - 1] != hyp[j - 1]))
            diagonal = above
    return row[len(hyp)], len(ref)


def turns(voice) -> list[tuple[str, str, bytes]]:
    """(kind, reference, 16 kHz PCM) of every turn measured."""
    out = [("real", ref, load_pcm16(AUDIO / name)) for name, ref in REAL.items()]
    said = []
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        said += [t["say"] for t in yaml.safe_load(path.read_text())["turns"] if t.get("say")]
    for a, b in zip(said[::2], said[1::2], strict=False):
        pcm = synthesize(voice, a) + silence(0.8) + synthesize(voice, b)
        out.append(("synthesized", f"{a} {b}", pcm))
    return out


def main() -> None:
    from piper import PiperVoice

    settings = load_settings()
    voice = PiperVoice.load(str(piper_voice_path(settings)))

    def model(name: str, threads: int):
        folder = str(whisper_model_folder(settings, name))
        return lambda: WhisperModel(folder, device="cpu", compute_type="int8", cpu_threads=threads)

    tiny = FinalWords(model("tiny.en", settings.stt_threads), beam_size=1)
    moonshine = MoonshineLoad(load_moonshine_tiny())
    final_tiny = FinalWords(model("tiny.en", 1))
    base = FinalWords(model("base", 1))

    def per_stretch(words):
        """Words per stretch, each as pipecat's segmented STT hands it on.

        Up to STRETCH_LEAD_SECS of lead (since the last stretch), silence after.
        """
        lead, after = int(STRETCH_LEAD_SECS * SAMPLE_RATE), silence(STRETCH_TRAILING_SILENCE_SECS)

        def decode(pcm, stretches):
            ends = [0] + [s["end"] for s in stretches]
            return " ".join(
                words(pcm[2 * max(end, s["start"] - lead) : 2 * s["end"]] + after)
                for s, end in zip(stretches, ends, strict=False)
            )

        return decode

    def whole_turn(final: FinalWords):
        """The turn as the product decodes it again: in pieces of whole stretches within 30 s."""

        def decode(pcm, stretches):
            mid_pauses = [
                (a["end"] + b["start"]) // 2 for a, b in zip(stretches, stretches[1:], strict=False)
            ]
            cuts = [0, *mid_pauses, len(pcm) // 2]  # in samples
            turn = [Stretch(pcm[2 * a : 2 * b], "") for a, b in zip(cuts, cuts[1:], strict=False)]
            return " ".join(final.transcribe(piece) for piece in pieces(turn))

        return decode

    ways = {
        "live: tiny.en per stretch, beam 1": per_stretch(tiny.transcribe),
        "live: moonshine-tiny per stretch (1 thread)": per_stretch(moonshine.words),
        "final: tiny.en whole turn, beam 5 (1 thread)": whole_turn(final_tiny),
        "final: base whole turn, beam 5 (1 thread)": whole_turn(base),
    }
    totals = {(kind, way): [0, 0, 0.0, 0] for kind in ("real", "synthesized") for way in ways}
    measured = turns(voice)
    for kind, reference, pcm in measured:
        audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768
        vad = VadOptions(min_silence_duration_ms=200, speech_pad_ms=100)
        stretches = get_speech_timestamps(audio, vad)
        for way, decode in ways.items():
            began = time.perf_counter()
            heard = decode(pcm, stretches)
            total = totals[(kind, way)]
            e, n = errors(reference, heard)
            total[0] += e
            total[1] += n
            total[2] += time.perf_counter() - began
            total[3] += 1
    print(f"{'':48} {'WER':>6} {'errors':>9} {'s/turn':>7}")
    for kind in ("real", "synthesized"):
        n_turns = totals[(kind, next(iter(ways)))][3]
        print(f"{kind} speech, {n_turns} turns")
        for way in ways:
            e, n, secs, count = totals[(kind, way)]
            print(f"  {way:46} {100 * e / n:5.1f}% {e:4}/{n:<4} {secs / count:7.2f}")
    print(f"(audio: {sum(len(p) for *_, p in measured) / 2 / SAMPLE_RATE:.0f} s)")


if __name__ == "__main__":
    main()
