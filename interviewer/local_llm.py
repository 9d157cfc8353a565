"""A local GGUF model served offline by xllamacpp, once per process.

With ``LLM_GGUF=/path/model.gguf`` the server starts llama.cpp's OpenAI-compatible HTTP server
(xllamacpp's ``Server``, in-process, its own threads) on 127.0.0.1 at start-up, like the other
models (see :class:`interviewer.models.ModelBank`). Every session then talks to it through the
same path as any OpenAI-compatible endpoint: pipecat's ``OpenAILLMService`` with
``OPENAI_BASE_URL`` pointed at the loopback server. A random API key keeps other local
processes off it.

With ``LLM=local`` (the default when no endpoint is set) the same server runs the packaged
interviewer model (Qwen2.5-Coder-1.5B-Instruct, see :func:`interviewer.models.interviewer_llm_gguf`)
with one slot per session, and :class:`processors.local_brain.LocalBrainProcessor` asks it for
the lines the plan leaves open (see :mod:`interviewer.lines`). Those lines are written while
the candidate pauses and while the acknowledgement is said, beside Whisper's transcripts of
the next words: so that model runs at a lower CPU priority (``LOCAL_LLM_NICE``), and a
candidate's transcript never waits for a line that may not be used.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import json
import secrets
import shutil
import ssl
import sys
import tempfile
import threading
import time
import urllib.request
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import httpx
from loguru import logger

from interviewer.config import Settings
from interviewer.cpu import OPENMP_SPINS, lower_this_thread, openmp_spins
from interviewer.give_way import LinesInFlight
from interviewer.slot_heads import SlotHeads

if TYPE_CHECKING:
    from openai import AsyncOpenAI

# CPU priority (nice) of the LLM=local model's threads: below the transcripts and the end-of-turn
# score (0), above the live words (10) and the whole-turn re-decode (19).
LOCAL_LLM_NICE = 5
# LLM=local slots beyond one per running interview: a session gives its slot back as it ends,
# before its report is scored, so without one a report being scored holds the slot the next
# interview needs, and that interview's prompts land on any slot, a live one's cache included.
# At most this many reports are scored at once; the rest wait their turn (:meth:`report_slot`).
REPORT_SLOTS = 1
REPORT_WAIT_POLL_S = 0.1  # how often a report waiting for its turn looks again
# xllamacpp is imported (and libgomp loaded, reading its spin count) once per process.
_IMPORT_LOCK = threading.Lock()


def import_xllamacpp(spins: int = OPENMP_SPINS):
    """The xllamacpp module, its OpenMP threads spinning ``spins`` times at a barrier.

    The first import decides for the process (libgomp reads its settings as it loads); the
    model servers start on two threads at once, hence the lock.
    """
    with _IMPORT_LOCK:
        if "xllamacpp" not in sys.modules:
            with openmp_spins(spins):
                import xllamacpp  # noqa: F401
        return sys.modules["xllamacpp"]


def _started_at_nice(nice: int, start):
    """``start()`` on a thread of CPU priority ``nice``: the threads it starts inherit that."""
    if nice == 0:
        return start()
    done: concurrent.futures.Future = concurrent.futures.Future()

    def run():
        lower_this_thread(nice, "The local model")
        try:
            done.set_result(start())
        except BaseException as e:
            done.set_exception(e)

    thread = threading.Thread(target=run, name="llm-start", daemon=True)
    thread.start()
    thread.join()
    return done.result()


def loopback_tls() -> ssl.SSLContext:
    """A TLS context that trusts no one, for clients of a plain-HTTP server on 127.0.0.1.

    An HTTP client builds a TLS context as it is made, and httpx's default loads the whole CA
    store into it: 25 ms in the event loop for each client, several per interview, though
    plain HTTP never uses it. A context made once and shared costs nothing, and with nothing
    trusted an https URL would fail, not connect unverified.
    """
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def plain_loopback(url: str | None) -> bool:
    """Whether ``url`` is plain HTTP to this machine (127.0.0.0/8, ::1 or localhost)."""
    parts = urlparse(url or "")
    if parts.scheme != "http":
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        return False


def loopback_http_client(tls: ssl.SSLContext) -> httpx.AsyncClient:
    """The HTTP client of an OpenAI client for a :func:`plain_loopback` server.

    ``tls``: a :func:`loopback_tls` context (never used; it spares loading the CA store). Each
    request opens its own connection: llama.cpp's server says "keep-alive" after a streamed
    reply but now and then closes the connection anyway, and the next request sent on it
    fails ("Server disconnected without sending a response"): 4-13 of 120 requests in 60
    line-and-prefill pairs kept alive, none with a connection each. A connection on the
    loopback costs about 0.3 ms.
    """
    from openai import DefaultAsyncHttpxClient

    return DefaultAsyncHttpxClient(verify=tls, limits=httpx.Limits(max_keepalive_connections=0))


class LocalLLMError(RuntimeError):
    """The GGUF model could not be served; the message is one line naming LLM_GGUF."""


@dataclass
class LocalLLMServer:
    """A running xllamacpp server on loopback, shared by every session of the process.

    With several ``slots`` (llama.cpp's parallel sequences) each session may hold one
    (:meth:`acquire_slot`), so its prompt cache is its own and a turn prefills only new words.
    """

    base_url: str  # ends in /v1, as the openai client wants it
    api_key: str
    model: str
    load_seconds: float
    slots: int = 1
    heads: SlotHeads | None = None  # slot states shared between sessions (LLM=local)
    report_slots: int = REPORT_SLOTS  # reports scored at once (the slots beyond the interviews')
    # The sessions' lines being written, which background requests give way to (LLM=local).
    lines: LinesInFlight = field(default_factory=LinesInFlight, repr=False)
    lines_asked: int = 0  # model lines sessions that ended needed (LLM=local; none cut off) ...
    lines_written: int = 0  # ... and got in time and within the rules, not the scripted line
    lines_early: int = 0  # lines started in a pause before the turn ended ...
    lines_early_used: int = 0  # ... and the turn's line (the rest: the candidate went on)
    lines_late: int = 0  # lines not ready in time (the scripted line was said) ...
    lines_after_deadline: int = 0  # ... and lines written that ended in the moment after it
    _server: object | None = field(default=None, repr=False)
    # The TLS context of every client of this server (see :func:`loopback_tls`).
    tls: ssl.SSLContext = field(default_factory=loopback_tls, repr=False)
    _free: list[int] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _reports: int = field(default=0, repr=False)  # reports holding a slot now
    # Reports waiting for the report slot, first come first served (:meth:`report_slot`).
    _report_queue: deque[object] = field(default_factory=deque, repr=False)

    @classmethod
    def start(cls, settings: Settings) -> LocalLLMServer:
        """Serve the configured model: ``LLM_GGUF``, or with ``LLM=local`` the packaged interviewer model."""
        if settings.llm_kind == "local":
            from interviewer.models import interviewer_llm_gguf

            try:
                path = interviewer_llm_gguf(settings.model_cache_dir)
            except RuntimeError as e:
                raise LocalLLMError(f"configuration error: LLM: local: {e}") from None
            slots = settings.max_sessions + REPORT_SLOTS
            return cls.serve(
                path,
                what="LLM=local",
                ctx=slots * settings.local_llm_ctx_per_session,
                threads=settings.local_llm_threads,
                slots=slots,
                max_tokens=64,
                nice=LOCAL_LLM_NICE,
                share_heads=True,
                spins=settings.llm_barrier_spins,
            )
        if settings.llm_gguf is None:
            raise LocalLLMError("configuration error: LLM_GGUF: not set")
        return cls.serve(
            settings.llm_gguf,
            what="LLM_GGUF",
            ctx=settings.llm_gguf_ctx,
            threads=settings.llm_gguf_threads,
            slots=1,
            max_tokens=settings.llm_gguf_max_tokens,  # a cap per reply: base models never stop
            spins=settings.llm_barrier_spins,
        )

    @classmethod
    def serve(
        cls,
        path: Path,
        *,
        what: str,
        ctx: int,
        threads: int,
        slots: int,
        max_tokens: int,
        nice: int = 0,
        share_heads: bool = False,
        spins: int = OPENMP_SPINS,
    ) -> LocalLLMServer:
        """Load ``path`` and serve it on 127.0.0.1 (a free port). Blocks while loading.

        Its threads run at CPU priority ``nice`` (0: the process's own). With ``share_heads``,
        slots can be saved and restored (:class:`~interviewer.slot_heads.SlotHeads`, in a
        private directory removed by :meth:`stop`). ``spins``: see :func:`import_xllamacpp`.
        """
        xlc = import_xllamacpp(spins)

        model = path.stem
        api_key = "sk-local-" + secrets.token_urlsafe(18)
        params = xlc.CommonParams()
        params.model.path = str(path)
        params.model_alias = {model}
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # the OS picks a free port; listening_address reports it
        params.api_keys = [api_key]
        params.n_ctx = ctx
        params.n_predict = max_tokens
        params.n_parallel = slots
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.verbosity = 0  # llama.cpp logs nothing; we log the figures that matter
        heads_dir = Path(tempfile.mkdtemp(prefix="interviewer-llm-heads-")) if share_heads else None
        if heads_dir is not None:
            params.slot_save_path = f"{heads_dir}/"  # llama.cpp joins it to a file name as is
        t = time.perf_counter()
        try:
            server = _started_at_nice(nice, lambda: xlc.Server(params))
        except RuntimeError as e:
            if heads_dir is not None:
                shutil.rmtree(heads_dir, ignore_errors=True)
            raise LocalLLMError(f"configuration error: {what}: cannot load {path}: {e}") from None
        load_s = time.perf_counter() - t
        address = str(server.listening_address).rstrip("/")
        tls = loopback_tls()
        heads = SlotHeads(address, api_key, heads_dir, tls) if heads_dir is not None else None
        instance = cls(
            f"{address}/v1",
            api_key,
            model,
            load_s,
            slots,
            heads=heads,
            _server=server,
            tls=tls,
            _free=list(range(slots)),
        )
        try:
            instance._wait_healthy(address, what)
        except LocalLLMError:
            instance.stop(idle_timeout_s=0)  # frees the model and its slot-save directory
            raise
        logger.info(
            f"Local model {path.name} served at {instance.base_url}, {slots} slot(s) (loaded in {load_s:.2f}s)"
        )
        return instance

    @staticmethod
    def _wait_healthy(address: str, what: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{address}/health", timeout=2) as r:
                    if json.loads(r.read()).get("status") == "ok":
                        return
            except Exception:
                if time.monotonic() > deadline:
                    raise LocalLLMError(
                        f"configuration error: {what}: the local server at {address} never became healthy"
                    ) from None
            time.sleep(0.1)

    def openai_client(self, *, timeout: float, max_retries: int = 0) -> AsyncOpenAI:
        """An OpenAI client for this server: a connection per request, no CA store loaded.

        See :func:`loopback_http_client`.
        """
        from openai import AsyncOpenAI

        return AsyncOpenAI(
            api_key=self.api_key,
            base_url=self.base_url,
            timeout=timeout,
            max_retries=max_retries,
            http_client=loopback_http_client(self.tls),
        )

    def acquire_slot(self) -> int | None:
        """A slot of the server's own for one session, or None when all are held (any slot then)."""
        with self._lock:
            return self._free.pop(0) if self._free else None

    def release_slot(self, slot: int | None) -> None:
        """Give a session's slot back."""
        if slot is None:
            return
        with self._lock:
            if slot not in self._free:
                self._free.append(slot)

    @asynccontextmanager
    async def report_slot(self) -> AsyncIterator[int | None]:
        """A slot to score one report on, once it is this report's turn.

        The server keeps ``report_slots`` slots beyond one per running interview. Were every
        report to take a free slot, two scored at once could hold the slot the next interview
        needs (its prompts then land on any slot, a live one's cache included); so at most
        ``report_slots`` reports hold one at a time and the others wait (no one is listening
        to a report being scored), in the order they came. Cancelling the wait is safe.
        """
        t = time.monotonic()
        ticket = object()
        with self._lock:
            self._report_queue.append(ticket)
        try:
            while True:
                with self._lock:
                    if self._reports < self.report_slots and self._report_queue[0] is ticket:
                        self._report_queue.popleft()
                        self._reports += 1
                        slot = self._free.pop(0) if self._free else None
                        break
                await asyncio.sleep(REPORT_WAIT_POLL_S)
        except BaseException:
            with self._lock:
                if ticket in self._report_queue:
                    self._report_queue.remove(ticket)
            raise
        if (waited := time.monotonic() - t) >= REPORT_WAIT_POLL_S:
            logger.info(f"A report waited {waited:.1f}s for the reports before it to be scored")
        try:
            yield slot
        finally:
            self.release_slot(slot)
            with self._lock:
                self._reports -= 1

    def session_ended(
        self,
        slot: int | None,
        asked: int,
        written: int,
        early: int = 0,
        early_used: int = 0,
        late: int = 0,
        after_deadline: int = 0,
    ) -> None:
        """A session gave its slot back, having needed ``asked`` lines and got ``written``.

        A line whose turn the candidate went on with while it was written is not counted.
        ``early`` lines were started in pauses, ``early_used`` of them were the turn's line;
        ``late`` were not ready in time, and ``after_deadline`` of the written ended in the
        moment a line still writing at its deadline gets (``LOCAL_LLM_FINISH_SECS``).
        """
        self.release_slot(slot)
        with self._lock:
            self.lines_asked += asked
            self.lines_written += written
            self.lines_early += early
            self.lines_early_used += early_used
            self.lines_late += late
            self.lines_after_deadline += after_deadline

    def apply_to(self, settings: Settings) -> None:
        """Point the OpenAI-compatible LLM settings of this process at the local server (LLM_GGUF)."""
        settings.openai_base_url = self.base_url
        settings.openai_api_key = self.api_key
        settings.openai_model = self.model

    def stop(self, idle_timeout_s: float = 20.0) -> None:
        """Stop the server once no request waits for it (the last reference to xllamacpp's Server).

        Its destructor lets the request in a slot finish, stops the model loop, then joins the
        HTTP threads while holding the GIL. A request still queued for a slot never gets its
        result, its thread never ends, and the whole process hangs (seen in CI: a test server
        stopped while sessions' requests were queued). So wait, up to ``idle_timeout_s``, until
        no slot has been busy for two looks in a row: queued requests get their turn first.
        """
        if self._server is None:
            return
        waited = self._wait_idle(idle_timeout_s)
        server, self._server = self._server, None
        del server
        if self.heads is not None:
            shutil.rmtree(self.heads.directory, ignore_errors=True)
        logger.info(f"Local model server stopped (waited {waited:.2f}s for requests in flight)")

    def _wait_idle(self, timeout_s: float) -> float:
        """Seconds spent waiting until no slot is processing (twice in a row), at most ``timeout_s``."""
        address = self.base_url.rsplit("/v1", 1)[0]
        request = urllib.request.Request(
            f"{address}/slots", headers={"Authorization": f"Bearer {self.api_key}"}
        )
        t0 = time.monotonic()
        idle_polls = 0
        while idle_polls < 2 and time.monotonic() - t0 < timeout_s:
            try:
                with urllib.request.urlopen(request, timeout=2) as r:
                    busy = any(slot.get("is_processing") for slot in json.loads(r.read()))
            except Exception as e:  # no answer: nothing more to wait for
                logger.warning(f"Local model server: cannot read its slots ({e}); stopping it")
                break
            idle_polls = 0 if busy else idle_polls + 1
            if idle_polls < 2:
                time.sleep(0.05)
        return time.monotonic() - t0
