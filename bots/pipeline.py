"""Shared assembly for every bot: the stages a bot lists in its ``Pipeline([...])``, and the worker.

A bot file (``bots/technical.py``) writes its pipeline out, stage by stage, from the factories of
:class:`InterviewStages`; :func:`build_interview` gives it the stages for one session and wraps
the result in a ``PipelineWorker`` with the latency observer, the transcript recorder and the
RTVI messages the page needs. Each factory builds its stage once per session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from loguru import logger
from pipecat.audio.turn.smart_turn.base_smart_turn import SmartTurnParams
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    LLMRunFrame,
    TTSSpeakFrame,
)
from pipecat.observers.user_bot_latency_observer import MeasuredFrom, UserBotLatencyObserver
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.filters.function_filter import FunctionFilter
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.processors.frameworks.rtvi import RTVIObserverParams
from pipecat.transports.base_transport import BaseTransport
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from interviewer.audio import AUDIO_IN_RATE, AUDIO_OUT_RATE, STRETCH_TRAILING_SILENCE_SECS
from interviewer.config import Settings
from interviewer.eot import TextTurnScorer
from interviewer.line_writer import LineWriter
from interviewer.lines import LINE_ACKS, system_head, system_prompt
from interviewer.models import ModelBank
from interviewer.plan import CandidateContext, InterviewMode, PlanCursor
from interviewer.recordings import RecordingStore
from interviewer.rhythm import CandidateRhythm
from interviewer.scripted import ScriptedInterviewer
from interviewer.speech_text import shown_text, speech_text, unmarked
from interviewer.store import Store
from processors.answer_prefill import AnswerPrefillProcessor
from processors.avatar_expressions import AvatarExpressionProcessor
from processors.client_audio_watch import ClientAudioWatch
from processors.first_question import FirstQuestionGuard
from processors.floor_watch import FloorWatch
from processors.frames import InterviewClosedFrame
from processors.interim_transcriber import InterimTranscriber
from processors.interview_closer import InterviewCloser
from processors.interview_conductor import InterviewConductor
from processors.llm_fallback import REPLY_BUDGET_S, BudgetedOpenAILLMService, LLMFallbackProcessor
from processors.local_brain import LocalBrainProcessor
from processors.local_services import (
    InlineSileroVADAnalyzer,
    SharedMoonshineSTTService,
    SharedPiperTTSService,
    SharedSmartTurnAnalyzer,
    SharedWhisperSTTService,
)
from processors.patient_turn_stop import PatientTurnStopStrategy
from processors.recording_writer import RecordingWriter, recording_buffer
from processors.scored_turn_stop import ScoredTurnStopStrategy
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

    async def say_goodbye(self, line: str) -> None:
        """Stop what is being said, say ``line``, and end the session once it has been played."""
        await self.worker.queue_frames(
            [InterruptionFrame(), TTSSpeakFrame(line), InterviewClosedFrame()]
        )


@dataclass
class SessionRecord:
    """Where one session's transcript goes: its interview row, and the link to its report."""

    store: Store
    interview_id: str
    report_url: str


def voice_text_transforms() -> list:
    """What a voice is sent: the line without Markdown, then notation as it is said."""
    return [("*", unmarked), ("*", speech_text)]


async def not_microphone_audio(frame: Frame) -> bool:
    """Whether ``frame`` is anything but the candidate's audio (a ``FunctionFilter``'s test)."""
    return not isinstance(frame, InputAudioRawFrame)


def page_observer_params() -> RTVIObserverParams:
    """What the page is sent: the interviewer's lines as said, in their notation, without Markdown."""
    return RTVIObserverParams(bot_output_transforms=[("*", shown_text)])


