"""The session API (pipecat's runner convention) and the WebSocket that holds each interview.

- ``POST /start`` with ``{"transport": "websocket", "body": {mode, name, role, ...}}``
  answers ``{"wsUrl": ..., "token": ...}``; the token is single-use and short-lived.
- ``WS /ws-client?token=...`` runs one interview pipeline for that token.
- ``GET /status`` says whether the models are loaded; ``GET /api/modes`` lists the modes.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, HTTPException, Request, WebSocket
from loguru import logger
from pipecat.workers.runner import WorkerRunner
from starlette.requests import HTTPConnection

from bots import MODES, get_mode
from bots.pipeline import Interview, SessionRecord, build_interview
from interviewer.config import Settings
from interviewer.plan import CandidateContext
from interviewer.report import finalize
from interviewer.store import Store
from transports.websocket import websocket_transport

MAX_START_BYTES = 128 * 1024  # a /start body: mode, name, role, job description, resume

router = APIRouter()


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


LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _is_loopback_name(hostname: str) -> bool:
    hostname = hostname.lower().rstrip(".")
    return (
        hostname in LOOPBACK_HOSTS or hostname.endswith(".localhost") or hostname.startswith("127.")
    )


def origin_allowed(conn: HTTPConnection, settings: Settings) -> bool:
    """Allow configured origins, else same-host pages and non-browser clients (no Origin).

    ``conn`` is the WebSocket or the ``/start`` request. Origins compare without case or a
    trailing slash; ``ALLOWED_ORIGINS=*`` allows any. With no list, the page must come from
    the host the browser addressed; and when the server listens on loopback, that host must
    be a loopback name, so a DNS-rebound name (evil.example -> 127.0.0.1) is refused.
    """
    origin = conn.headers.get("origin")
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    if settings.origins:
        allowed = {o.rstrip("/").lower() for o in settings.origins}
        return "*" in allowed or origin in allowed
    parts = urlsplit(origin)
    if (
        parts.scheme not in ("http", "https")
        or parts.netloc != (conn.headers.get("host") or "").lower()
    ):
        return False
    if _is_loopback_name(settings.host):
        return _is_loopback_name(parts.hostname or "")
    return True


@router.get("/status")
async def status(request: Request):
    """Readiness and load: the page waits for ``ready``."""
    state = request.app.state
    sessions: SessionRegistry = state.sessions
    return {
        "ready": state.models is not None,
        "active_sessions": len(sessions.active),
        "max_sessions": sessions.max_sessions,
        "llm": state.settings.llm_kind,
        "tts": state.settings.tts,
        "stt": state.settings.stt_model,
    }


@router.get("/api/modes")
async def modes():
    """The interview modes the page offers."""
    return [{"id": m.id, "title": m.title, "questions": len(m.questions)} for m in MODES.values()]


@router.post("/start")
async def start(request: Request):
    """Grant a session (pipecat runner convention): ``{"wsUrl", "token"}``, or a Daily room."""
    app, settings = request.app, request.app.state.settings
    # A page from another origin may not start sessions (a no-CORS text/plain POST
    # would otherwise reserve slots), whatever it can or cannot read of the answer.
    if not origin_allowed(request, settings):
        raise HTTPException(403, "This origin may not start interviews here")
    raw = bytearray()
    async for (
        chunk
    ) in request.stream():  # read at most MAX_START_BYTES, whatever Content-Length says
        raw += chunk
        if len(raw) > MAX_START_BYTES:
            raise HTTPException(
                413,
                f"Body over {MAX_START_BYTES} bytes; the resume and job description are cut to {CandidateContext.MAX_FIELD} characters anyway",
            )
    try:
        payload = json.loads(raw)
    except Exception:
        raise HTTPException(
            400, 'Body must be JSON: {"transport": "websocket", "body": {...}}'
        ) from None
    if not isinstance(payload, dict):
        raise HTTPException(400, "Body must be a JSON object")
    body = payload.get("body") or {}
    if not isinstance(body, dict):
        raise HTTPException(400, "'body' must be an object")
    # The local WebSocket is always served; Daily rooms when TRANSPORT=daily (then the default).
    # pipecat's runner convention: {"transport": "daily"} or {"createDailyRoom": true}.
    transport = payload.get("transport") or (
        "daily" if payload.get("createDailyRoom") else settings.transport
    )
    if transport not in ("websocket", "daily"):
        raise HTTPException(400, "transport must be 'websocket' or 'daily'")
    if transport == "daily" and settings.transport != "daily":
        raise HTTPException(
            400, "Daily rooms are not configured here (set TRANSPORT=daily and DAILY_API_KEY)"
        )
    mode_id = body.get("mode", "technical")
    if not isinstance(mode_id, str) or mode_id not in MODES:
        raise HTTPException(400, f"Unknown mode; choose one of {', '.join(sorted(MODES))}")
    if app.state.models is None:
        raise HTTPException(503, "Models are still loading; try again in a few seconds.")
    token = app.state.sessions.grant(mode_id, CandidateContext.from_dict(body))
    if transport == "daily":
        from transports.daily import DailyRoomError, DailySessions, daily_transport, open_room

        sessions: SessionRegistry = app.state.sessions
        pending = sessions.claim(token)
        try:
            room = await open_room(settings, pending.candidate.name)
        except DailyRoomError as e:
            sessions.release(token)
            logger.error(f"Daily room not created: {e}")
            raise HTTPException(
                502, "Could not create the Daily room; see the server log."
            ) from None
        room_transport = daily_transport(room, settings)
        interview, interview_id = await open_interview(app, pending, room_transport)
        if getattr(app.state, "daily_sessions", None) is None:
            app.state.daily_sessions = DailySessions()
        app.state.daily_sessions.start(
            room_transport,
            interview.worker,
            run_interview(app, token, pending, interview, interview_id),
        )
        return room.start_response()
    scheme = "wss" if request.url.scheme == "https" else "ws"
    ws_url = f"{scheme}://{request.url.netloc}/ws-client"
    return {"wsUrl": ws_url, "token": token}


async def open_interview(app: FastAPI, pending: PendingSession, transport) -> tuple[Interview, str]:
    """Create the interview's database row and build its pipeline on ``transport``."""
    store: Store = app.state.store
    settings: Settings = app.state.settings
    mode = get_mode(pending.mode_id)
    interview_id, report_token = await asyncio.to_thread(
        store.create_interview, mode.id, pending.candidate.as_dict(), settings.llm_kind
    )
    record = SessionRecord(store, interview_id, f"/report/{report_token}")
    return build_interview(
        mode, transport, app.state.models, settings, pending.candidate, record
    ), interview_id


