"""Local WebSocket transport (FastAPI), the default."""

from __future__ import annotations

from fastapi import WebSocket
from pipecat.frames.frames import OutputTransportMessageUrgentFrame
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport

from interviewer.audio import AUDIO_IN_RATE
from interviewer.config import Settings
from transports.serializer import ClientFrameSerializer


def websocket_transport(websocket: WebSocket, settings: Settings) -> FastAPIWebsocketTransport:
    """A FastAPI WebSocket transport speaking pipecat protobuf frames with RTVI.

    Client messages the serializer drops are answered with an RTVI error, sent down the
    pipeline from the input transport like any other message to the client.
    """
    serializer = ClientFrameSerializer(
        max_message_bytes=settings.max_message_bytes, audio_in_rate=AUDIO_IN_RATE
    )
    params = FastAPIWebsocketParams(
        audio_in_enabled=True,
        audio_out_enabled=True,
        add_wav_header=False,
        serializer=serializer,
        session_timeout=None,
        allowed_origins=[],  # the server checks Origin itself before accepting
    )
    transport = FastAPIWebsocketTransport(websocket=websocket, params=params)
    source = transport.input()

    async def notify(message: dict) -> None:
        await source.push_frame(OutputTransportMessageUrgentFrame(message=message))

    serializer.notify = notify
    return transport
