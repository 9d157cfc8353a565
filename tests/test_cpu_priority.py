"""Who gets the two cores first: a stretch's transcript and the end-of-turn score, then the rest.

A candidate's final transcript decides when the turn ends, so it runs at the process's own
priority (nice 0). The local model's lines (written speculatively during pauses), the live
words for the page and the whole-turn re-decode run on threads of lower priority, which the
native libraries' own threads inherit. Measured from /proc: the CPU each work used went to
threads of its nice value.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

AUDIO = Path(__file__).resolve().parent.parent.parent / "shared" / "audio"


def _cpu_by_nice() -> dict[int, float]:
    """CPU seconds this process's threads have used, summed per nice value (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[int, float] = {}
    for stat in Path("/proc/self/task").glob("*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # from field 3 (state) on
        except OSError:
            continue  # the thread has ended
        utime, stime, nice = int(fields[11]), int(fields[12]), int(fields[16])
        used[nice] = used.get(nice, 0.0) + (utime + stime) / tick
    return used


def _spent(before: dict[int, float]) -> dict[int, float]:
    after = _cpu_by_nice()
    return {n: round(after[n] - before.get(n, 0.0), 2) for n in after}


async def test_live_words_decode_on_threads_of_low_cpu_priority(models):
    from interviewer.audio import load_pcm16
    from interviewer.models import LIVE_WORDS_NICE

    pcm = load_pcm16(AUDIO / "beckett.wav")
    before = _cpu_by_nice()
    text = await models.live_words.decode(pcm)
    spent = _spent(before)
    print(f"live words: CPU seconds by nice value during the decode: {spent}")
    assert "fail" in (text or "").lower()
    assert spent.get(LIVE_WORDS_NICE, 0.0) >= 0.8 * sum(spent.values()) > 0


async def test_moonshine_s_live_words_decode_on_the_low_priority_thread_too():
    """STT_MODEL=moonshine-tiny: its ONNX Runtime runs on the decoder's own (nice 10) thread."""
    from interviewer.audio import load_pcm16
    from interviewer.models import LIVE_WORDS_NICE
    from interviewer.moonshine import MoonshineLiveWords

    decoder = MoonshineLiveWords(nice=LIVE_WORDS_NICE)
    pcm = load_pcm16(AUDIO / "two_cities.wav")[: 2 * 16_000 * 12]
    try:
        before = _cpu_by_nice()
        text = await decoder.decode(pcm)
        spent = _spent(before)
    finally:
        decoder.close()
    print(f"moonshine live words: CPU seconds by nice value during the decode: {spent}")
    assert "worst" in (text or "").lower()
    assert spent.get(LIVE_WORDS_NICE, 0.0) >= 0.8 * sum(spent.values()) > 0


async def test_the_local_model_s_lines_are_written_on_threads_of_lower_cpu_priority(settings):
    from openai import AsyncOpenAI

    from interviewer.eot import smollm2_gguf
    from interviewer.local_llm import LOCAL_LLM_NICE, LocalLLMServer

    # The small end-of-turn model stands in for the interviewer model: the same server code.
    server = LocalLLMServer.serve(
        smollm2_gguf(settings.model_cache_dir),
        what="test",
        ctx=1024,
        threads=2,
        slots=1,
        max_tokens=64,
        nice=LOCAL_LLM_NICE,
    )
    client = AsyncOpenAI(api_key=server.api_key, base_url=server.base_url, max_retries=0)
    try:
        before = _cpu_by_nice()
        r = await client.completions.create(
            model=server.model, prompt="The history of the railway " * 40, max_tokens=64
        )
        spent = _spent(before)
    finally:
        await client.close()
        server.stop()
    print(f"local model: CPU seconds by nice value during a completion: {spent}")
    assert r.choices[0].text
    assert spent.get(LOCAL_LLM_NICE, 0.0) >= 0.8 * sum(spent.values()) > 0