async def run_interview(
    app: FastAPI,
    token: str,
    pending: PendingSession,
    interview: Interview | None,
    interview_id: str | None,
):
    """Run an opened interview to its end; free its slot; write its status and report."""
    try:
        if interview is not None:
            runner = WorkerRunner(handle_sigint=False)
            await runner.add_workers(interview.worker)
            await runner.run()
    except Exception:
        logger.exception("Session failed")
    finally:
        app.state.sessions.release(token)
        if interview_id is not None:
            if interview and interview.recorder:
                await interview.recorder.flush()
            status = "ended" if interview and interview.cursor.phase == "closed" else "dropped"
            try:
                await finalize(
                    app.state.store,
                    interview_id,
                    get_mode(pending.mode_id),
                    status,
                    app.state.settings,
                    local_llm=app.state.models.llm,
                )
            except Exception:
                logger.exception(f"Could not write the report of interview {interview_id}")


@router.websocket("/ws-client")
async def ws_client(websocket: WebSocket):
    """One interview pipeline for a token granted by /start."""
    app, settings = websocket.app, websocket.app.state.settings
    sessions: SessionRegistry = app.state.sessions
    if not origin_allowed(websocket, settings):
        await websocket.close(code=1008, reason="origin not allowed")
        return
    token = websocket.query_params.get("token")
    pending = sessions.claim(token)
    if pending is None:
        await websocket.close(code=1008, reason="unknown or expired session token")
        return
    interview, interview_id = None, None
    try:
        await websocket.accept()
        transport = websocket_transport(websocket, settings)
        interview, interview_id = await open_interview(app, pending, transport)
        worker = interview.worker

        @transport.event_handler("on_client_disconnected")
        async def on_client_disconnected(_transport, _ws):
            logger.info("Client disconnected; ending its session")
            await worker.cancel(reason="client disconnected")

    except Exception:
        logger.exception("Session could not start")
    await run_interview(app, token, pending, interview, interview_id)
