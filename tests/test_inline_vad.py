"""The VAD run inline hears real speech exactly as pipecat's threaded Silero VAD does."""

from __future__ import annotations

from pathlib import Path

from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams, VADState

from processors.local_services import InlineSileroVADAnalyzer

SPEECH = Path(__file__).resolve().parents[2] / "shared" / "audio" / "beckett.wav"
CHUNK = 640  # 20 ms of 16 kHz 16-bit mono, as the page sends it


async def states(vad, pcm: bytes) -> list[VADState]:
    vad.set_sample_rate(16_000)
    return [await vad.analyze_audio(pcm[i : i + CHUNK]) for i in range(0, len(pcm), CHUNK)]


async def test_inline_vad_matches_pipecats_threaded_vad_on_real_speech():
    from interviewer.audio import load_pcm16

    pcm = load_pcm16(SPEECH)
    params = VADParams(stop_secs=0.2, start_secs=0.2)
    inline = await states(InlineSileroVADAnalyzer(params=params), pcm)
    threaded = await states(SileroVADAnalyzer(params=params), pcm)
    assert inline == threaded
    # Real speech with pauses: it starts and stops more than once.
    starts = sum(1 for a, b in zip(inline, inline[1:], strict=False) if b == VADState.SPEAKING != a)
    assert starts >= 2, starts
