"""The process's one Whisper model, counting its decodes so that optional ones give way.

Every session's final transcripts and its live (interim) words decode on the same model, whose
CTranslate2 workers take decodes first come, first served. With several candidates talking at
once, interim decodes queued ahead of a final one delayed it by seconds (four sessions on two
cores: finals 3-4 s after the voice ended). So an interim decode runs only when no decode is
running at all, and only one at a time: live words use idle time, never a candidate's turn.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class DecodeCount:
    """Counts a model's decodes running now, and lends one optional decode when none runs."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running = 0
        self._optional = False

    @property
    def running(self) -> int:
        """Decodes running now."""
        return self._running

    @contextmanager
    def counted(self) -> Iterator[None]:
        """Count a decode as running for the ``with`` block."""
        with self._lock:
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1

    @property
    def idle(self) -> bool:
        """No decode runs and the optional one is not claimed."""
        return not self._running and not self._optional

    def claim_optional(self) -> bool:
        """Claim the one optional decode if no decode runs now; pair with :meth:`release_optional`."""
        with self._lock:
            if self._running or self._optional:
                return False
            self._optional = True
            return True

    def release_optional(self) -> None:
        """The optional decode is over."""
        with self._lock:
            self._optional = False


class WhisperLoad(DecodeCount):
    """A faster-whisper model whose ``transcribe`` decodes at once and is counted."""

    def __init__(self, model: Any):
        super().__init__()
        self._model = model

    def transcribe(self, audio, **kwargs) -> tuple[list, Any]:
        """faster-whisper's ``transcribe``, its segments decoded here (in the caller's thread)."""
        with self.counted():
            segments, info = self._model.transcribe(audio, **kwargs)
            return list(segments), info

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)
