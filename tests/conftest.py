"""Shared fixtures: the real models (loaded once) and the real server on loopback."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

# Fast tests, and every server they start (in-process or a subprocess), keep the scripted brain;
# the tests of the local model (tests/test_local_brain.py, marked slow) ask for LLM=local.
os.environ.setdefault("LLM", "scripted")

from interviewer.config import load_settings
from interviewer.models import ModelBank


@pytest.fixture(scope="session")
def settings(tmp_path_factory):
    """Offline settings (scripted brain, Moonshine, Piper), with a throwaway database."""
    db = tmp_path_factory.mktemp("db") / "interviews.db"
    return load_settings(DATABASE_URL=f"sqlite:///{db}")


@pytest.fixture(scope="module")
def piper_voice(settings):
    """The bundled Piper voice, alone (without the rest of the models)."""
    from interviewer.models import load_piper_voice, piper_voice_path

    return load_piper_voice(piper_voice_path(settings))


@pytest.fixture(scope="session")
def models(settings):
    """The real models (the end-of-turn model's server too), loaded once for the whole test session."""
    bank = ModelBank.load(settings)
    yield bank
    bank.close()


class ThreadedServer:
    """The real FastAPI server in a thread with its own event loop."""

    def __init__(self, settings, models):
        from web.cli import LocalServer

        self._local = LocalServer(settings, models=models)
        self.url = self._local.url
        self.app = self._local.app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self):
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._local.__aenter__(), self._loop).result(30)
        return self

    def stop(self):
        asyncio.run_coroutine_threadsafe(
            self._local.__aexit__(None, None, None), self._loop
        ).result(30)
        # Its default executor's threads (pipecat's Moonshine service decodes there) end with it.
        asyncio.run_coroutine_threadsafe(self._loop.shutdown_default_executor(), self._loop).result(
            30
        )
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()


@pytest.fixture(scope="session")
def server(settings, models):
    """The real server, serving every mode with the shared models."""
    srv = ThreadedServer(settings, models).start()
    yield srv
    srv.stop()
