"""The WebSocket wire format: pipecat's protobuf frames, trusting the client only with what a client may send."""

from __future__ import annotations

from loguru import logger
from pipecat.frames.frames import Frame, InputAudioRawFrame, InputTransportMessageFrame
from pipecat.serializers.protobuf import ProtobufFrameSerializer

MAX_AUDIO_RATE = 48_000
MIN_AUDIO_RATE = 8_000


class ClientFrameSerializer(ProtobufFrameSerializer):
    """Protobuf serializer that accepts audio and RTVI messages from the client, nothing else.

    Stock pipecat decodes text, transcription and interruption frames from the client too,
    which would let a page inject "what the candidate said". Malformed input is dropped
    with a warning instead of raising into the transport.
    """

    def __init__(self, max_message_bytes: int = 256_000, **kwargs):
        super().__init__(**kwargs)
        self._max_bytes = max_message_bytes
        self.rejected = 0

    async def deserialize(self, data: str | bytes) -> Frame | None:
        """Decode one client message, or return None (and count it) if it is not acceptable."""
        if not isinstance(data, (bytes, bytearray)) or len(data) > self._max_bytes:
            return self._reject("not a binary frame or too large")
        try:
            frame = await super().deserialize(bytes(data))
        except Exception as e:  # protobuf DecodeError and friends
            return self._reject(f"undecodable frame ({type(e).__name__})")
        if isinstance(frame, InputAudioRawFrame):
            if not (MIN_AUDIO_RATE <= frame.sample_rate <= MAX_AUDIO_RATE) or frame.num_channels != 1:
                return self._reject(f"unsupported audio {frame.sample_rate} Hz x{frame.num_channels}")
            if len(frame.audio) % 2:
                return self._reject("odd-length 16-bit audio")
            return frame
        if isinstance(frame, InputTransportMessageFrame):
            return frame
        return self._reject(f"client may not send {type(frame).__name__ if frame else 'that'}")

    def _reject(self, why: str) -> None:
        self.rejected += 1
        if self.rejected <= 5 or self.rejected % 100 == 0:
            logger.warning(f"Dropped client message: {why} ({self.rejected} dropped so far)")
        return None
