"""One typed settings object, read from the environment and .env.

Every knob of the product lives here. A wrong value fails at start-up with one line
naming the variable (see :func:`load_settings`), never in the middle of an interview.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(SystemExit):
    """Start-up configuration error; carries one human-readable line."""


class Settings(BaseSettings):
    """Configuration of the interviewer server, its models and services."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # Server
    host: str = Field("127.0.0.1", alias="HOST")
    port: int = Field(7860, alias="PORT", ge=1, le=65535)
    allowed_origins: str = Field("", alias="ALLOWED_ORIGINS", description="comma-separated; empty = same host only")
    max_sessions: int = Field(8, alias="MAX_SESSIONS", ge=1)
    max_message_bytes: int = Field(256_000, alias="MAX_MESSAGE_BYTES", ge=1024)
    session_token_ttl_s: int = Field(120, alias="SESSION_TOKEN_TTL_S", ge=5)

    # Speech to text
    stt_model: str = Field("tiny.en", alias="STT_MODEL", description="tiny.en | base | /path/to/ct2-folder")
    stt_threads: int = Field(2, alias="STT_THREADS", ge=1)
    stt_beam_size: int = Field(1, alias="STT_BEAM_SIZE", ge=1, le=10)
    model_cache_dir: Path = Field(Path.home() / ".cache" / "interviewer", alias="MODEL_CACHE_DIR")

    # Turn taking
    vad_stop_secs: float = Field(0.2, alias="VAD_STOP_SECS", gt=0, le=3)
    vad_start_secs: float = Field(0.2, alias="VAD_START_SECS", gt=0, le=2)
    patience_min_words: int = Field(8, alias="PATIENCE_MIN_WORDS", ge=0)
    patience_grace_secs: float = Field(1.0, alias="PATIENCE_GRACE_SECS", ge=0, le=5)

    # LLM
    openai_api_key: str | None = Field(None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, alias="OPENAI_BASE_URL")
    openai_model: str = Field("gpt-4o-mini", alias="OPENAI_MODEL")

    # Text to speech
    tts: Literal["piper", "cartesia"] = Field("piper", alias="TTS")
    piper_voice: Path | None = Field(None, alias="PIPER_VOICE", description=".onnx voice file; default: bundled joe")
    cartesia_api_key: str | None = Field(None, alias="CARTESIA_API_KEY")
    cartesia_voice_id: str | None = Field(None, alias="CARTESIA_VOICE_ID")
    cartesia_url: str | None = Field(None, alias="CARTESIA_URL")

    # Transport
    transport: Literal["websocket", "daily"] = Field("websocket", alias="TRANSPORT")

    @field_validator("stt_model")
    @classmethod
    def _stt_model_known(cls, v: str) -> str:
        if v in ("base", "tiny.en") or Path(v).is_dir():
            return v
        raise ValueError("must be 'base', 'tiny.en' or an existing faster-whisper model folder")

    @field_validator("piper_voice")
    @classmethod
    def _voice_exists(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError(f"no such voice file: {v}")
        return v

    @model_validator(mode="after")
    def _keys_present(self) -> Settings:
        if self.tts == "cartesia" and not self.cartesia_api_key:
            raise ValueError("CARTESIA_API_KEY is required when TTS=cartesia")
        return self

    @property
    def llm_kind(self) -> Literal["scripted", "openai"]:
        """Which brain answers: an OpenAI-compatible endpoint, or the offline script."""
        return "openai" if self.openai_api_key or self.openai_base_url else "scripted"

    @property
    def origins(self) -> list[str]:
        """Allowed WebSocket origins (empty list means: same host as the server)."""
        return [o.strip() for o in self.allowed_origins.split(",") if o.strip()]


def load_settings(**overrides) -> Settings:
    """Read settings; on a bad value exit with one line naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as e:
        err = e.errors()[0]
        loc = err.get("loc") or ("settings",)
        name = str(loc[0]).upper() if loc else "settings"
        raise SettingsError(f"configuration error: {name}: {err.get('msg')}") from None
