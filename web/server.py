"""The FastAPI app: start-up (models and the local LLM, once per process), the routers, the page.

Sessions and the WebSocket: :mod:`web.sessions`. Reports: :mod:`web.reports`. The built
browser client is served from ``web/client/dist``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import re
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from loguru import logger

from interviewer.config import Settings, load_settings
from interviewer.models import ModelBank
from interviewer.native_memory import limit_malloc_arenas
from interviewer.rate import TokenBucket
from interviewer.recordings import RecordingStore, keep_for
from interviewer.store import Store
from transports.websocket import ResettingWebSocketProtocol
from web.reports import router as reports_router
from web.review import router as review_router
from web.sessions import SessionRegistry, drain
from web.sessions import router as sessions_router

CLIENT_DIST = Path(__file__).parent / "client" / "dist"


def create_app(settings: Settings | None = None, models: ModelBank | None = None) -> FastAPI:
    """Build the app; models load in the background at start-up unless given."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Everything heavy starts once per process, before the first session: the models, and
        # with LLM_GGUF the local llama.cpp server (loopback), which sessions reach as OPENAI_BASE_URL.
        given = app.state.models  # models passed in are their owner's to close

        async def load_models():
            return given or await asyncio.to_thread(ModelBank.load, settings)

        async def start_local_llm():
            if settings.llm_kind != "local" and not settings.llm_gguf:
                return None
            from interviewer.local_llm import LocalLLMServer

            return await asyncio.to_thread(LocalLLMServer.start, settings)

        models_loaded, local_llm = await asyncio.gather(load_models(), start_local_llm())
        if local_llm is not None and settings.llm_kind == "local":
            models_loaded = dataclasses.replace(models_loaded, llm=local_llm)
        elif local_llm is not None:
            local_llm.apply_to(settings)
        app.state.local_llm = local_llm
        app.state.models = models_loaded  # ready (see /status) only once the LLM is up too
        # Recordings past RECORDING_RETENTION_DAYS go now and then hourly (the table is made here).
        recordings = RecordingStore(app.state.store, settings.recordings_dir)
        days = settings.recording_retention_days
        retention = asyncio.create_task(keep_for(recordings, days)) if days else None
        logger.info(f"Interviewer ready on http://{settings.host}:{settings.port}")
        try:
            yield
        finally:
            if retention is not None:
                retention.cancel()
            if getattr(app.state, "daily_sessions", None) is not None:
                await app.state.daily_sessions.stop_all()
            if local_llm is not None:
                await asyncio.to_thread(local_llm.stop)
            if given is None:
                await asyncio.to_thread(models_loaded.close)

    app = FastAPI(title="Interviewer", lifespan=lifespan)
    app.state.settings = settings
    app.state.models = models
    app.state.sessions = SessionRegistry(
        settings.session_token_ttl_s, settings.max_sessions, settings.max_pending_starts
    )
    app.state.start_limit = TokenBucket(settings.start_rate_per_s, settings.start_burst)
    app.state.live = {}  # token -> running Interview
    app.state.draining = asyncio.Event()  # set when shutdown begins: scoring in flight gives way
    app.state.none_live = asyncio.Event()  # set whenever the last live interview ends
    app.state.store = Store(settings.database_url)
    app.include_router(sessions_router)
    app.include_router(reports_router)
    app.include_router(review_router)

    if CLIENT_DIST.is_dir():
        app.mount("/", StaticFiles(directory=CLIENT_DIST, html=True), name="client")
    else:

        @app.get("/")
        async def index():
            return HTMLResponse(
                "<p>The browser client is not built: run <code>make run</code>.</p>"
            )

    return app


class GracefulServer:
    """uvicorn, with a first SIGTERM or Ctrl+C that lets live interviews end well.

    The first signal starts :func:`web.sessions.drain` (goodbyes; transcripts and reports
    written); uvicorn's own shutdown follows when the sessions have ended or
    ``SHUTDOWN_GRACE_SECS`` have passed. A second signal shuts down at once.
    """

    def __init__(self, app: FastAPI, config: uvicorn.Config):
        self.app = app
        self.server = uvicorn.Server(config)
        self._handle_exit = self.server.handle_exit
        self.server.handle_exit = self.handle_exit  # type: ignore[method-assign]
        self._drain: asyncio.Task | None = None

    def handle_exit(self, sig: int, frame) -> None:
        """Called by uvicorn's signal handler, in the event loop's thread."""
        if self._drain is not None or not getattr(self.app.state, "live", None):
            self._handle_exit(sig, frame)
            return
        loop = asyncio.get_event_loop()
        settings: Settings = self.app.state.settings

        async def drain_then_exit() -> None:
            try:
                await drain(self.app, settings.shutdown_grace_secs)
            finally:
                self._handle_exit(sig, frame)

        def start() -> None:
            self._drain = loop.create_task(drain_then_exit())

        self._drain = asyncio.Future(loop=loop)  # a second signal exits at once
        loop.call_soon_threadsafe(start)  # wakes the loop, which may be waiting on sockets

    def run(self) -> None:
        """Serve until shut down."""
        self.server.run()


def serve(settings: Settings | None = None) -> None:
    """Run the server with uvicorn (models load before the first session)."""
    settings = settings or load_settings()
    limit_malloc_arenas(settings.malloc_arenas)  # before the models' threads start
    app = create_app(settings)
    GracefulServer(app, uvicorn_config(app, settings, log_level="info")).run()


def uvicorn_config(app: FastAPI, settings: Settings, **overrides) -> uvicorn.Config:
    """How uvicorn serves the app: frame size, and pings that find a client that stopped reading.

    A ping every half ``CLIENT_WRITE_TIMEOUT_SECS``, answered within the other half, or the
    connection closes (and with it the session): a client that reads nothing is gone within
    that time even when its socket's buffers still take the interviewer's audio.
    """
    half = settings.client_write_timeout_secs / 2
    options = {
        "host": settings.host,
        "port": settings.port,
        "access_log": False,  # WebSocket URLs carry session tokens
        "ws_max_size": settings.ws_max_size,
        "ws_ping_interval": half,
        "ws_ping_timeout": half,
        "ws": ResettingWebSocketProtocol,  # a client that reads nothing is reset, not kept
        # Audio does not compress: deflating every 20 ms frame cost 4% of the loop under load.
        "ws_per_message_deflate": False,
        "timeout_graceful_shutdown": 2,  # after our own drain (SHUTDOWN_GRACE_SECS)
    }
    config = uvicorn.Config(app, **{**options, **overrides})  # configures uvicorn's loggers
    redactor = SessionTokenRedactor()
    for name in ("uvicorn.error", "uvicorn.access"):
        log = logging.getLogger(name)
        if not any(isinstance(f, SessionTokenRedactor) for f in log.filters):
            log.addFilter(redactor)
    return config


class SessionTokenRedactor(logging.Filter):
    """Hides session tokens in uvicorn's log lines (its WebSocket handshake lines show the URL).

    A token is a credential until it is used: ``/ws-client?token=abc`` is logged as
    ``/ws-client?token=…``. The record is kept, only the token is replaced.
    """

    _TOKEN = re.compile(r"(token=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace every ``token=...`` in the record's message and arguments."""
        if isinstance(record.msg, str):
            record.msg = self._TOKEN.sub(r"\1…", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._TOKEN.sub(r"\1…", a) if isinstance(a, str) else a for a in record.args
            )
        return True


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
