"""Local WebSocket transport (FastAPI), the default."""

from __future__ import annotations

from fastapi import WebSocket
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport

from interviewer.config import Settings
from transports.serializer import ClientFrameSerializer


def websocket_transport(websocket: WebSocket, settings: Settings) -> FastAPIWebsocketTransport:
    """A FastAPI WebSocket transport speaking pipecat protobuf frames with RTVI."""
    params = FastAPIWebsocketParams(
        audio_in_enabled=True,
        audio_out_enabled=True,
        add_wav_header=False,
        serializer=ClientFrameSerializer(max_message_bytes=settings.max_message_bytes),
        session_timeout=None,
        allowed_origins=[],  # the server checks Origin itself before accepting
    )
    return FastAPIWebsocketTransport(websocket=websocket, params=params)
