"""Piper's voice shared by every session: one synthesis step at a time, short phrases kept.

The TTS service (:class:`processors.local_services.SharedPiperTTSService`) speaks through
:class:`LockedVoice`; the model bank says the openings of replies into the phrase store at
load (:func:`learn_phrases`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

PHRASE_MAX_WORDS = 5  # "Okay, thank you.", "Yes, I can hear you.": replies open with these
PHRASES_KEPT = 256


class LockedVoice:
    """A Piper voice whose synthesis steps are serialised across sessions.

    Short phrases ("Thanks.", "Got it.") are said once per process and then replayed from
    ``phrases`` (shared by every session): a reply that opens with one is heard at once.
    """

    def __init__(self, voice: Any, lock: threading.Lock, phrases: dict[str, list] | None = None):
        self._voice = voice
        self._lock = lock
        self._phrases = phrases
        self.config = voice.config

    def synthesize(self, text: str) -> Iterator[Any]:
        """Yield audio chunks (one per sentence) holding the lock only while computing one."""
        key = text.strip()
        short = self._phrases is not None and len(key.split()) <= PHRASE_MAX_WORDS
        if short:
            with self._lock:
                kept = self._phrases.get(key)
            if kept is not None:
                yield from kept
                return
        chunks = []
        with self._lock:
            it = iter(self._voice.synthesize(text))
        while True:
            with self._lock:
                try:
                    chunk = next(it)
                except StopIteration:
                    break
            chunks.append(chunk)
            yield chunk
        if short and chunks:
            with self._lock:
                if len(self._phrases) < PHRASES_KEPT:
                    self._phrases[key] = chunks


def learn_phrases(
    voice: Any, lock: threading.Lock, phrases: dict[str, list], texts: tuple[str, ...]
) -> int:
    """Say each short phrase of ``texts`` into ``phrases`` now; how many were new.

    So the first reply of the process that opens with an acknowledgement is heard as soon as
    the hundredth (Piper takes 0.1-0.2 s over one, the store none).
    """
    locked, before = LockedVoice(voice, lock, phrases), len(phrases)
    for text in texts:
        for _chunk in locked.synthesize(text):
            pass
    return len(phrases) - before
