"""FastAPI app: the session API (pipecat runner convention), the WebSocket, the client page.

- ``POST /start`` with ``{"transport": "websocket", "body": {mode, name, role, ...}}``
  answers ``{"wsUrl": ..., "token": ...}``; the token is single-use and short-lived.
- ``WS /ws-client?token=...`` runs one interview pipeline for that token.
- ``GET /status`` says whether the models are loaded; ``GET /api/modes`` lists the modes.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from loguru import logger
from pipecat.workers.runner import WorkerRunner

from bots import MODES, get_mode
from interviewer.config import Settings, load_settings
from interviewer.models import ModelBank
from interviewer.pipeline import build_interview
from interviewer.plan import CandidateContext
from transports.websocket import websocket_transport

CLIENT_DIST = Path(__file__).parent / "client" / "dist"
FALLBACK_PAGE = Path(__file__).parent / "static" / "index.html"


@dataclass
class PendingSession:
    """A session granted by /start and not yet connected."""

    mode_id: str
    candidate: CandidateContext
    expires: float


@dataclass
class SessionRegistry:
    """Per-app session bookkeeping (no module-level state)."""

    ttl_s: float
    max_sessions: int
    pending: dict[str, PendingSession] = field(default_factory=dict)
    active: set[str] = field(default_factory=set)

    def grant(self, mode_id: str, candidate: CandidateContext) -> str:
        """Reserve a slot and return its random token."""
        self._expire()
        if len(self.active) + len(self.pending) >= self.max_sessions:
            raise HTTPException(503, "The interviewer is at capacity; try again in a minute.")
        token = secrets.token_urlsafe(24)
        self.pending[token] = PendingSession(mode_id, candidate, time.monotonic() + self.ttl_s)
        return token

    def claim(self, token: str | None) -> PendingSession | None:
        """Use a token once; None when unknown, used or expired."""
        self._expire()
        session = self.pending.pop(token or "", None)
        if session:
            self.active.add(token)
        return session

    def release(self, token: str) -> None:
        """Free the slot of a finished session."""
        self.active.discard(token)

    def _expire(self) -> None:
        now = time.monotonic()
        for token in [t for t, s in self.pending.items() if s.expires < now]:
            del self.pending[token]


def _origin_allowed(websocket: WebSocket, settings: Settings) -> bool:
    """Allow configured origins, else same-host pages and non-browser clients (no Origin)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    if settings.origins:
        return origin in settings.origins or "*" in settings.origins
    return urlsplit(origin).netloc == websocket.headers.get("host")


def create_app(settings: Settings | None = None, models: ModelBank | None = None) -> FastAPI:
    """Build the app; models load in the background at start-up unless given."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if app.state.models is None:
            app.state.models = await asyncio.to_thread(ModelBank.load, settings)
        logger.info(f"Interviewer ready on http://{settings.host}:{settings.port}")
        yield

    app = FastAPI(title="Interviewer", lifespan=lifespan)
    app.state.settings = settings
    app.state.models = models
    app.state.sessions = SessionRegistry(settings.session_token_ttl_s, settings.max_sessions)

    @app.get("/status")
    async def status():
        sessions: SessionRegistry = app.state.sessions
        return {
            "ready": app.state.models is not None,
            "active_sessions": len(sessions.active),
            "max_sessions": sessions.max_sessions,
            "llm": settings.llm_kind,
            "tts": settings.tts,
            "stt": settings.stt_model,
        }

    @app.get("/api/modes")
    async def modes():
        return [{"id": m.id, "title": m.title, "questions": len(m.questions)} for m in MODES.values()]

    @app.post("/start")
    async def start(request: Request):
        try:
            payload = await request.json()
        except Exception:
            raise HTTPException(400, "Body must be JSON: {\"transport\": \"websocket\", \"body\": {...}}")
        if not isinstance(payload, dict):
            raise HTTPException(400, "Body must be a JSON object")
        body = payload.get("body") or {}
        if not isinstance(body, dict):
            raise HTTPException(400, "'body' must be an object")
        if payload.get("transport", "websocket") != "websocket":
            raise HTTPException(400, "Only the websocket transport is served here")
        mode_id = body.get("mode", "technical")
        if not isinstance(mode_id, str) or mode_id not in MODES:
            raise HTTPException(400, f"Unknown mode; choose one of {', '.join(sorted(MODES))}")
        if app.state.models is None:
            raise HTTPException(503, "Models are still loading; try again in a few seconds.")
        token = app.state.sessions.grant(mode_id, CandidateContext.from_dict(body))
        scheme = "wss" if request.url.scheme == "https" else "ws"
        ws_url = f"{scheme}://{request.url.netloc}/ws-client"
        return {"wsUrl": ws_url, "token": token}

    @app.websocket("/ws-client")
    async def ws_client(websocket: WebSocket):
        sessions: SessionRegistry = app.state.sessions
        if not _origin_allowed(websocket, settings):
            await websocket.close(code=1008, reason="origin not allowed")
            return
        token = websocket.query_params.get("token")
        pending = sessions.claim(token)
        if pending is None:
            await websocket.close(code=1008, reason="unknown or expired session token")
            return
        try:
            await websocket.accept()
            transport = websocket_transport(websocket, settings)
            worker = build_interview(
                get_mode(pending.mode_id), transport, app.state.models, settings, pending.candidate
            )

            @transport.event_handler("on_client_disconnected")
            async def on_client_disconnected(_transport, _ws):
                logger.info("Client disconnected; ending its session")
                await worker.cancel(reason="client disconnected")

            runner = WorkerRunner(handle_sigint=False)
            await runner.add_workers(worker)
            await runner.run()
        except Exception:
            logger.exception("Session failed")
        finally:
            sessions.release(token)

    if CLIENT_DIST.is_dir():
        app.mount("/", StaticFiles(directory=CLIENT_DIST, html=True), name="client")
    else:

        @app.get("/")
        async def index():
            if FALLBACK_PAGE.exists():
                return FileResponse(FALLBACK_PAGE)
            return HTMLResponse("<p>Client not built: run <code>make run</code>.</p>")

    return app


def serve(settings: Settings | None = None) -> None:
    """Run the server with uvicorn (models load before the first session)."""
    import uvicorn

    settings = settings or load_settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


def main() -> None:
    """``python -m web.server [--host H] [--port P]``."""
    parser = argparse.ArgumentParser(description="Interviewer server")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    overrides = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    serve(load_settings(**overrides))


if __name__ == "__main__":
    main()
