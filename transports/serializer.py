"""The WebSocket wire format: pipecat's protobuf frames, trusting the client only with what a client may send."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable

from loguru import logger
from pipecat.audio.resamplers.soxr_stream_resampler import SOXRStreamAudioResampler
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    InputTransportMessageFrame,
    InterruptionFrame,
)
from pipecat.frames.protobufs import frames_pb2
from pipecat.serializers.protobuf import ProtobufFrameSerializer

from interviewer.rate import TokenBucket

MAX_AUDIO_RATE = 48_000
MIN_AUDIO_RATE = 8_000
RTVI_LABEL = "rtvi-ai"
# The RTVI messages a candidate's page may send. Others (send-text, raw-audio, send-file,
# llm-function-call-result, dtmf, ui-*...) would let a page speak for the candidate or
# bypass the audio checks below, so they get an error-response instead.
CLIENT_RTVI_TYPES = frozenset({"client-ready", "disconnect-bot", "client-message"})

# Flood limits: messages per second (a microphone sends ~50) and seconds of audio per
# second of wall clock, each with a burst allowance for a server that fell behind.
MSG_RATE, MSG_BURST = 200.0, 400.0
AUDIO_RATE, AUDIO_BURST_S = 2.0, 5.0
REPORT_EVERY_S = 2.0
ANSWER_FIRST = 50

Notify = Callable[[dict], Awaitable[None]]


class ClientFrameSerializer(ProtobufFrameSerializer):
    """Protobuf serializer that accepts audio and RTVI client messages from the client, nothing else.

    Stock pipecat decodes text, transcription and interruption frames from the client too,
    which would let a page inject "what the candidate said". Every client message is
    checked here, never raises into the transport, and a rejected one is dropped and
    counted; ``notify`` (set by the transport) sends the client an RTVI ``error`` (or an
    ``error-response`` to a message with an id), rate-limited like the log.

    Audio must be mono 16-bit PCM at 8-48 kHz; other rates than the pipeline's are
    resampled to it (the VAD and Whisper assume the pipeline's rate).
    """

    def __init__(self, max_message_bytes: int = 256_000, audio_in_rate: int = 16_000, **kwargs):
        super().__init__(**kwargs)
        self._max_bytes = max_message_bytes
        self._out_rate = audio_in_rate
        self._resampler: SOXRStreamAudioResampler | None = None
        self._resampler_rate = 0
        self._messages = TokenBucket(MSG_RATE, MSG_BURST)
        self._audio = TokenBucket(AUDIO_RATE, AUDIO_BURST_S)
        self.notify: Notify | None = None
        self.rejected = 0
        self.resampled = 0
        self._last_report = 0.0

    async def serialize(self, frame: Frame) -> str | bytes | None:
        """Encode a frame for the page: bot audio and messages, what pipecat's JS client reads.

        Stock pipecat also writes an ``interruption`` frame at every barge-in; the JS client's
        websocket transport cannot decode it and logs "Unknown frame kind" each time. The page
        learns of an interruption from RTVI's ``bot-interrupted`` message instead.
        """
        if isinstance(frame, InterruptionFrame):
            return None
        return await super().serialize(frame)

    async def deserialize(self, data: str | bytes) -> Frame | None:
        """Decode one client message, or return None (and count it) if it is not acceptable."""
        try:
            return await self._deserialize(data)
        except Exception as e:  # never let a client message raise into the transport
            return await self._reject(f"unreadable message ({type(e).__name__})")

    async def _deserialize(self, data: str | bytes) -> Frame | None:
        if not self._messages.take(1):
            return await self._reject("too many messages; slow down")
        if not isinstance(data, (bytes, bytearray)):
            return await self._reject(
                "text WebSocket message; this server speaks binary protobuf frames"
            )
        if len(data) > self._max_bytes:
            return await self._reject(
                f"message of {len(data)} bytes is over the {self._max_bytes} byte limit"
            )
        try:
            proto = frames_pb2.Frame.FromString(bytes(data))
        except Exception as e:  # protobuf DecodeError and friends
            return await self._reject(f"undecodable frame ({type(e).__name__})")
        kind = proto.WhichOneof("frame")
        if kind == "audio":
            return await self._audio_frame(proto.audio)
        if kind == "message":
            return await self._message_frame(proto.message.data)
        return await self._reject(f"a client may not send {kind or 'an empty'} frames")

    async def _audio_frame(self, audio) -> Frame | None:
        rate, channels, pcm = audio.sample_rate, audio.num_channels, bytes(audio.audio)
        if not (MIN_AUDIO_RATE <= rate <= MAX_AUDIO_RATE) or channels != 1:
            return await self._reject(
                f"unsupported audio {rate} Hz x{channels}; send 16-bit mono PCM at {MIN_AUDIO_RATE}-{MAX_AUDIO_RATE} Hz"
            )
        if len(pcm) % 2:
            return await self._reject("odd-length 16-bit audio")
        if not self._audio.take(len(pcm) / 2 / rate):
            return await self._reject("audio faster than real time; slow down")
        if rate != self._out_rate:
            if self._resampler is None or rate != self._resampler_rate:
                self._resampler = SOXRStreamAudioResampler(quality="HQ")
                self._resampler_rate = rate
            pcm = await self._resampler.resample(pcm, rate, self._out_rate)
            self.resampled += 1
        return InputAudioRawFrame(audio=pcm, sample_rate=self._out_rate, num_channels=1)

    async def _message_frame(self, text: str) -> Frame | None:
        try:
            message = json.loads(text)
        except ValueError:
            return await self._reject("message is not JSON")
        if not isinstance(message, dict) or message.get("label") != RTVI_LABEL:
            return await self._reject(
                "message is not an RTVI message (a JSON object labelled rtvi-ai)"
            )
        kind = message.get("type")
        if kind not in CLIENT_RTVI_TYPES:
            msg_id = message.get("id") if isinstance(message.get("id"), str) else None
            shown = kind[:40] if isinstance(kind, str) else repr(kind)[:40]
            return await self._reject(
                f"Unsupported type {shown}: a client may send {', '.join(sorted(CLIENT_RTVI_TYPES))}",
                msg_id,
            )
        return InputTransportMessageFrame(message=message)

    async def _reject(self, why: str, msg_id: str | None = None) -> None:
        self.rejected += 1
        now = time.monotonic()
        # Log the first few, answer the first ANSWER_FIRST; then one of each per
        # REPORT_EVERY_S, so a flood costs neither the log nor the socket much.
        due = now - self._last_report >= REPORT_EVERY_S
        if due:
            self._last_report = now
        if self.rejected <= 5 or due:
            logger.warning(f"Dropped client message: {why} ({self.rejected} dropped so far)")
        if self.notify is not None and (self.rejected <= ANSWER_FIRST or due):
            if msg_id is not None:
                reply = {
                    "label": RTVI_LABEL,
                    "type": "error-response",
                    "id": msg_id[:64],
                    "data": {"error": why},
                }
            else:
                reply = {
                    "label": RTVI_LABEL,
                    "type": "error",
                    "data": {"error": f"Dropped message: {why}", "fatal": False},
                }
            try:
                await self.notify(reply)
            except Exception as e:
                logger.debug(f"Could not tell the client about a dropped message: {e}")
        return None
