"""The bundled models: assembled once, checksum verified, loaded offline, and they work."""

from pathlib import Path

import numpy as np
import pytest

from interviewer.audio import load_pcm16
from interviewer.config import load_settings
from interviewer.models import WHISPER_BASE_SHA256, ModelBank, assemble_whisper_base

pytestmark = pytest.mark.slow


def _words(text):
    return set("".join(c if c.isalnum() or c == " " else " " for c in text.lower()).split())


def test_whisper_base_is_assembled_once_and_verified(tmp_path):
    folder = assemble_whisper_base(tmp_path)
    assert (folder / ".verified").read_text() == WHISPER_BASE_SHA256
    mtime = (folder / "model.bin").stat().st_mtime_ns
    assert assemble_whisper_base(tmp_path) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == mtime  # not rebuilt


def test_corrupt_parts_are_refused(tmp_path):
    folder = assemble_whisper_base(tmp_path)
    (folder / ".verified").unlink()
    (folder / "model.bin").write_bytes(b"corrupt")
    # Re-assembly rebuilds from the packages and verifies; a good result replaces the bad file.
    assert assemble_whisper_base(tmp_path) == folder
    assert (folder / "model.bin").stat().st_size == 145_217_532


@pytest.mark.parametrize("stt", ["tiny.en", "base"])
def test_both_whisper_models_transcribe_real_speech(stt, tmp_path):
    bank = ModelBank.load(load_settings(STT_MODEL=stt, MODEL_CACHE_DIR=str(tmp_path)))
    audio = np.frombuffer(load_pcm16(Path(__file__).resolve().parents[2] / "shared" / "audio" / "beckett.wav"), dtype=np.int16).astype(np.float32) / 32768
    segments, _ = bank.whisper.transcribe(audio, language="en", beam_size=1)
    heard = _words(" ".join(s.text for s in segments))
    assert {"tried", "matter", "try", "again", "fail", "better"} <= heard
    assert bank.piper_voice is not None and bank.smart_turn_session is not None
