"""Every pause in the benchmark's speech, and what each end-of-turn signal says about it.

For each recording and scenario answer this runs pipecat's Silero VAD (our stop time),
smart-turn v3 and Whisper offline, exactly as a session would meet them, and prints one
line per pause: how long the candidate was silent, smart-turn's verdict and probability,
the Whisper transcript of the stretch just ended, and the transcript's own verdict
(``interviewer.turn_text``). Pauses the candidate spoke again after are mid-answer
(a release there is a cut-in); the last pause is the real end of the answer.

    python benchmarks/turn_decisions.py
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipecat.audio.turn.base_turn_analyzer import EndOfTurnState  # noqa: E402
from pipecat.audio.turn.smart_turn.base_smart_turn import SmartTurnParams  # noqa: E402
from pipecat.audio.vad.silero import SileroVADAnalyzer  # noqa: E402
from pipecat.audio.vad.vad_analyzer import VADParams, VADState  # noqa: E402

from benchmarks.latency import CONCURRENT_ANSWERS, _workload  # noqa: E402
from interviewer.audio import synthesize  # noqa: E402
from interviewer.config import load_settings  # noqa: E402
from interviewer.models import ModelBank  # noqa: E402
from interviewer.turn_text import text_verdict  # noqa: E402
from processors.local_services import SharedSmartTurnAnalyzer, _TunedWhisper  # noqa: E402

RATE = 16_000
CHUNK = 320  # 20 ms of samples, as the client sends


async def pauses(pcm: bytes, models: ModelBank, settings) -> list[tuple[float, str, float, str]]:
    """(silence after the stretch in s, smart-turn verdict, probability, transcript) per stretch."""
    vad = SileroVADAnalyzer(
        sample_rate=RATE,
        params=VADParams(stop_secs=settings.vad_stop_secs, start_secs=settings.vad_start_secs),
    )
    vad.set_sample_rate(RATE)
    turn = SharedSmartTurnAnalyzer(
        session=models.smart_turn_session,
        params=SmartTurnParams(stop_secs=settings.turn_max_pause_secs),
    )
    turn.set_sample_rate(RATE)
    whisper = _TunedWhisper(models.whisper, settings.stt_beam_size)
    pcm = pcm + bytes(2 * RATE * 3)  # the candidate then stays silent
    chunks = [pcm[i : i + 2 * CHUNK] for i in range(0, len(pcm), 2 * CHUNK)]
    state = VADState.QUIET
    speaking = False
    seg_start = 0
    out: list[list] = []
    last_stop_chunk = None
    for i, c in enumerate(chunks):
        if len(c) < 2 * CHUNK:
            break
        new = await vad.analyze_audio(c)
        if new == VADState.SPEAKING and not speaking:
            speaking = True
            seg_start = max(0, i - int((settings.vad_start_secs + 0.2) * 50))
            if out and last_stop_chunk is not None:
                out[-1][0] = (i - last_stop_chunk) * 0.02 + settings.vad_stop_secs
        turn.append_audio(c, speaking)
        if new == VADState.QUIET and speaking:
            speaking = False
            last_stop_chunk = i
            verdict, metrics = await turn.analyze_end_of_turn()
            prob = getattr(metrics, "probability", float("nan")) if metrics else float("nan")
            audio = (
                np.frombuffer(b"".join(chunks[seg_start : i + 1]), dtype=np.int16).astype(
                    np.float32
                )
                / 32768
            )
            segments, _ = whisper.transcribe(audio, language="en")
            text = " ".join(s.text.strip() for s in segments)
            out.append(
                [
                    None,
                    "complete" if verdict == EndOfTurnState.COMPLETE else "incomplete",
                    prob,
                    text,
                ]
            )
        state = new
    del state
    return [tuple(x) for x in out]


async def main() -> None:
    settings = load_settings()
    models = ModelBank.load(settings)
    items = _workload(models.piper_voice)
    items.append(
        (
            "concurrency answers",
            "behavioral",
            [synthesize(models.piper_voice, a) for a in CONCURRENT_ANSWERS],
        )
    )
    for name, _mode, turns in items:
        print(f"\n== {name}")
        for n, pcm in enumerate(turns):
            for silence, verdict, prob, text in await pauses(pcm, models, settings):
                where = "END " if silence is None else f"{silence:4.2f}s"
                print(
                    f"  turn {n} {where} smart-turn {verdict:<10} p={prob:.2f} text={text_verdict(text):<10} {text!r}"
                )


if __name__ == "__main__":
    asyncio.run(main())
