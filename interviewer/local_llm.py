"""A local GGUF model served offline by xllamacpp, once per process.

With ``LLM_GGUF=/path/model.gguf`` the server starts llama.cpp's OpenAI-compatible HTTP server
(xllamacpp's ``Server``, in-process, its own threads) on 127.0.0.1 at start-up, like the other
models (see :class:`interviewer.models.ModelBank`). Every session then talks to it through the
same path as any OpenAI-compatible endpoint: pipecat's ``OpenAILLMService`` with
``OPENAI_BASE_URL`` pointed at the loopback server. A random API key keeps other local
processes off it.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from loguru import logger

from interviewer.config import Settings


class LocalLLMError(RuntimeError):
    """The GGUF model could not be served; the message is one line naming LLM_GGUF."""


@dataclass
class LocalLLMServer:
    """A running xllamacpp server on loopback, shared by every session of the process."""

    base_url: str  # ends in /v1, as the openai client wants it
    api_key: str
    model: str
    load_seconds: float
    _server: object | None = field(default=None, repr=False)

    @classmethod
    def start(cls, settings: Settings) -> LocalLLMServer:
        """Load ``settings.llm_gguf`` and serve it on 127.0.0.1 (a free port). Blocks while loading."""
        import xllamacpp as xlc

        path: Path = settings.llm_gguf  # validated: exists and starts with the GGUF magic
        if path is None:
            raise LocalLLMError("configuration error: LLM_GGUF: not set")
        model = path.stem
        api_key = "sk-local-" + secrets.token_urlsafe(18)
        params = xlc.CommonParams()
        params.model.path = str(path)
        params.model_alias = {model}
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # the OS picks a free port; listening_address reports it
        params.api_keys = [api_key]
        params.n_ctx = settings.llm_gguf_ctx
        params.n_predict = settings.llm_gguf_max_tokens  # a cap per reply: base models never stop
        params.n_parallel = 1
        params.cpuparams.n_threads = settings.llm_gguf_threads
        params.cpuparams_batch.n_threads = settings.llm_gguf_threads
        params.verbosity = 0  # llama.cpp logs nothing; we log the figures that matter
        t = time.perf_counter()
        try:
            server = xlc.Server(params)
        except RuntimeError as e:
            raise LocalLLMError(f"configuration error: LLM_GGUF: cannot load {path}: {e}") from None
        load_s = time.perf_counter() - t
        address = str(server.listening_address).rstrip("/")
        instance = cls(f"{address}/v1", api_key, model, load_s, server)
        instance._wait_healthy(address)
        logger.info(f"Local GGUF model {path.name} served at {instance.base_url} (loaded in {load_s:.2f}s)")
        return instance

    @staticmethod
    def _wait_healthy(address: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{address}/health", timeout=2) as r:
                    if json.loads(r.read()).get("status") == "ok":
                        return
            except Exception:
                if time.monotonic() > deadline:
                    raise LocalLLMError(
                        f"configuration error: LLM_GGUF: the local server at {address} never became healthy"
                    ) from None
            time.sleep(0.1)

    def apply_to(self, settings: Settings) -> None:
        """Point the OpenAI-compatible LLM settings of this process at the local server."""
        settings.openai_base_url = self.base_url
        settings.openai_api_key = self.api_key
        settings.openai_model = self.model

    def stop(self) -> None:
        """Stop the server: xllamacpp's Server shuts down when its last reference goes."""
        server, self._server = self._server, None
        del server
        logger.info("Local GGUF server stopped")
