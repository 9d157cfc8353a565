"""The one place where an interview pipeline is assembled; every bot file calls it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from loguru import logger
from pipecat.audio.turn.smart_turn.base_smart_turn import SmartTurnParams
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import LLMRunFrame
from pipecat.observers.user_bot_latency_observer import MeasuredFrom, UserBotLatencyObserver
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.transports.base_transport import BaseTransport
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from interviewer.audio import AUDIO_IN_RATE, AUDIO_OUT_RATE
from interviewer.config import Settings
from interviewer.line_writer import LineWriter
from interviewer.lines import LINE_ACKS, system_prompt
from interviewer.models import ModelBank
from interviewer.plan import CandidateContext, InterviewMode, PlanCursor
from interviewer.scripted import ScriptedInterviewer
from interviewer.store import Store
from processors.answer_prefill import AnswerPrefillProcessor
from processors.avatar_expressions import AvatarExpressionProcessor
from processors.interview_closer import InterviewCloser
from processors.interview_conductor import InterviewConductor
from processors.llm_fallback import LLMFallbackProcessor
from processors.local_brain import LocalBrainProcessor
from processors.local_services import (
    SharedPiperTTSService,
    SharedSmartTurnAnalyzer,
    SharedWhisperSTTService,
)
from processors.patient_turn_stop import PatientTurnStopStrategy
from processors.scripted_brain import ScriptedBrainProcessor
from processors.transcript_recorder import TranscriptRecorder

NOTICES = {
    "scripted": "Offline scripted interviewer: no LLM is configured.",
    "local": "Offline AI interviewer: a local model (Qwen2.5-Coder 1.5B) follows the interview plan.",
}


@dataclass
class Interview:
    """One built interview: its worker, plan cursor and transcript recorder."""

    worker: PipelineWorker
    cursor: PlanCursor
    recorder: TranscriptRecorder | None


@dataclass
class SessionRecord:
    """Where one session's transcript goes: its interview row, and the link to its report."""

    store: Store
    interview_id: str
    report_url: str


def make_line_writer(
    mode: InterviewMode, candidate: CandidateContext, models: ModelBank, settings: Settings
) -> tuple[LineWriter, Callable[[], None]]:
    """A writer of model lines on the process's local model, with a slot of its own, and how to free it."""
    from openai import AsyncOpenAI

    server = models.llm
    if server is None:
        raise RuntimeError("LLM=local but the local model is not running (it starts with the app)")
    slot = server.acquire_slot()
    client = AsyncOpenAI(
        api_key=server.api_key, base_url=server.base_url, timeout=10, max_retries=0
    )
    writer = LineWriter(
        client,
        server.model,
        system_prompt(mode, candidate),
        slot=slot,
        temperature=settings.local_llm_temperature,
    )
    return writer, lambda: server.release_slot(slot)


def make_llm(
    mode: InterviewMode,
    candidate: CandidateContext,
    settings: Settings,
    cursor: PlanCursor,
    writer: tuple[LineWriter, Callable[[], None]] | None = None,
) -> FrameProcessor:
    """The LLM slot: an OpenAI-compatible endpoint, the plan-led local model, or the scripted brain.

    A local GGUF (``LLM_GGUF``) is served once per process on loopback by
    ``interviewer.local_llm`` (started from the app's lifespan), which points
    ``OPENAI_BASE_URL`` at it: sessions reach it through this same OpenAI client path.
    With ``LLM=local`` the packaged model writes the lines the plan leaves open (``writer``).
    """
    if settings.llm_kind == "local" and writer is not None:
        line_writer, release = writer
        interviewer = ScriptedInterviewer(
            mode, candidate, cursor, open_follow_ups=True, acks=LINE_ACKS
        )
        return LocalBrainProcessor(
            interviewer, line_writer, gap_secs=settings.local_llm_gap_secs, on_cleanup=release
        )
    if settings.llm_kind == "openai":
        from pipecat.services.openai.llm import OpenAILLMService

        if settings.llm_gguf and not settings.openai_base_url:
            raise RuntimeError(
                "LLM_GGUF is set but its local server is not running (it starts with the app)"
            )

        return OpenAILLMService(
            api_key=settings.openai_api_key or "not-needed",
            base_url=settings.openai_base_url,
            settings=OpenAILLMService.Settings(
                model=settings.openai_model, system_instruction=mode.system_prompt(candidate)
            ),
        )
    return ScriptedBrainProcessor(ScriptedInterviewer(mode, candidate, cursor))


def make_tts(models: ModelBank, settings: Settings) -> FrameProcessor:
    """Piper with the shared voice (default), or Cartesia's streaming WebSocket when configured.

    Cartesia's service speaks text as it arrives and turns its word timestamps into the
    bot's text frames, so the transcript follows what was actually heard.
    """
    if settings.tts == "cartesia":
        from pipecat.services.cartesia.tts import CartesiaTTSService

        kwargs = (
            {"url": settings.cartesia_url} if settings.cartesia_url else {}
        )  # CARTESIA_URL: a stand-in or proxy
        return CartesiaTTSService(
            api_key=settings.cartesia_api_key,
            settings=CartesiaTTSService.Settings(voice=settings.cartesia_voice_id),
            **kwargs,
        )
    return SharedPiperTTSService(voice=models.piper_voice, lock=models.piper_lock)


