"""A local stand-in for an OpenAI-compatible chat completions endpoint (SSE streaming).

Speaks the real wire format so the real ``openai`` client inside pipecat's
OpenAILLMService runs unchanged. Modes: "ok" streams a reply, "error" answers HTTP 500,
"midstream" breaks the stream after a few chunks, "stall" never answers (and records, in
``stalled_for``, how long each stalled request was seen before its client hung up, and in
``stall_left_at``, when the client hung up, on ``time.monotonic``'s clock). ``first_token_s``
delays each streamed reply's first token, as a cloud model's time to first token does, and
``answer_s`` each whole (not streamed) answer, as a model reading a long prompt does; a client
that hangs up during either delay is recorded (``gave_up``: the request's index). ``token_s``
is the pause after each streamed word, as a model's time per token.
"""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web

from tests.standins.loopback import LoopbackHTTPServer


def llm_at(settings, base_url: str):
    """``settings`` with the interviewer's LLM at the OpenAI-compatible endpoint ``base_url``."""
    return settings.model_copy(
        update={
            "llm": "auto",
            "openai_api_key": "sk-test",
            "openai_base_url": base_url,
            "openai_model": "standin-1",
        }
    )


class OpenAIStandIn(LoopbackHTTPServer):
    """Serve /v1/chat/completions on loopback; record every request."""

    def __init__(
        self,
        reply_for=None,
        mode: str = "ok",
        first_token_s: float = 0.0,
        answer_s: float = 0.0,
        token_s: float = 0.01,
    ):
        self.requests: list[dict] = []  # body, auth, and when it came (time.monotonic)
        self.gave_up: list[int] = []  # requests whose client left before the first token
        self.first_token_s = first_token_s
        self.answer_s = answer_s
        self.token_s = token_s
        self.stalled_for: list[float] = []  # seconds until each stalled request's client left
        self.stall_left_at: list[float] = []  # time.monotonic() when each stalled client left
        self.mode = mode
        self._reply_for = reply_for or (
            lambda messages: "Thanks for sharing. What was the hardest part?"
        )

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._completions)

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        index = len(self.requests)  # this request's, before any await lets another in
        self.requests.append(
            {
                "body": body,
                "auth": request.headers.get("Authorization", ""),
                "at": time.monotonic(),
                # The client's address and port: one per connection.
                "peer": request.transport.get_extra_info("peername") if request.transport else None,
            }
        )
        if self.mode == "error":
            return web.json_response(
                {"error": {"message": "boom", "type": "server_error"}}, status=500
            )
        if self.mode == "stall":
            await self._stall(request)
            return web.Response(status=504)  # nobody is left to read it
        text = self._reply_for(body.get("messages", []))
        if not body.get("stream"):
            if self.answer_s > 0 and await self._client_left_within(request, self.answer_s):
                self.gave_up.append(index)
                return web.Response(status=499)  # nobody is left to read it
            return web.json_response(
                {
                    "id": "chatcmpl-standin",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "standin"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
            )
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        if self.first_token_s > 0 and await self._client_left_within(request, self.first_token_s):
            self.gave_up.append(index)
            return resp
        try:
            await self._stream(resp, body, text)
        except ConnectionResetError:  # the client left mid-reply (an interruption): nobody reads
            pass
        return resp

    async def _stream(self, resp: web.StreamResponse, body: dict, text: str) -> None:
        """Stream ``text`` word by word as chat completion chunks, then ``[DONE]``."""
        words = text.split(" ")
        for i, word in enumerate(words):
            if self.mode == "midstream" and i == 3:
                resp.force_close()
                return
            chunk = {
                "id": "chatcmpl-standin",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body.get("model", "standin"),
                "choices": [
                    {
                        "index": 0,
                        "delta": {"content": word + (" " if i < len(words) - 1 else "")},
                        "finish_reason": None,
                    }
                ],
            }
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
            await asyncio.sleep(self.token_s)
        done = {
            "id": "chatcmpl-standin",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "standin"),
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        }
        await resp.write(f"data: {json.dumps(done)}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()

    async def _client_left_within(self, request: web.Request, secs: float) -> bool:
        """Wait ``secs``; whether the client hung up meanwhile."""
        end = time.monotonic() + secs
        while time.monotonic() < end:
            transport = request.transport
            if transport is None or transport.is_closing():
                return True
            await asyncio.sleep(0.01)
        return False

    async def _stall(self, request: web.Request, limit_s: float = 3600.0) -> None:
        """Never answer; note how long the client waited before it closed the connection."""
        start = time.monotonic()
        try:
            await self._client_left_within(request, limit_s)
        finally:  # the client left (or aiohttp cancelled this handler when it did)
            left = time.monotonic()
            self.stalled_for.append(left - start)
            self.stall_left_at.append(left)
