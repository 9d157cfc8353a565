"""The session API (pipecat's runner convention) and the WebSocket that holds each interview.

- ``POST /start`` with ``{"transport": "websocket", "body": {mode, name, role, ...}}``
  answers ``{"wsUrl": ..., "token": ...}``; the token is single-use and short-lived.
- ``WS /ws-client?token=...`` runs one interview pipeline for that token.
- ``GET /status`` says whether the models are loaded; ``GET /api/modes`` lists the modes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, HTTPException, Request, WebSocket
from loguru import logger
from pipecat.frames.frames import OutputTransportMessageUrgentFrame
from pipecat.workers.runner import WorkerRunner
from starlette.requests import HTTPConnection

from bots import MODES, get_mode
from bots.pipeline import Interview, SessionRecord, build_interview
from interviewer.config import Settings
from interviewer.plan import CandidateContext
from interviewer.rate import TokenBucket
from interviewer.report import finalize
from interviewer.store import Store
from transports.serializer import RTVI_LABEL, ClientFrameSerializer
from transports.websocket import bound_writes, websocket_transport

MAX_START_BYTES = 128 * 1024
AT_CAPACITY = "The interviewer is at capacity; try again in a minute."  # a /start body: mode, name, role, job description, resume

router = APIRouter()


@dataclass
class PendingSession:
    """A session granted by /start and not yet connected."""

    mode_id: str
    candidate: CandidateContext
    expires: float


class AtCapacity(Exception):
    """Every interview slot is running."""


@dataclass
class SessionRegistry:
    """Per-app session bookkeeping (no module-level state).

    Capacity counts what costs: running interviews. A token granted by /start is cheap and
    holds no slot; at most ``max_pending`` wait to be used (the oldest is dropped first), so
    tokens requested and never used cannot lock anyone out. The cap is checked again when
    the WebSocket connects.
    """

    ttl_s: float
    max_sessions: int
    max_pending: int = 50
    pending: dict[str, PendingSession] = field(default_factory=dict)  # oldest first
    active: set[str] = field(default_factory=set)  # running interviews
    evicted: int = 0

    def grant(self, mode_id: str, candidate: CandidateContext) -> str:
        """A random single-use token for a new session; :class:`AtCapacity` when all slots run."""
        self._expire()
        if self.free <= 0:
            raise AtCapacity
        while len(self.pending) >= self.max_pending:
            del self.pending[next(iter(self.pending))]
            self.evicted += 1
        token = secrets.token_urlsafe(24)
        self.pending[token] = PendingSession(mode_id, candidate, time.monotonic() + self.ttl_s)
        return token

    def claim(self, token: str | None) -> PendingSession | None:
        """Use a token once and take a slot; None when unknown, used or expired.

        Raises :class:`AtCapacity` (the token is used up) when every slot is running.
        """
        self._expire()
        session = self.pending.pop(token or "", None)
        if session is None:
            return None
        if self.free <= 0:
            raise AtCapacity
        self.active.add(token)
        return session

    def release(self, token: str) -> None:
        """Free the slot of a finished session (again is harmless)."""
        self.active.discard(token)

    @property
    def free(self) -> int:
        """Slots not running an interview."""
        return max(0, self.max_sessions - len(self.active))

    def counts(self) -> dict[str, int]:
        """Running, pending and free, for /status."""
        self._expire()
        return {"running": len(self.active), "pending": len(self.pending), "free": self.free}

    def _expire(self) -> None:
        now = time.monotonic()
        for token in [t for t, s in self.pending.items() if s.expires < now]:
            del self.pending[token]


def _at_capacity() -> HTTPException:
    return HTTPException(
        503,
        AT_CAPACITY,
        headers={"Retry-After": "30"},
    )


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
    counts = sessions.counts()
    return {
        "ready": state.models is not None,
        **counts,
        "active_sessions": counts["running"],
        "max_sessions": sessions.max_sessions,
        "llm": state.settings.llm_kind,
        "transport": state.settings.transport,  # the default connection for the page
        "transports": ["websocket", "daily"]
        if state.settings.transport == "daily"
        else ["websocket"],
        "tts": state.settings.tts,
        "stt": state.settings.stt_model,
        "recording": state.settings.recording == "on",  # the page asks for consent only then
        **_model_lines(state),
    }


def _model_lines(state) -> dict:
    """With LLM=local: how many lines ended sessions asked the model for, and how many it wrote.

    The rest were scripted (late, failed or breaking a rule): the share written is what tells an
    operator the model keeps up with the sessions the machine holds. ``early``: lines started in
    a pause before the turn ended, ``early_used``: those the turn's end took (the rest are the
    CPU spent on pauses the candidate went on after). ``late``: lines not ready in time (the
    share that tells whether the CPU keeps up; the rest of the scripted ones broke a rule or
    failed); ``after_deadline``: written lines that ended in the moment after the deadline.
    """
    llm = getattr(state.models, "llm", None)
    if state.settings.llm_kind != "local" or llm is None:
        return {}
    return {
        "model_lines": {
            "asked": llm.lines_asked,
            "written": llm.lines_written,
            "early": llm.lines_early,
            "early_used": llm.lines_early_used,
            "late": llm.lines_late,
            "after_deadline": llm.lines_after_deadline,
        }
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
    limit: TokenBucket = app.state.start_limit
    if not limit.take():
        wait = max(1, math.ceil(limit.wait_s()))
        raise HTTPException(
            429,
            "Too many interviews started at once; try again shortly.",
            {"Retry-After": str(wait)},
        )
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
    if app.state.draining.is_set():
        raise HTTPException(503, "The server is shutting down; try again in a minute.")
    sessions: SessionRegistry = app.state.sessions
    try:
        token = sessions.grant(mode_id, CandidateContext.from_dict(body))
        # A Daily room starts its interview now; a WebSocket session when it connects.
        pending = sessions.claim(token) if transport == "daily" else None
    except AtCapacity:
        raise _at_capacity() from None
    if transport == "daily":
        from transports.daily import DailyRoomError, DailySessions, daily_transport, open_room

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
    return {"wsUrl": ws_url_for(request, settings), "token": token}


def ws_url_for(request: Request, settings: Settings) -> str:
    """The WebSocket of this process: a token is good only on the process that granted it.

    With several processes behind one proxy, ``PUBLIC_URL`` names this one (or the proxy keeps
    each page on one process: a sticky route); otherwise the host the request came to.
    """
    if settings.public_url:
        base = urlsplit(settings.public_url)
        scheme = "wss" if base.scheme == "https" else "ws"
        return f"{scheme}://{base.netloc}{base.path.rstrip('/')}/ws-client"
    scheme = "wss" if request.url.scheme == "https" else "ws"
    return f"{scheme}://{request.url.netloc}/ws-client"


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
    live: dict[str, Interview] = app.state.live
    try:
        if interview is not None:
            live[token] = interview
            runner = WorkerRunner(handle_sigint=False)
            await runner.add_workers(interview.worker)
            await runner.run()
    except Exception:
        logger.exception("Session failed")
    finally:
        app.state.sessions.release(token)
        if interview_id is not None:
            if interview and interview.recorder:
                # Turns still being decoded again get a moment (less when shutting down).
                await interview.recorder.flush(0.5 if app.state.draining.is_set() else 3.0)
            if interview and interview.cursor.phase == "closed":
                status = "ended"
            else:
                status = "stopped" if app.state.draining.is_set() else "dropped"
            try:
                await finalize(
                    app.state.store,
                    interview_id,
                    get_mode(pending.mode_id),
                    status,
                    app.state.settings,
                    local_llm=app.state.models.llm,
                    # Shutting down: the transcript's report, now (also if it began while scored).
                    score=not app.state.draining.is_set(),
                    stop=app.state.draining,
                )
            except Exception:
                logger.exception(f"Could not write the report of interview {interview_id}")
        live.pop(token, None)
        if not live:
            app.state.none_live.set()


SHUTDOWN_GOODBYE = (
    "Sorry, the server is restarting, so we must stop here. Your answers are saved. Goodbye."
)


SHUTDOWN_END_S = 1.0  # the end of the grace: sessions still talking are ended, reports written


async def drain(app: FastAPI, grace_s: float) -> None:
    """Shut down gently: refuse new sessions, say goodbye in each live one, wait for them.

    Each session ends after its goodbye has been played, and writes its transcript and
    report as any ending session does. The whole drain takes at most ``grace_s``: a goodbye
    not over ``SHUTDOWN_END_S`` before then (stalled, or a voice that hangs) is cut there, its
    session ended and its transcript and report written, so the server's own shutdown (which
    gives what is left 2 s more) finds nothing running and the process exits in time.
    """
    app.state.draining.set()
    live: dict[str, Interview] = app.state.live
    deadline = time.monotonic() + grace_s
    logger.info(f"Shutting down: saying goodbye in {len(live)} interview(s)")
    for interview in list(live.values()):
        try:
            await interview.say_goodbye(SHUTDOWN_GOODBYE)
        except Exception:
            logger.exception("Could not say goodbye")
    goodbyes_s = max(0.0, deadline - SHUTDOWN_END_S - time.monotonic())
    if live and not await _none_live_within(app, goodbyes_s):
        logger.warning(
            f"{len(live)} interview(s) still saying goodbye after {grace_s - SHUTDOWN_END_S:.1f}s;"
            " ending them"
        )
        for interview in list(live.values()):
            with contextlib.suppress(Exception):
                await interview.worker.cancel(reason="the server is shutting down")
        await _none_live_within(app, max(0.0, deadline - time.monotonic()))
    if live:
        logger.warning(f"{len(live)} interview(s) still running after {grace_s:.1f}s")
    else:
        logger.info("Shutting down: every interview has ended, its transcript and report written")


async def _none_live_within(app: FastAPI, timeout_s: float) -> bool:
    """Whether every live interview has ended (its report written) within ``timeout_s``."""
    if app.state.live:
        app.state.none_live.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(app.state.none_live.wait(), timeout_s)
    return not app.state.live


async def refuse_at_capacity(websocket: WebSocket, settings: Settings) -> None:
    """Tell a client that connected with a valid token while every slot runs, then close."""
    logger.warning("Refused a connection: every interview slot is running")
    await websocket.accept()
    message = {
        "label": RTVI_LABEL,
        "type": "error",
        "data": {"error": AT_CAPACITY, "fatal": True},
    }
    serializer = ClientFrameSerializer(max_message_bytes=settings.max_message_bytes)
    data = await serializer.serialize(OutputTransportMessageUrgentFrame(message=message))
    if data:
        await websocket.send_bytes(data)
    await websocket.close(code=1013, reason="at capacity; try again in a minute")


@router.websocket("/ws-client")
async def ws_client(websocket: WebSocket):
    """One interview pipeline for a token granted by /start."""
    app, settings = websocket.app, websocket.app.state.settings
    sessions: SessionRegistry = app.state.sessions
    if not origin_allowed(websocket, settings):
        await websocket.close(code=1008, reason="origin not allowed")
        return
    if app.state.draining.is_set():
        await websocket.close(code=1012, reason="the server is shutting down")
        return
    token = websocket.query_params.get("token")
    try:
        pending = sessions.claim(token)
    except AtCapacity:
        await refuse_at_capacity(websocket, settings)
        return
    if pending is None:
        await websocket.close(code=1008, reason="unknown or expired session token")
        return
    interview, interview_id = None, None
    ending: set[asyncio.Task] = set()
    try:
        await websocket.accept()
        transport = websocket_transport(websocket, settings)
        interview, interview_id = await open_interview(app, pending, transport)
        worker = interview.worker

        @transport.event_handler("on_client_disconnected")
        async def on_client_disconnected(_transport, _ws):
            logger.info("Client disconnected; ending its session")
            sessions.release(token)  # the slot is free now; the pipeline winds down behind it
            await worker.cancel(reason="client disconnected")

        async def on_stuck() -> None:
            sessions.release(token)
            # Called from inside the pipeline's output: cancel it from outside.
            task = asyncio.create_task(worker.cancel(reason="client stopped reading"))
            ending.add(task)
            task.add_done_callback(ending.discard)

        bound_writes(websocket, settings.client_write_timeout_secs, on_stuck)
    except Exception:
        logger.exception("Session could not start")
    await run_interview(app, token, pending, interview, interview_id)
