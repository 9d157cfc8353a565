"""The wire between a candidate and the server: pipecat protobuf frames carrying audio and RTVI."""

from __future__ import annotations

import json
import uuid

from pipecat.frames.protobufs import frames_pb2
from pipecat.processors.frameworks.rtvi import models as RTVI

from interviewer.audio import SAMPLE_RATE


def audio_msg(pcm: bytes) -> bytes:
    """A chunk of the microphone's PCM16 mono audio as a pipecat protobuf frame."""
    frame = frames_pb2.Frame()
    frame.audio.audio = pcm
    frame.audio.sample_rate = SAMPLE_RATE
    frame.audio.num_channels = 1
    return frame.SerializeToString()


def rtvi_msg(kind: str, data: dict | None = None) -> bytes:
    """An RTVI client message (pipecat's own model) in a protobuf frame."""
    frame = frames_pb2.Frame()
    msg = RTVI.Message(id=uuid.uuid4().hex[:8], type=kind, data=data)
    frame.message.data = msg.model_dump_json(exclude_none=True)
    return frame.SerializeToString()


def client_ready(library: str) -> bytes:
    """The RTVI client-ready message, at the protocol version of the installed pipecat."""
    data = RTVI.ClientReadyData(
        version=RTVI.PROTOCOL_VERSION, about=RTVI.AboutClientData(library=library)
    )
    return rtvi_msg("client-ready", data.model_dump(exclude_none=True))


def decode(raw: bytes) -> frames_pb2.Frame:
    """A frame from the server."""
    return frames_pb2.Frame.FromString(raw)


def message_of(frame: frames_pb2.Frame) -> dict:
    """The RTVI message a frame carries."""
    return json.loads(frame.message.data)
