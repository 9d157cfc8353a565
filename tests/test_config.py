"""Settings: read from the environment; a bad value is one clear line at start-up."""

import subprocess
import sys

import pytest

from interviewer.config import SettingsError, load_settings


def test_defaults_are_offline(monkeypatch):
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "TTS", "STT_MODEL", "LLM", "LLM_GGUF"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert (s.llm_kind, s.tts, s.stt_model, s.port) == ("local", "piper", "moonshine-tiny", 7860)


def test_llm_choice(monkeypatch):
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "LLM_GGUF"):
        monkeypatch.delenv(var, raising=False)
    assert load_settings(LLM="scripted").llm_kind == "scripted"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert load_settings(LLM="auto").llm_kind == "openai"
    assert load_settings(LLM="local").llm_kind == "local"  # an explicit choice wins
    monkeypatch.delenv("OPENAI_BASE_URL")
    with pytest.raises(SettingsError, match="^configuration error: LLM: openai needs"):
        load_settings(LLM="openai")


def test_the_stretch_model_is_moonshine_or_whisper(monkeypatch):
    monkeypatch.setenv("STT_MODEL", "tiny.en")
    assert load_settings().stt_model == "tiny.en"
    monkeypatch.setenv("STT_MODEL", "moonshine-base")
    with pytest.raises(SettingsError):
        load_settings()


def test_openai_is_selected_by_environment(monkeypatch):
    monkeypatch.delenv("LLM", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert load_settings().llm_kind == "openai"


@pytest.mark.parametrize(
    "var,value",
    [
        ("PORT", "seventy"),
        ("STT_MODEL", "/nope/missing"),
        ("TTS", "cartesia"),
        ("PIPER_VOICE", "/nope.onnx"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError) as e:
        load_settings()
    message = str(e.value)
    assert var in message and "\n" not in message


def test_cli_exits_with_one_line_on_bad_config(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PORT": "0x"}
    r = subprocess.run(
        [sys.executable, "-m", "web.cli", "replay", "--json", "x.wav"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "PORT" in r.stderr


def test_env_example_documents_every_variable():
    from pathlib import Path

    from interviewer.config import Settings

    documented = Path(__file__).resolve().parent.parent.joinpath(".env.example").read_text()
    names = [f.alias for f in Settings.model_fields.values() if f.alias]
    missing = [n for n in names if f"{n}=" not in documented]
    assert not missing, f".env.example lacks {missing}"
