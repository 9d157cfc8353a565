"""A local stand-in for Cartesia's TTS WebSocket (API version 2026-03-01), on loopback.

Speaks Cartesia's message format so pipecat's real ``CartesiaTTSService`` runs unchanged:
it reads generation requests ``{"transcript", "continue", "context_id", "model_id", "voice",
"output_format", "add_timestamps", ...}`` and cancels ``{"context_id", "cancel": true}``, and
answers per context with ``{"type": "chunk", "data": <base64 PCM>}``, ``{"type":
"timestamps", "word_timestamps": {"words", "start", "end"}}`` and, once a request with
``"continue": false`` has been spoken, ``{"type": "done", "done": true}``. The audio is a
quiet tone whose length follows the words (no speech model needed). Every handshake header
and request is recorded for the test to check.

To fail a sentence, ``fail_on`` names a word: the first ``fail_times`` requests whose transcript
has it get Cartesia's ``{"type": "error", "done": true, ...}`` for their context instead of audio,
and that context is over (its later requests get the same error), as when generation fails.
"""

from __future__ import annotations

import base64
import json
import math
import struct

from websockets.asyncio.server import ServerConnection, serve

SECONDS_PER_WORD = 0.12
CHUNK_SECONDS = 0.1


def tone(seconds: float, rate: int, freq: float = 180.0) -> bytes:
    """16-bit mono PCM: a soft tone, loud enough to count as voiced audio."""
    n = int(seconds * rate)
    return b"".join(
        struct.pack("<h", int(6000 * math.sin(2 * math.pi * freq * i / rate))) for i in range(n)
    )


def _error(ctx: str, status: int, title: str, message: str) -> str:
    """Cartesia's error message for a context (which ends it)."""
    return json.dumps(
        {
            "type": "error",
            "done": True,
            "status_code": status,
            "context_id": ctx,
            "title": title,
            "message": message,
        }
    )


class CartesiaStandIn:
    """Serve Cartesia's TTS WebSocket on 127.0.0.1; record headers, requests and audio sent."""

    def __init__(self, fail_on: str | None = None, fail_times: int = 1):
        self.handshakes: list[dict[str, str]] = []
        self.requests: list[dict] = []
        self.cancelled: list[str] = []
        self.failed: list[str] = []  # contexts ended with an error
        self.fail_on = fail_on
        self.fail_times = fail_times
        self.audio_bytes_sent = 0
        self.url = ""
        self._server = None

    async def start(self) -> CartesiaStandIn:
        self._server = await serve(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/tts/websocket"
        return self

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    @property
    def transcripts(self) -> list[str]:
        """The non-empty texts the service asked to speak, in order."""
        return [r["transcript"] for r in self.requests if r.get("transcript")]

    def _fails(self, ctx: str, text: str) -> bool:
        """Whether this request fails: its context already did, or it is one chosen to fail."""
        if ctx in self.failed:
            return True
        if self.fail_on and self.fail_on in text and self.fail_times > 0:
            self.fail_times -= 1
            self.failed.append(ctx)
            return True
        return False

    async def _handle(self, ws: ServerConnection) -> None:
        headers = ws.request.headers
        self.handshakes.append(
            {
                "path": ws.request.path,
                **{k: headers.get(k, "") for k in ("X-API-Key", "Cartesia-Version")},
            }
        )
        offsets: dict[str, float] = {}  # seconds of audio already sent per context
        async for raw in ws:
            msg = json.loads(raw)
            ctx = msg.get("context_id", "")
            if msg.get("cancel"):
                self.cancelled.append(ctx)
                offsets.pop(ctx, None)
                continue
            self.requests.append(msg)
            if ctx in self.cancelled:
                continue
            text = msg.get("transcript", "")
            rate = int(msg.get("output_format", {}).get("sample_rate") or 24000)
            if "voice" not in msg or msg.get("output_format", {}).get("encoding") != "pcm_s16le":
                await ws.send(
                    _error(ctx, 400, "Invalid request", "voice and pcm_s16le are required")
                )
                continue
            if self._fails(ctx, text):
                await ws.send(_error(ctx, 500, "Generation failed", "injected failure"))
                continue
            words = text.split()
            if words:
                start = offsets.get(ctx, 0.0)
                if msg.get("add_timestamps"):
                    starts = [round(start + i * SECONDS_PER_WORD, 3) for i in range(len(words))]
                    ends = [round(s + SECONDS_PER_WORD * 0.9, 3) for s in starts]
                    await ws.send(
                        json.dumps(
                            {
                                "type": "timestamps",
                                "done": False,
                                "status_code": 206,
                                "context_id": ctx,
                                "word_timestamps": {"words": words, "start": starts, "end": ends},
                            }
                        )
                    )
                pcm = tone(len(words) * SECONDS_PER_WORD, rate)
                step = int(CHUNK_SECONDS * rate) * 2
                for i in range(0, len(pcm), step):
                    part = pcm[i : i + step]
                    self.audio_bytes_sent += len(part)
                    await ws.send(
                        json.dumps(
                            {
                                "type": "chunk",
                                "data": base64.b64encode(part).decode(),
                                "done": False,
                                "status_code": 206,
                                "step_time": 5,
                                "context_id": ctx,
                            }
                        )
                    )
                offsets[ctx] = start + len(words) * SECONDS_PER_WORD
            if not msg.get("continue", False):
                offsets.pop(ctx, None)
                await ws.send(
                    json.dumps(
                        {"type": "done", "done": True, "status_code": 206, "context_id": ctx}
                    )
                )
