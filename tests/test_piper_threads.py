"""Piper's ONNX threads sleep as soon as a sentence is said, instead of spinning at normal priority.

ONNX Runtime's default (what ``PiperVoice.load`` gives) lets its two threads spin after every
run, burning both cores while the local model writes the next line (benchmarks/tts_cpu.py).
"""

from __future__ import annotations

import pytest

from interviewer.models import load_piper_voice, piper_voice_path

SPINNING = "session.intra_op.allow_spinning"


def _first_sentence(voice) -> bytes:
    # A fresh session's first run is repeatable (its noise generator starts from the same seed).
    return b"".join(c.audio_int16_bytes for c in voice.synthesize("Thanks, that helps."))


def test_the_voice_s_threads_sleep_when_idle_and_it_speaks_as_piper_load_does(settings):
    from piper import PiperVoice

    path = piper_voice_path(settings)
    ours = load_piper_voice(path)
    assert ours.session.get_session_options().get_session_config_entry(SPINNING) == "0"
    stock = PiperVoice.load(str(path))
    assert ours.config == stock.config
    said = _first_sentence(ours)
    assert len(said) > 22050  # over half a second of 16-bit audio at 22.05 kHz
    assert said == _first_sentence(stock)


@pytest.mark.slow
def test_the_server_s_voice_is_loaded_that_way(models):
    options = models.piper_voice.session.get_session_options()
    assert options.get_session_config_entry(SPINNING) == "0"
