"""The FastAPI app: start-up (models and the local LLM, once per process), the routers, the page.

Sessions and the WebSocket: :mod:`web.sessions`. Reports: :mod:`web.reports`. The built
browser client is served from ``web/client/dist``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from loguru import logger

from interviewer.config import Settings, load_settings
from interviewer.models import ModelBank
from interviewer.store import Store
from web.reports import router as reports_router
from web.sessions import SessionRegistry
from web.sessions import router as sessions_router

CLIENT_DIST = Path(__file__).parent / "client" / "dist"


def create_app(settings: Settings | None = None, models: ModelBank | None = None) -> FastAPI:
    """Build the app; models load in the background at start-up unless given."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Everything heavy starts once per process, before the first session: the models, and
        # with LLM_GGUF the local llama.cpp server (loopback), which sessions reach as OPENAI_BASE_URL.
        async def load_models():
            return app.state.models or await asyncio.to_thread(ModelBank.load, settings)

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
        logger.info(f"Interviewer ready on http://{settings.host}:{settings.port}")
        try:
            yield
        finally:
            if getattr(app.state, "daily_sessions", None) is not None:
                await app.state.daily_sessions.stop_all()
            if local_llm is not None:
                await asyncio.to_thread(local_llm.stop)

    app = FastAPI(title="Interviewer", lifespan=lifespan)
    app.state.settings = settings
    app.state.models = models
    app.state.sessions = SessionRegistry(settings.session_token_ttl_s, settings.max_sessions)
    app.state.store = Store(settings.database_url)
    app.include_router(sessions_router)
    app.include_router(reports_router)

    if CLIENT_DIST.is_dir():
        app.mount("/", StaticFiles(directory=CLIENT_DIST, html=True), name="client")
    else:

        @app.get("/")
        async def index():
            return HTMLResponse(
                "<p>The browser client is not built: run <code>make run</code>.</p>"
            )

    return app


def serve(settings: Settings | None = None) -> None:
    """Run the server with uvicorn (models load before the first session)."""
    import uvicorn

    settings = settings or load_settings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,  # WebSocket URLs carry session tokens
        ws_max_size=settings.ws_max_size,
    )


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
