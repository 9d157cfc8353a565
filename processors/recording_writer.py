"""Streams the conversation's audio from pipecat's ``AudioBufferProcessor`` into one Ogg/Opus file.

The buffer processor (after ``transport.output()``) hands over both sides every ``CHUNK_SECS``,
interleaved: the candidate on the left channel, the interviewer on the right. Each chunk is
encoded and written as it comes, in a worker thread, in order. libsndfile writes an Ogg page
about every second, so a killed server leaves a file that plays up to about a second and a
chunk before the kill (measured; FLAC written the same way could not be read back after a kill:
its header never learns its length).

The buffer processor keeps the two tracks aligned with each other by padding the one behind,
so the file runs a little ahead of the wall clock while the interviewer speaks (about 2 % of the
interviewer's speaking time, measured here). The writer notes where that happens: sync marks,
``(seconds since the start on the wall clock, seconds into the audio)``, one whenever the gap
grew by ``MARK_STEP_S``; :meth:`interviewer.recordings.RecordingInfo.offset_s` maps a wall-clock
time through them.

The file is created with the first chunk, so an interview that never sent audio leaves none.
"""

from __future__ import annotations

import asyncio
import collections
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import numpy as np
import soundfile as sf
from loguru import logger
from pipecat.processors.audio.audio_buffer_processor import AudioBufferProcessor

from interviewer.store import now_utc

RECORDING_RATE = 16_000  # what the candidate's microphone sends; Opus codes speech well at it
CHUNK_SECS = 0.5
MARK_STEP_S = 0.05  # a new sync mark when the audio moved this far from the wall clock
SAVE_MARKS_EVERY_S = 10.0  # how often new marks reach the listing while recording

SyncMarks = list[tuple[float, float]]  # (wall-clock seconds since started_at, audio seconds)


class Listing(Protocol):
    """Where a recording is listed (the database); called from the writer's worker thread."""

    def opened(self, path: Path, sample_rate: int, channels: int, started_at: datetime) -> None:
        """The file is about to get its first audio; ``started_at``: when its first sample was heard."""

    def progressed(self, sync: SyncMarks) -> None:
        """New sync marks while recording."""

    def closed(self, ended_at: datetime, duration_s: float, size: int, sync: SyncMarks) -> None:
        """The file is complete."""


def recording_buffer() -> AudioBufferProcessor:
    """Pipecat's buffer of both sides: stereo (candidate left), a chunk every ``CHUNK_SECS``."""
    return AudioBufferProcessor(
        sample_rate=RECORDING_RATE,
        num_channels=2,
        buffer_size=int(RECORDING_RATE * CHUNK_SECS) * 2,  # bytes of one 16-bit track
        auto_start_recording=True,
    )


class RecordingWriter:
    """Writes the chunks of one ``AudioBufferProcessor`` to ``path`` as they are heard."""

    def __init__(self, path: Path, listing: Listing):
        self.path = Path(path)
        self._listing = listing
        self._chunks: collections.deque[tuple[bytes, int, int, float]] = collections.deque()
        self._lock = asyncio.Lock()
        self._file: sf.SoundFile | None = None
        self._failed = False
        self._closed = False
        self._t0 = 0.0  # monotonic time of the first sample
        self._saved_at = 0.0
        self._saved_marks = 0
        self.frames = 0
        self.sync: SyncMarks = []

    def attach(self, buffer: AudioBufferProcessor) -> None:
        """Take the buffer's audio and its end."""
        buffer.add_event_handler("on_audio_data", self._on_audio_data)
        buffer.add_event_handler("on_recording_stopped", self._on_recording_stopped)

    async def _on_audio_data(self, _buffer, audio: bytes, sample_rate: int, channels: int):
        self._chunks.append((audio, sample_rate, channels, time.monotonic()))  # arrival order
        async with self._lock:
            await asyncio.to_thread(self._write_pending)

    async def _on_recording_stopped(self, _buffer):
        async with self._lock:
            await asyncio.to_thread(self._write_pending)
            await asyncio.to_thread(self._close)

    def _write_pending(self) -> None:
        while self._chunks:
            audio, rate, channels, heard = self._chunks.popleft()
            if self._failed or self._closed or not audio:
                continue  # (a closed file is never reopened: that would overwrite it)
            samples = np.frombuffer(audio, dtype=np.int16).reshape(-1, channels)
            try:
                if self._file is None:
                    self._open(rate, channels, heard - len(samples) / rate)
                self._file.write(samples)
                self._file.flush()
                self.frames += len(samples)
                self._mark(heard - self._t0, self.frames / rate)
            except Exception:
                self._failed = True  # the interview goes on without its recording
                logger.exception(f"Recording to {self.path} failed; no more audio is written")

    def _open(self, rate: int, channels: int, t0: float) -> None:
        self._t0 = self._saved_at = t0
        started_at = now_utc() - timedelta(seconds=time.monotonic() - t0)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._listing.opened(self.path, rate, channels, started_at)  # listed before any audio
        self._file = sf.SoundFile(
            self.path, "w", samplerate=rate, channels=channels, format="OGG", subtype="OPUS"
        )
        logger.info(f"Recording the interview to {self.path}")

    def _mark(self, wall_s: float, audio_s: float) -> None:
        """Note where the audio (written up to ``audio_s``) stood at ``wall_s``."""
        # The gap only grows (padding adds audio); a chunk seen late (a busy event loop) seems
        # to shrink it for a moment, so only growth makes a mark.
        last_gap = self.sync[-1][1] - self.sync[-1][0] if self.sync else 0.0
        if (audio_s - wall_s) - last_gap >= MARK_STEP_S:
            self.sync.append((round(wall_s, 3), round(audio_s, 3)))
        if len(self.sync) > self._saved_marks and wall_s - self._saved_at >= SAVE_MARKS_EVERY_S:
            self._listing.progressed(list(self.sync))
            self._saved_at, self._saved_marks = wall_s, len(self.sync)

    def _close(self) -> None:
        self._closed = True
        if self._file is None:
            return
        file, self._file = self._file, None
        seconds = self.frames / file.samplerate
        try:
            file.close()
            self._listing.closed(now_utc(), seconds, self.path.stat().st_size, list(self.sync))
        except Exception:
            logger.exception(f"Could not finish the recording {self.path}")
        logger.info(f"Recorded {seconds:.1f} s to {self.path} ({len(self.sync)} sync marks)")
