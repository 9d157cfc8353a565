"""Audio file IO for replays and tests: any format ffmpeg reads, via PyAV (libav)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
AUDIO_IN_RATE = SAMPLE_RATE  # the pipeline hears 16 kHz (what Whisper, Silero and smart-turn take)
AUDIO_OUT_RATE = 24_000  # and speaks 24 kHz
# A stretch of speech as the STT hands it to its model: pipecat's segmented STT keeps up to this
# much audio from before the VAD's start (since the last stretch) ...
STRETCH_LEAD_SECS = 1.0
# ... and the pipeline has it put this much silence after (the live words get the same: without
# it Moonshine often begins with a word nobody said). Benchmarks and tests cut stretches alike.
STRETCH_TRAILING_SILENCE_SECS = 0.5


class AudioFileError(Exception):
    """A file that is missing or cannot be decoded as audio."""


def load_pcm16(path: str | Path, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Decode ``path`` to mono 16-bit PCM at ``sample_rate`` (resampled by libswresample)."""
    import av

    p = Path(path)
    if not p.is_file():
        raise AudioFileError(f"{path}: no such file")
    try:
        with av.open(str(p)) as container:
            if not container.streams.audio:
                raise AudioFileError(f"{path}: no audio stream")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
            chunks: list[bytes] = []
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().tobytes())
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().tobytes())
    except AudioFileError:
        raise
    except Exception as e:
        raise AudioFileError(f"{path}: cannot decode audio ({type(e).__name__}: {e})") from None
    pcm = b"".join(chunks)
    if not pcm:
        raise AudioFileError(f"{path}: contains no audio samples")
    return pcm


def rms(pcm16: bytes) -> float:
    """RMS of a PCM chunk, full scale 1 (0 for no samples)."""
    samples = np.frombuffer(pcm16, dtype=np.int16).astype(np.float32) / 32768.0
    if samples.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(samples * samples)))


def rms_dbfs(pcm16: bytes) -> float:
    """Loudness of a PCM chunk in dBFS (-120 for silence)."""
    return 20 * np.log10(max(rms(pcm16), 1e-6))


def with_noise_floor(pcm16: bytes, dbfs: float, seed: int = 0) -> bytes:
    """``pcm16`` with steady white noise at ``dbfs`` RMS added (a room's microphone)."""
    x = np.frombuffer(pcm16, dtype=np.int16).astype(np.float32)
    x += np.random.default_rng(seed).normal(0.0, 32768 * 10 ** (dbfs / 20), len(x))
    return np.clip(x, -32768, 32767).astype(np.int16).tobytes()


def silence(seconds: float, sample_rate: int = SAMPLE_RATE) -> bytes:
    """``seconds`` of digital silence as PCM16."""
    return bytes(2 * int(seconds * sample_rate))


def synthesize(voice, text: str, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Speak ``text`` with a loaded Piper voice; PCM16 mono at ``sample_rate`` (for scenarios).

    Without Piper's sampling noise, so one text is always the same audio: a test or benchmark
    that replays it hears the same words every run.
    """
    import soxr
    from piper import SynthesisConfig

    steady = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    chunks = [c.audio_int16_bytes for c in voice.synthesize(text, steady)]
    samples = np.frombuffer(b"".join(chunks), dtype=np.int16)
    resampled = soxr.resample(samples, voice.config.sample_rate, sample_rate)
    return resampled.astype(np.int16).tobytes()
