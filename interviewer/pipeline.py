"""The one place where an interview pipeline is assembled; every bot file calls it."""

from __future__ import annotations

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

from interviewer.config import Settings
from interviewer.models import ModelBank
from interviewer.plan import CandidateContext, InterviewMode
from interviewer.scripted import ScriptedInterviewer
from processors.avatar_expressions import AvatarExpressionProcessor
from processors.local_services import (
    SharedPiperTTSService,
    SharedSmartTurnAnalyzer,
    SharedWhisperSTTService,
)
from processors.patient_turn_stop import PatientTurnStopStrategy
from processors.scripted_brain import ScriptedBrainProcessor

AUDIO_IN_RATE = 16_000
AUDIO_OUT_RATE = 24_000


def make_llm(mode: InterviewMode, candidate: CandidateContext, settings: Settings) -> FrameProcessor:
    """The LLM slot: an OpenAI-compatible endpoint when configured, else the scripted brain."""
    if settings.llm_kind == "openai":
        from pipecat.services.openai.llm import OpenAILLMService

        return OpenAILLMService(
            api_key=settings.openai_api_key or "not-needed",
            base_url=settings.openai_base_url,
            settings=OpenAILLMService.Settings(
                model=settings.openai_model, system_instruction=mode.system_prompt(candidate)
            ),
        )
    return ScriptedBrainProcessor(ScriptedInterviewer(mode, candidate))


def make_tts(models: ModelBank, settings: Settings) -> FrameProcessor:
    """Piper with the shared voice (default), or Cartesia when configured."""
    if settings.tts == "cartesia":
        from pipecat.services.cartesia.tts import CartesiaTTSService

        kwargs = {"url": settings.cartesia_url} if settings.cartesia_url else {}
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
) -> PipelineWorker:
    """Assemble one interview: transport → STT → user turn → brain → avatar → TTS → transport."""
    candidate = candidate or CandidateContext()
    stt = SharedWhisperSTTService(
        model=models.whisper,
        model_name=settings.stt_model,
        beam_size=settings.stt_beam_size,
        language=models.whisper_language or "en",
        # Speech end to final transcript, p99, measured here (VAD stop + Whisper on 2 cores).
        ttfs_p99_latency=2.0,
    )
    context = LLMContext()
    turn_stop = PatientTurnStopStrategy(
        min_words=settings.patience_min_words,
        grace_secs=settings.patience_grace_secs,
        turn_analyzer=SharedSmartTurnAnalyzer(session=models.smart_turn_session, params=SmartTurnParams())
    )
    aggregators = LLMContextAggregatorPair(
        context,
        user_params=LLMUserAggregatorParams(
            vad_analyzer=SileroVADAnalyzer(
                params=VADParams(stop_secs=settings.vad_stop_secs, start_secs=settings.vad_start_secs)
            ),
            user_turn_strategies=UserTurnStrategies(stop=[turn_stop]),
        ),
    )
    llm = make_llm(mode, candidate, settings)
    pipeline = Pipeline(
        [
            transport.input(),
            stt,
            aggregators.user(),
            llm,
            AvatarExpressionProcessor(),
            make_tts(models, settings),
            transport.output(),
            aggregators.assistant(),
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

    @worker.rtvi.event_handler("on_client_ready")
    async def on_client_ready(_rtvi):
        if settings.llm_kind == "scripted":
            await worker.rtvi.send_server_message(
                {"type": "notice", "text": "Offline scripted interviewer: no LLM is configured."}
            )
        await worker.queue_frame(LLMRunFrame())

    logger.info(f"Built {mode.id} interview ({settings.llm_kind} brain, {settings.tts} voice)")
    return worker
