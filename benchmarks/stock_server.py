"""A stock pipecat pipeline, for comparison: pipecat's defaults, the same models, same protocol.

Serves the same session API as ours (``POST /start`` → ``{"wsUrl", "token"}``, WebSocket at
``/ws-client``) so the benchmark's candidate client talks to both unchanged. Only what a
stock pipecat bot would write is here: the speech-to-text service of ``STT_MODEL``
(WhisperSTTService, or MoonshineSTTService for ``moonshine-tiny``) and PiperTTSService constructed
the stock way (each session loads its own models), default VAD and turn strategies,
ProtobufFrameSerializer, and the same offline scripted brain in the LLM slot (there is no
offline LLM to compare with). The one departure: MoonshineSTTService downloads its model from
Moonshine's hub, out of reach here, so :class:`PackagedMoonshineSTTService` loads the same
tiny-en model from the ``moonshine-voice`` package instead (pipecat's own loader otherwise,
ONNX Runtime on its default threads). It adds pipecat's own latency observer only to report the
breakdown. Run: ``python benchmarks/stock_server.py --port 7870``.
"""

from __future__ import annotations

import argparse
import secrets

import uvicorn
from fastapi import FastAPI, Request, WebSocket
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.frames.frames import LLMRunFrame
from pipecat.observers.user_bot_latency_observer import MeasuredFrom, UserBotLatencyObserver
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.serializers.protobuf import ProtobufFrameSerializer
from pipecat.services.moonshine.stt import MoonshineSTTService
from pipecat.services.piper.tts import PiperTTSService
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from pipecat.workers.runner import WorkerRunner

from bots import get_mode
from interviewer.config import Settings, load_settings
from interviewer.models import MOONSHINE, piper_voice_path, whisper_model_folder
from interviewer.scripted import ScriptedInterviewer
from processors.scripted_brain import ScriptedBrainProcessor

app = FastAPI()


class PackagedMoonshineSTTService(MoonshineSTTService):
    """The pipecat Moonshine service on the tiny-en model the ``moonshine-voice`` package carries."""

    def _load(self):
        from moonshine_voice import ModelArch, get_model_path
        from moonshine_voice.transcriber import Transcriber

        return Transcriber(str(get_model_path("tiny-en")), model_arch=ModelArch.TINY)


def stock_stt(settings: Settings):
    """The pipecat service for ``STT_MODEL``, constructed as its docs show."""
    if settings.stt_model == MOONSHINE:
        return PackagedMoonshineSTTService(settings=MoonshineSTTService.Settings(model="tiny"))
    return WhisperSTTService(
        settings=WhisperSTTService.Settings(model=str(whisper_model_folder(settings)))
    )


_tokens: dict[str, str] = {}


@app.get("/status")
async def status():
    return {"ready": True, "stock": True}


@app.post("/start")
async def start(request: Request):
    body = (await request.json()).get("body") or {}
    token = secrets.token_urlsafe(16)
    _tokens[token] = body.get("mode", "technical")
    return {"wsUrl": f"ws://{request.url.netloc}/ws-client", "token": token}


@app.websocket("/ws-client")
async def ws_client(websocket: WebSocket):
    mode = get_mode(_tokens.pop(websocket.query_params.get("token", ""), "technical"))
    await websocket.accept()
    settings = load_settings()
    voice = piper_voice_path(settings)
    transport = FastAPIWebsocketTransport(
        websocket=websocket,
        params=FastAPIWebsocketParams(
            audio_in_enabled=True, audio_out_enabled=True, serializer=ProtobufFrameSerializer()
        ),
    )
    stt = stock_stt(settings)
    tts = PiperTTSService(
        settings=PiperTTSService.Settings(voice=voice.stem), download_dir=voice.parent
    )
    context = LLMContext()
    aggregators = LLMContextAggregatorPair(
        context, user_params=LLMUserAggregatorParams(vad_analyzer=SileroVADAnalyzer())
    )
    pipeline = Pipeline(
        [
            transport.input(),
            stt,
            aggregators.user(),
            ScriptedBrainProcessor(ScriptedInterviewer(mode)),
            tts,
            transport.output(),
            aggregators.assistant(),
        ]
    )
    latency = UserBotLatencyObserver()
    worker = PipelineWorker(
        pipeline, params=PipelineParams(enable_metrics=True), observers=[latency]
    )

    @latency.event_handler("on_latency_breakdown")
    async def on_breakdown(_o, b):
        if b.measured_from == MeasuredFrom.USER_SILENCE:
            parts = [
                {"key": c.key, "label": c.label, "ms": round(c.duration_secs * 1000)}
                for c in b.contributions
            ]
            await worker.rtvi.send_server_message(
                {"type": "latency", "ms": round(b.total_secs * 1000), "parts": parts}
            )

    @worker.rtvi.event_handler("on_client_ready")
    async def on_ready(_r):
        await worker.queue_frame(LLMRunFrame())

    @transport.event_handler("on_client_disconnected")
    async def on_gone(_t, _w):
        await worker.cancel()

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await runner.run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=7870)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port, log_level="warning")