@dataclass
class InterviewStages:
    """The stages of one interview, built from the process's shared models and the settings."""

    mode: InterviewMode
    transport: BaseTransport
    models: ModelBank
    settings: Settings
    candidate: CandidateContext = field(default_factory=CandidateContext)
    record: SessionRecord | None = None
    worker: PipelineWorker | None = None  # set by build_interview once the pipeline is built
    first_question: FirstQuestionGuard | None = None  # before an OpenAI-compatible LLM (brain())

    @cached_property
    def cursor(self) -> PlanCursor:
        """Where the interview is in its plan (shared by the conductor and the brain)."""
        return PlanCursor(self.mode, time_scale=self.settings.time_scale)

    @cached_property
    def aggregators(self) -> LLMContextAggregatorPair:
        """The user and assistant context aggregators; the user side decides when a turn ends."""
        s = self.settings
        patience = dict(
            min_words=s.patience_min_words,
            grace_secs=s.patience_grace_secs,
            sentence_pause_secs=s.turn_sentence_pause_secs,
            max_pause_secs=s.turn_max_pause_secs,
            pace_cap_secs=s.turn_pace_cap_secs,
            voice=self.vad,  # asked at a release: is the voice back in audio not yet reported?
            turn_analyzer=SharedSmartTurnAnalyzer(
                session=self.models.smart_turn_session,
                params=SmartTurnParams(stop_secs=s.turn_max_pause_secs),
            ),
        )
        if self._scored_turns:
            # How finished the words read (SmolLM2) and sound (smart-turn) sets the wait.
            writer = self.line_writer if s.turn_speculate else None
            turn_stop = ScoredTurnStopStrategy(
                scorer=TextTurnScorer.on(self.models.eot),
                question=self.asking,
                threshold=s.turn_score_threshold,
                fast_secs=s.turn_fast_secs,
                slow_secs=s.turn_slow_secs,
                rhythm=CandidateRhythm(
                    margin_secs=s.turn_rhythm_margin_secs,
                    floor_secs=s.turn_fast_floor_secs,
                    longest_pause_secs=s.turn_max_pause_secs,
                ),
                may_speculate=self._may_speculate if s.turn_speculate else None,
                speculate_lead_secs=s.turn_speculate_lead_secs,
                write_early=writer.write_early if writer else None,
                **patience,
            )
        else:
            turn_stop = PatientTurnStopStrategy(**patience)
        return LLMContextAggregatorPair(
            LLMContext(),
            user_params=LLMUserAggregatorParams(
                vad_analyzer=self.vad, user_turn_strategies=UserTurnStrategies(stop=[turn_stop])
            ),
        )

    @property
    def _scored_turns(self) -> bool:
        """Whether the turn's end is judged on a score of its words (else by rules)."""
        return self.models.eot is not None and self.settings.turn_text_model == "smollm2"

    def _may_speculate(self) -> bool:
        """Whether a reply may start before the turn ends (at a judged pause).

        Only pipecat's LLM services hold such a reply until the turn is confirmed (the local
        model's writer starts its line at that moment through ``write_early``; the script needs
        none), and only when the turn goes to the LLM:
        after a greeting cut before its question, ``FirstQuestionGuard`` answers it itself.
        """
        guard = self.first_question
        return (
            self.settings.llm_kind == "openai" and guard is not None and guard.lets_the_llm_answer
        )

    @cached_property
    def vad(self) -> InlineSileroVADAnalyzer:
        """Silero VAD; quicker to start while the candidate has the floor (``FloorWatch``)."""
        s = self.settings
        return InlineSileroVADAnalyzer(
            session=self.models.vad_session,
            params=VADParams(stop_secs=s.vad_stop_secs, start_secs=s.vad_start_secs),
            listening_start_secs=s.vad_listening_start_secs,
        )

    def asking(self) -> str:
        """The question the candidate is answering (the opening's, before the first)."""
        q = self.cursor.question
        return q.text if q else "Tell me about yourself."

    @cached_property
    def line_writer(self) -> LineWriter | None:
        """With ``LLM=local``: this session's writer of model lines, on a server slot of its own."""
        if self.settings.llm_kind != "local":
            return None
        server = self.models.llm
        if server is None:
            raise RuntimeError(
                "LLM=local but the local model is not running (it starts with the app)"
            )
        return LineWriter(
            server.openai_client(timeout=10),
            server.model,
            system_prompt(self.mode, self.candidate),
            slot=server.acquire_slot(),  # given back by the brain's cleanup
            heads=server.heads,
            head=system_head(self.mode),  # read once for every candidate of the mode
            temperature=self.settings.local_llm_temperature,
            # The scored turn's judge starts early lines when it starts early replies; by rules,
            # a finished-reading stretch does.
            write_on_finished_sentence=self.settings.turn_speculate and not self._scored_turns,
            in_flight=server.lines,  # the reports scored meanwhile give way to its lines
        )

    # --- the stages, in pipeline order ---------------------------------------------------

    def client_watch(self) -> FrameProcessor:
        """A connected client that sends no audio for ``CLIENT_IDLE_SECS`` hears a nudge, then a goodbye."""
        return ClientAudioWatch(self.settings.client_idle_secs)

    def interim_words(self) -> list[FrameProcessor]:
        """Live words for the page while the candidate speaks (``STT_INTERIM_SECS``; 0: off)."""
        if self.settings.stt_interim_secs <= 0 or self.models.live_words is None:
            return []
        return [
            InterimTranscriber(
                self.models.stt_load,
                self.models.live_words,
                interval_secs=self.settings.stt_interim_secs,
            )
        ]

    @cached_property
    def transcript(self) -> TranscriptRecorder | None:
        """Stores each turn as it ends; each candidate turn decoded again once the reply has ended."""
        if self.record is None:
            return None
        return TranscriptRecorder(
            self.record.store,
            self.record.interview_id,
            self.cursor,
            final_words=self.models.final_words,
            hotwords=self.hotwords,
        )

    @cached_property
    def hotwords(self) -> str | None:
        """Jargon from the resume and the job description, for Whisper."""
        return " ".join(self.candidate.terms()) or None

    def stt(self) -> FrameProcessor:
        """Each stretch of speech transcribed as it ends (the model is loaded once per process)."""
        on_stretch = self.transcript.stretch_heard if self.transcript else None
        if self.models.moonshine is not None:
            return SharedMoonshineSTTService(
                model=self.models.moonshine,
                # Speech end to final transcript, p99, with a long stretch on a busy machine (a 9 s
                # stretch took 1.2 s beside a model line): a turn is judged without a stretch's
                # words only past it. A stretch without words is known at once (it says so).
                ttfs_p99_latency=2.0,
                trailing_silence_secs=STRETCH_TRAILING_SILENCE_SECS,
                on_stretch=on_stretch,
                second_opinion=self.models.second_opinion,  # Whisper, on a bare word it missed
            )
        return SharedWhisperSTTService(
            model=self.models.whisper,
            model_name=self.settings.stt_model,
            beam_size=self.settings.stt_beam_size,
            language=self.models.whisper_language or "en",
            # Speech end to final transcript, p99, measured here (VAD stop + Whisper on 2 cores).
            ttfs_p99_latency=2.0,
            trailing_silence_secs=STRETCH_TRAILING_SILENCE_SECS,
            hotwords=self.hotwords,
            on_stretch=on_stretch,
        )

    def answer_prefill(self) -> list[FrameProcessor]:
        """With ``LLM=local``, the stage that lets the model read the answer as it is spoken."""
        return [AnswerPrefillProcessor(self.line_writer)] if self.line_writer else []

    def user_turn(self) -> FrameProcessor:
        """VAD + smart-turn + the transcript's words decide when the candidate has finished.

        The VAD is told who has the floor (``FloorWatch``): a bare "Yes." starts speech then.
        The candidate's audio goes no further unless it is recorded (:meth:`recorder`): no stage
        after this one reads it, and each of the 50 chunks a second would otherwise pass through
        all of them, in silence too.
        """
        stages: list[FrameProcessor] = [self.aggregators.user(), FloorWatch(self.vad)]
        if not self.records_audio:
            stages.append(FunctionFilter(not_microphone_audio, filter_system_frames=True))
        return Pipeline(stages)

    def conductor(self) -> FrameProcessor:
        """The plan's clock: time boxes, monologue cap, silence nudges, progress messages."""
        return InterviewConductor(
            self.cursor,
            llm_guided=self.settings.llm_kind == "openai",
            request_reply=self._request_reply,
            base_instruction=self.mode.system_prompt(self.candidate),
        )

    @cached_property
    def _brain(self) -> FrameProcessor:
        mode, candidate, settings, cursor = self.mode, self.candidate, self.settings, self.cursor
        if settings.llm_kind == "local":
            writer, server = self.line_writer, self.models.llm
            return LocalBrainProcessor(
                ScriptedInterviewer(mode, candidate, cursor, open_follow_ups=True, acks=LINE_ACKS),
                writer,
                gap_secs=settings.local_llm_gap_secs,
                finish_secs=settings.local_llm_finish_secs,
                on_cleanup=lambda: server.session_ended(
                    writer.slot,
                    writer.stats.needed,
                    writer.stats.written,
                    early=writer.stats.speculated,
                    early_used=writer.stats.speculation_used,
                    late=writer.stats.late,
                    after_deadline=writer.stats.finished_after_deadline,
                ),
            )
        if settings.llm_kind == "openai":
            if settings.llm_gguf and not settings.openai_base_url:
                raise RuntimeError(
                    "LLM_GGUF is set but its local server is not running (it starts with the app)"
                )
            # A GGUF file (LLM_GGUF) is served on loopback at start-up and reached this same way.
            # Its requests time out with the fallback's budget (see fallback()).
            return BudgetedOpenAILLMService(
                budget_s=REPLY_BUDGET_S,
                api_key=settings.openai_api_key or "not-needed",
                base_url=settings.openai_base_url,
                settings=BudgetedOpenAILLMService.Settings(
                    model=settings.openai_model, system_instruction=mode.system_prompt(candidate)
                ),
            )
        return ScriptedBrainProcessor(ScriptedInterviewer(mode, candidate, cursor))

    def brain(self) -> FrameProcessor:
        """The LLM slot: the plan-led local model, an OpenAI-compatible LLM, or the script.

        Before an OpenAI-compatible LLM, a guard: a candidate who talked over the greeting
        before its first question hears that question again (the other brains do this
        themselves).
        """
        if self.settings.llm_kind == "openai":
            if self.first_question is None:
                self.first_question = FirstQuestionGuard(self.cursor)
            return Pipeline([self.first_question, self._brain])
        return self._brain

    def fallback(self) -> FrameProcessor:
        """A failed, cut or stalled reply becomes a short spoken apology, never silence.

        A reply not started within ``REPLY_BUDGET_S`` is apologised for; the OpenAI client's
        request gives up at the same budget, so it does not run on after the apology.
        """
        return LLMFallbackProcessor(self._brain, timeout_s=REPLY_BUDGET_S)

    def avatar(self) -> FrameProcessor:
        """Avatar expression messages for the page (listening, thinking, speaking, emotion)."""
        return AvatarExpressionProcessor()

    def tts(self) -> FrameProcessor:
        """Piper with the shared voice, or Cartesia's streaming WebSocket when configured.

        Cartesia's service turns its word timestamps into the bot's text frames, so the
        transcript follows what was actually heard. Either voice says a sentence again (or
        otherwise) when it fails once, rather than leaving silence. Neither reads Markdown out,
        and both say engineers' notation as it is spoken ("50ms": "50 milliseconds";
        :func:`voice_text_transforms`).
        """
        s = self.settings
        if s.tts == "cartesia":
            from processors.local_services import RetryingCartesiaTTSService

            kwargs = {"url": s.cartesia_url} if s.cartesia_url else {}  # a stand-in or proxy
            return RetryingCartesiaTTSService(
                api_key=s.cartesia_api_key,
                settings=RetryingCartesiaTTSService.Settings(voice=s.cartesia_voice_id),
                text_transforms=voice_text_transforms(),
                **kwargs,
            )
        return SharedPiperTTSService(
            voice=self.models.piper_voice,
            lock=self.models.piper_lock,
            phrases=self.models.piper_phrases,
            text_transforms=voice_text_transforms(),
        )

    @property
    def records_audio(self) -> bool:
        """Whether this session records both sides' audio (the candidate's consent, ``RECORDING=on``)."""
        return bool(self.candidate.record and self.settings.recording == "on" and self.record)

    def recorder(self) -> list[FrameProcessor]:
        """With the candidate's consent and ``RECORDING=on``: both sides' audio, into a file.

        Pipecat's ``AudioBufferProcessor`` after the output hears the candidate's audio and
        the interviewer's as it is played; the writer streams it to the interview's recording
        (listed in the database). Without consent: no stage, nothing written.
        """
        if not self.records_audio:
            return []
        recordings = RecordingStore(self.record.store, self.settings.recordings_dir)
        interview_id = self.record.interview_id
        writer = RecordingWriter(
            recordings.path_for(interview_id), recordings.listing(interview_id)
        )
        buffer = recording_buffer()
        writer.attach(buffer)
        return [buffer]

    def assistant_turn(self) -> FrameProcessor:
        """What the interviewer actually said (cut where the candidate interrupted) into the context."""
        return self.aggregators.assistant()

    def closer(self) -> FrameProcessor:
        """Ends the session once the closing words have been said, and tells the page."""
        return InterviewCloser(self._on_closed)

    # --- events ------------------------------------------------------------------------

    async def _request_reply(self) -> None:
        await self.worker.queue_frame(LLMRunFrame())

    async def _on_closed(self) -> None:
        report_url = self.record.report_url if self.record else None
        await self.worker.rtvi.send_server_message(
            {"type": "interview", "state": "ended", "report_url": report_url}
        )


