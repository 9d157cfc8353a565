"""Interview recordings: one audio file per interview, listed in the database beside it.

A recording is written only with the candidate's consent (and ``RECORDING=on``), by
:mod:`processors.recording_writer`. Its row is added before the first audio reaches the file, so
a killed server leaves a listed, playable file; its length is read from the file until the
recording's end has been written. Files live under ``RECORDINGS_DIR``; the row holds the name
relative to it. A recording goes with its interview (:meth:`RecordingStore.delete_for_interview`,
and the foreign key cascades) and after ``RECORDING_RETENTION_DAYS`` (:func:`keep_for`).

Time in the audio: sample 0 was heard at ``started_at`` (UTC wall clock). The file runs a little
ahead of the wall clock while the interviewer speaks (pipecat's buffer pads one track to keep
both aligned); the writer's sync marks record by how much, and :meth:`RecordingInfo.offset_s`
maps a wall-clock time (a turn's ``started_at``) to seconds into the file through them.
"""

from __future__ import annotations

import asyncio
import bisect
import stat
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import soundfile as sf
from loguru import logger
from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    String,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from interviewer.store import Base, Store, now_utc, schema_lock

FORMAT = "ogg/opus"
MEDIA_TYPE = "audio/ogg"
SUFFIX = ".ogg"
PURGE_EVERY_S = 3600.0


class RecordingRow(Base):
    """One interview's recording file."""

    __tablename__ = "recordings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    interview_id: Mapped[str] = mapped_column(
        ForeignKey("interviews.id", ondelete="CASCADE"), unique=True, index=True
    )
    path: Mapped[str] = mapped_column(String(255))  # relative to RECORDINGS_DIR
    format: Mapped[str] = mapped_column(String(16))
    sample_rate: Mapped[int] = mapped_column(Integer)
    channels: Mapped[int] = mapped_column(Integer)  # 2: candidate left, interviewer right
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # [[wall-clock seconds since started_at, seconds into the audio], ...]: where the audio ran ahead
    sync: Mapped[list | None] = mapped_column(JSON, nullable=True)


@dataclass(frozen=True)
class RecordingInfo:
    """A recording as read back; ``ended_at`` is None for one still running or cut by a kill."""

    interview_id: str
    path: Path
    format: str
    media_type: str
    sample_rate: int
    channels: int
    started_at: datetime
    ended_at: datetime | None
    duration_s: float
    bytes: int
    sync: tuple[tuple[float, float], ...] = ()

    def offset_s(self, when: datetime) -> float:
        """Seconds into the audio at wall-clock ``when`` (e.g. a turn's ``started_at``), clamped.

        The wall-clock time since ``started_at`` plus how far the audio had run ahead by then
        (interpolated between the sync marks; none: not at all).
        """
        wall = (when - self.started_at).total_seconds()
        return min(max(wall + self._ahead_s(wall), 0.0), self.duration_s)

    def _ahead_s(self, wall: float) -> float:
        marks = ((0.0, 0.0), *self.sync)
        i = bisect.bisect_right([w for w, _ in marks], wall)
        if i >= len(marks):
            return marks[-1][1] - marks[-1][0]
        (w0, a0), (w1, a1) = marks[max(i - 1, 0)], marks[i]
        if wall <= w0 or w1 == w0:
            return a0 - w0
        return (a0 - w0) + ((a1 - w1) - (a0 - w0)) * (wall - w0) / (w1 - w0)

    def as_dict(self) -> dict:
        """JSON-ready form (without the server's file path)."""
        return {
            "format": self.format,
            "media_type": self.media_type,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "duration_s": round(self.duration_s, 3),
            "bytes": self.bytes,
        }


_tables_made: weakref.WeakSet[Engine] = weakref.WeakSet()


def _ensure_table(engine: Engine) -> None:
    """Create the recordings table on an engine's database once (it may predate recordings)."""
    if engine not in _tables_made:
        with engine.begin() as conn:
            schema_lock(conn)
            RecordingRow.__table__.create(conn, checkfirst=True)
        _tables_made.add(engine)


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything here is stored in UTC.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def audio_length(path: Path) -> float:
    """Seconds of audio a file holds (0 when it cannot be read); a killed writer's file too."""
    try:
        return sf.info(str(path)).duration
    except (sf.LibsndfileError, RuntimeError, OSError):
        return 0.0