def build_interview(
    mode: InterviewMode,
    transport: BaseTransport,
    models: ModelBank,
    settings: Settings,
    candidate: CandidateContext | None = None,
    record: SessionRecord | None = None,
) -> Interview:
    """Assemble one interview: transport → STT → user turn → conductor → brain → avatar → TTS → transport."""
    candidate = candidate or CandidateContext()
    cursor = PlanCursor(mode, time_scale=settings.time_scale)
    stt = SharedWhisperSTTService(
        model=models.whisper,
        model_name=settings.stt_model,
        beam_size=settings.stt_beam_size,
        language=models.whisper_language or "en",
        # Speech end to final transcript, p99, measured here (VAD stop + Whisper on 2 cores).
        ttfs_p99_latency=2.0,
        hotwords=" ".join(candidate.terms()) or None,  # jargon from the resume and JD
    )
    context = LLMContext()
    turn_stop = PatientTurnStopStrategy(
        min_words=settings.patience_min_words,
        grace_secs=settings.patience_grace_secs,
        sentence_pause_secs=settings.turn_sentence_pause_secs,
        max_pause_secs=settings.turn_max_pause_secs,
        pace_cap_secs=settings.turn_pace_cap_secs,
        turn_analyzer=SharedSmartTurnAnalyzer(
            session=models.smart_turn_session,
            params=SmartTurnParams(stop_secs=settings.turn_max_pause_secs),
        ),
    )
    aggregators = LLMContextAggregatorPair(
        context,
        user_params=LLMUserAggregatorParams(
            vad_analyzer=SileroVADAnalyzer(
                params=VADParams(
                    stop_secs=settings.vad_stop_secs, start_secs=settings.vad_start_secs
                )
            ),
            user_turn_strategies=UserTurnStrategies(stop=[turn_stop]),
        ),
    )
    writer = (
        make_line_writer(mode, candidate, models, settings)
        if settings.llm_kind == "local"
        else None
    )
    llm = make_llm(mode, candidate, settings, cursor, writer)

    async def request_reply():
        await worker.queue_frame(LLMRunFrame())

    async def on_closed():
        await worker.rtvi.send_server_message(
            {
                "type": "interview",
                "state": "ended",
                "report_url": record.report_url if record else None,
            }
        )

    conductor = InterviewConductor(
        cursor,
        llm_guided=settings.llm_kind == "openai",
        request_reply=request_reply,
        base_instruction=mode.system_prompt(candidate),
    )
    pipeline = Pipeline(
        [
            transport.input(),
            stt,
            *([AnswerPrefillProcessor(writer[0])] if writer else []),
            aggregators.user(),
            conductor,
            llm,
            LLMFallbackProcessor(llm),
            AvatarExpressionProcessor(),
            make_tts(models, settings),
            transport.output(),
            aggregators.assistant(),
            InterviewCloser(on_closed),
        ]
    )
    latency = UserBotLatencyObserver()
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(
            audio_in_sample_rate=AUDIO_IN_RATE,
            audio_out_sample_rate=AUDIO_OUT_RATE,
            enable_metrics=True,
        ),
        observers=[latency],
        idle_timeout_secs=600,
    )

    @latency.event_handler("on_latency_breakdown")
    async def on_latency_breakdown(_observer, breakdown):
        if breakdown.measured_from != MeasuredFrom.USER_SILENCE:
            return  # the greeting is not a reply
        parts = [
            {"key": c.key, "label": c.label, "ms": round(c.duration_secs * 1000)}
            for c in (breakdown.contributions or [])
        ]
        ms = round((breakdown.total_secs or 0) * 1000)
        await worker.rtvi.send_server_message({"type": "latency", "ms": ms, "parts": parts})

    recorder = None
    if record is not None:
        recorder = TranscriptRecorder(record.store, record.interview_id, cursor)
        recorder.attach(aggregators, latency)

    @worker.rtvi.event_handler("on_client_ready")
    async def on_client_ready(_rtvi):
        await worker.rtvi.send_server_message(
            {
                "type": "interview",
                "state": "started",
                "interview_id": record.interview_id if record else None,
                "report_url": record.report_url if record else None,
            }
        )
        if settings.llm_kind in NOTICES:
            await worker.rtvi.send_server_message(
                {"type": "notice", "text": NOTICES[settings.llm_kind]}
            )
        await worker.queue_frame(LLMRunFrame())

    logger.info(f"Built {mode.id} interview ({settings.llm_kind} brain, {settings.tts} voice)")
    return Interview(worker, cursor, recorder)