PipelineFactory = Callable[[InterviewStages], Pipeline]


def build_interview(
    mode: InterviewMode,
    transport: BaseTransport,
    models: ModelBank,
    settings: Settings,
    candidate: CandidateContext | None = None,
    record: SessionRecord | None = None,
    pipeline: PipelineFactory | None = None,
) -> Interview:
    """One interview: the mode's bot pipeline (``pipeline``; default: its bot file's) in a worker."""
    if pipeline is None:
        from bots import pipeline_for

        pipeline = pipeline_for(mode.id)
    stages = InterviewStages(
        mode, transport, models, settings, candidate or CandidateContext(), record
    )
    latency = UserBotLatencyObserver()
    worker = PipelineWorker(
        pipeline(stages),
        params=PipelineParams(
            audio_in_sample_rate=AUDIO_IN_RATE,
            audio_out_sample_rate=AUDIO_OUT_RATE,
            enable_metrics=True,
        ),
        observers=[latency],
        rtvi_observer_params=page_observer_params(),
        idle_timeout_secs=600,
    )
    stages.worker = worker

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

    if stages.first_question is not None:  # it hears how each interviewer turn ended
        stages.aggregators.assistant().add_event_handler(
            "on_assistant_turn_stopped", stages.first_question.assistant_turn_stopped
        )

    recorder = stages.transcript
    if recorder is not None:
        recorder.attach(stages.aggregators, latency, notify=worker.rtvi.send_server_message)

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
    return Interview(worker, stages.cursor, recorder)