class RecordingStore:
    """The recordings of one database and directory. Blocking: call from a worker thread."""

    def __init__(self, store: Store, directory: Path):
        self.directory = Path(directory)
        self._engine = store.engine
        _ensure_table(self._engine)
        self._session = sessionmaker(self._engine, expire_on_commit=False)

    def path_for(self, interview_id: str) -> Path:
        """Where an interview's recording is written."""
        return self.directory / f"{interview_id}{SUFFIX}"

    def add(
        self,
        interview_id: str,
        path: Path,
        sample_rate: int,
        channels: int,
        started_at: datetime,
        format: str = FORMAT,
    ) -> None:
        """List a recording that has started (before its first audio is written)."""
        with self._session.begin() as s:
            s.add(
                RecordingRow(
                    interview_id=interview_id,
                    path=str(self._relative(path)),
                    format=format,
                    sample_rate=sample_rate,
                    channels=channels,
                    started_at=started_at,
                )
            )

    def progress(self, interview_id: str, sync: list) -> None:
        """Store the sync marks of a recording still being written."""
        with self._session.begin() as s:
            row = s.scalar(select(RecordingRow).where(RecordingRow.interview_id == interview_id))
            if row is not None:
                row.sync = [list(m) for m in sync]

    def finish(
        self, interview_id: str, ended_at: datetime, duration_s: float, size: int, sync: list
    ) -> None:
        """Note a recording's end, length, size and sync marks (its file is complete)."""
        with self._session.begin() as s:
            row = s.scalar(select(RecordingRow).where(RecordingRow.interview_id == interview_id))
            if row is not None:
                row.ended_at, row.duration_s, row.bytes = ended_at, duration_s, size
                row.sync = [list(m) for m in sync]

    def listing(self, interview_id: str) -> InterviewListing:
        """What a :class:`processors.recording_writer.RecordingWriter` tells about its file."""
        return InterviewListing(self, interview_id)

    def for_interview(self, interview_id: str) -> RecordingInfo | None:
        """An interview's recording, if one was listed and its file is there."""
        with self._session() as s:
            row = s.scalar(select(RecordingRow).where(RecordingRow.interview_id == interview_id))
        if row is None:
            return None
        path = self._absolute(row.path)
        try:  # (a deletion, by a reviewer or retention, may take the file while this reads it)
            found = path.stat()
        except FileNotFoundError:
            found = None
        if found is None or not stat.S_ISREG(found.st_mode):
            logger.warning(f"Recording of interview {interview_id} is listed but {path} is gone")
            return None
        finished = row.ended_at is not None and row.duration_s is not None
        return RecordingInfo(
            interview_id=row.interview_id,
            path=path,
            format=row.format,
            media_type=MEDIA_TYPE,
            sample_rate=row.sample_rate,
            channels=row.channels,
            started_at=_utc(row.started_at),
            ended_at=_utc(row.ended_at),
            duration_s=row.duration_s if finished else audio_length(path),
            bytes=found.st_size,
            sync=tuple((float(w), float(a)) for w, a in row.sync or ()),
        )

    def delete_for_interview(self, interview_id: str) -> bool:
        """Delete an interview's recording, file and row; False when it had none."""
        with self._session.begin() as s:
            row = s.scalar(select(RecordingRow).where(RecordingRow.interview_id == interview_id))
            if row is None:
                return False
            self._absolute(row.path).unlink(missing_ok=True)
            s.delete(row)
        logger.info(f"Deleted the recording of interview {interview_id}")
        return True

    def purge_older_than(self, days: int, now: datetime | None = None) -> int:
        """Delete recordings (files and rows) that started more than ``days`` ago; how many."""
        cutoff = (now or now_utc()) - timedelta(days=days)
        with self._session() as s:
            ids = s.scalars(
                select(RecordingRow.interview_id).where(RecordingRow.started_at < cutoff)
            ).all()
        gone = sum(self.delete_for_interview(i) for i in ids)
        if gone:
            logger.info(f"Retention: deleted {gone} recording(s) older than {days} day(s)")
        return gone

    def _relative(self, path: Path) -> Path:
        try:
            return Path(path).resolve().relative_to(self.directory.resolve())
        except ValueError:
            return Path(path).resolve()  # outside the directory: kept as an absolute path

    def _absolute(self, stored: str) -> Path:
        path = Path(stored)
        return path if path.is_absolute() else self.directory / path


@dataclass(frozen=True)
class InterviewListing:
    """One interview's recording as the writer reports it (see ``recording_writer.Listing``)."""

    recordings: RecordingStore
    interview_id: str

    def opened(self, path: Path, sample_rate: int, channels: int, started_at: datetime) -> None:
        """List the recording before its first audio is written."""
        self.recordings.add(self.interview_id, path, sample_rate, channels, started_at)

    def progressed(self, sync: list) -> None:
        """Store the sync marks so far."""
        self.recordings.progress(self.interview_id, sync)

    def closed(self, ended_at: datetime, duration_s: float, size: int, sync: list) -> None:
        """Note the complete file."""
        self.recordings.finish(self.interview_id, ended_at, duration_s, size, sync)


async def keep_for(recordings: RecordingStore, days: int, every_s: float = PURGE_EVERY_S) -> None:
    """Delete recordings older than ``days`` now and then every ``every_s`` (runs until cancelled)."""
    while True:
        try:
            await asyncio.to_thread(recordings.purge_older_than, days)
        except Exception:
            logger.exception("Could not delete old recordings")
        await asyncio.sleep(every_s)
