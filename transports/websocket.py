"""Local WebSocket transport (FastAPI), the default."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable

from fastapi import WebSocket
from loguru import logger
from pipecat.frames.frames import OutputTransportMessageUrgentFrame
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

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


def bound_writes(
    websocket: WebSocket, timeout_s: float, on_stuck: Callable[[], Awaitable[None]]
) -> None:
    """Make writes to a client that stopped reading give up after ``timeout_s``, once.

    A send to such a client waits forever once the socket's buffers are full, and with it
    the whole output of the interview. The first send that waits ``timeout_s`` calls
    ``on_stuck`` (which ends the session); every later send is dropped at once.
    """
    stuck = False

    def bounded(send: Callable[[bytes | str], Awaitable[None]]):
        async def send_within(data: bytes | str) -> None:
            nonlocal stuck
            if stuck:
                return
            try:
                await asyncio.wait_for(send(data), timeout_s)
            except TimeoutError:
                stuck = True
                logger.warning(f"The client read nothing for {timeout_s:g} s; dropping it")
                await on_stuck()

        return send_within

    # Our own WebSocket object: the transport only calls these two to write.
    websocket.send_bytes = bounded(websocket.send_bytes)  # type: ignore[method-assign]
    websocket.send_text = bounded(websocket.send_text)  # type: ignore[method-assign]


class ResettingWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, except that a client that misses a keepalive pong is reset.

    uvicorn ends such a connection with a close frame and a FIN, both queued behind the bytes
    the client never read: its window stays shut, so they never leave and the connection stays
    established after its session has ended (seen once in a dozen runs, whenever the server had
    read all the client's data before closing). A reset leaves at once. Pass it as uvicorn's
    ``ws``.
    """

    def keepalive_timeout(self) -> None:
        """Reset, not close, a connection whose client did not answer a ping in time."""
        sock = self.transport.get_extra_info("socket")
        if sock is not None and not (self.close_sent or self.transport.is_closing()):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        super().keepalive_timeout()
        if self.transport.get_write_buffer_size():  # close() would first wait to send these
            self.transport.abort()
