"""Whisper CPU threads and workers, measured: one clip alone, and two sessions' clips at once.

    python benchmarks/stt_threads.py

Prints, for each (STT_THREADS, STT_WORKERS), the median time to transcribe 4 s of real
speech alone and the time each of two simultaneous transcriptions takes. One worker
serialises overlapping calls; more threads per call help a lone session.
"""

from __future__ import annotations

import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from faster_whisper import WhisperModel  # noqa: E402

from interviewer.audio import load_pcm16  # noqa: E402
from interviewer.config import load_settings  # noqa: E402
from interviewer.models import whisper_model_folder  # noqa: E402

CLIP = ROOT.parent / "shared" / "audio" / "two_cities.wav"


def main() -> None:
    settings = load_settings()
    pcm = load_pcm16(CLIP)[: 16_000 * 2 * 4]
    audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768
    folder = str(whisper_model_folder(settings))

    def transcribe(model: WhisperModel) -> float:
        t = time.perf_counter()
        segments, _ = model.transcribe(
            audio,
            language="en",
            beam_size=settings.stt_beam_size,
            without_timestamps=True,
            condition_on_previous_text=False,
        )
        list(segments)
        return time.perf_counter() - t

    print(f"{settings.stt_model}, beam {settings.stt_beam_size}, 4 s of {CLIP.name}")
    for threads, workers in [(1, 1), (2, 1), (1, 2), (2, 2)]:
        model = WhisperModel(
            folder, device="cpu", compute_type="int8", cpu_threads=threads, num_workers=workers
        )
        transcribe(model)  # warm-up
        alone = statistics.median(transcribe(model) for _ in range(5))
        with ThreadPoolExecutor(2) as pool:
            pair = list(pool.map(lambda _, m=model: transcribe(m), range(2)))
        print(
            f"  STT_THREADS={threads} STT_WORKERS={workers}: alone {alone * 1000:4.0f} ms; "
            f"two at once {max(pair) * 1000:4.0f} ms each"
        )


if __name__ == "__main__":
    main()
