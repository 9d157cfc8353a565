"""Persistence with SQLAlchemy: SQLite by default, PostgreSQL when DATABASE_URL says so.

Every turn is written as it happens, in its own transaction, so a dropped connection or a
killed server loses nothing already said. A turn's ``seq`` is unique within its interview (a
unique index); a writer that loses the race for a number takes the next one. Interviews and
reports are looked up by their random token; ids are internal.
"""

from __future__ import annotations

import random
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from loguru import logger
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    mapped_column,
    relationship,
    sessionmaker,
)


class Base(DeclarativeBase):
    """Declarative base of the interviewer schema."""


class InterviewRow(Base):
    """One interview."""

    __tablename__ = "interviews"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    mode: Mapped[str] = mapped_column(String(40))
    candidate: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | ended | dropped
    llm: Mapped[str] = mapped_column(String(16), default="scripted")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    report: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    turns: Mapped[list[TurnRow]] = relationship(
        order_by="TurnRow.seq", cascade="all, delete-orphan"
    )


SEQ_INDEX = "uq_turns_interview_seq"
SEQ_ATTEMPTS = 100  # a writer retries while others take the numbers it read; one wins each round


class TurnRow(Base):
    """One turn of an interview's transcript."""

    __tablename__ = "turns"
    __table_args__ = (Index(SEQ_INDEX, "interview_id", "seq", unique=True),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    interview_id: Mapped[str] = mapped_column(
        ForeignKey("interviews.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))  # candidate | interviewer
    text: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    question_index: Mapped[int | None] = mapped_column(Integer, nullable=True)


@dataclass(frozen=True)
class StoredTurn:
    """A turn as read back."""

    seq: int
    role: str
    text: str
    started_at: datetime
    ended_at: datetime
    latency_ms: int | None
    interrupted: bool
    question_index: int | None

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "seq": self.seq,
            "role": self.role,
            "text": self.text,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat(),
            "latency_ms": self.latency_ms,
            "interrupted": self.interrupted,
            "question_index": self.question_index,
        }


@dataclass(frozen=True)
class StoredInterview:
    """An interview as read back, with its transcript."""

    id: str
    token: str
    mode: str
    candidate: dict
    status: str
    llm: str
    started_at: datetime
    ended_at: datetime | None
    report: dict | None
    turns: list[StoredTurn]


def now_utc() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


def _seq_taken(error: IntegrityError) -> bool:
    """Whether ``error`` is another turn holding the seq (not, say, a missing interview)."""
    orig = error.orig
    return getattr(orig, "sqlstate", None) == "23505" or (
        "unique" in str(orig).lower() and "seq" in str(orig).lower()
    )


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything here is stored in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


SCHEMA_LOCK = 7_401_2026  # PostgreSQL advisory lock id: one process at a time creates tables


def schema_lock(conn) -> None:
    """Hold PostgreSQL's schema lock for this transaction.

    Servers starting together on one database would otherwise race to create the same tables
    (and fail on the loser's side).
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")


class Store:
    """The interview database. Thread-safe; call from a worker thread in async code."""

    def __init__(self, url: str):
        kwargs: dict = {"pool_pre_ping": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):

            @event.listens_for(self.engine, "connect")
            def _sqlite_pragmas(conn, _record):
                cur = conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()

        with self.engine.begin() as conn:
            schema_lock(conn)
            Base.metadata.create_all(conn)
        self._ensure_seq_index()
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def _ensure_seq_index(self) -> None:
        """Add the unique (interview_id, seq) index to a database created before it existed.

        ``create_all`` makes it with a new table, never on an existing one. An old database whose
        turns already share a seq cannot take it: that is logged, and the server starts anyway.
        """
        try:
            with self.engine.begin() as conn:
                schema_lock(conn)
                conn.exec_driver_sql(
                    f"CREATE UNIQUE INDEX IF NOT EXISTS {SEQ_INDEX} ON turns (interview_id, seq)"
                )
        except IntegrityError as e:
            logger.warning(
                f"Could not add the unique index {SEQ_INDEX} on turns (interview_id, seq): "
                f"{e.orig}. Old turns that share a seq number prevent it; until they are "
                "renumbered, two turns written at once to one interview may share a seq."
            )

    def create_interview(self, mode: str, candidate: dict, llm: str) -> tuple[str, str]:
        """A new interview; returns (id, token)."""
        interview_id, token = uuid.uuid4().hex, secrets.token_urlsafe(24)
        with self._session.begin() as s:
            s.add(
                InterviewRow(
                    id=interview_id,
                    token=token,
                    mode=mode,
                    candidate=candidate,
                    llm=llm,
                    started_at=now_utc(),
                )
            )
        return interview_id, token

    def add_turn(
        self,
        interview_id: str,
        role: str,
        text: str,
        started_at: datetime,
        ended_at: datetime,
        latency_ms: int | None = None,
        interrupted: bool = False,
        question_index: int | None = None,
    ) -> int:
        """Append one turn (committed at once); returns its sequence number.

        The number is one past the interview's highest. Two writers may read the same highest
        at once; the unique index lets only one of them have it, and the other tries again.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._session.begin() as s:
                    seq = s.scalar(
                        select(func.coalesce(func.max(TurnRow.seq) + 1, 0)).where(
                            TurnRow.interview_id == interview_id
                        )
                    )
                    s.add(
                        TurnRow(
                            interview_id=interview_id,
                            seq=seq,
                            role=role,
                            text=text,
                            started_at=started_at,
                            ended_at=ended_at,
                            latency_ms=latency_ms,
                            interrupted=interrupted,
                            question_index=question_index,
                        )
                    )
                return seq
            except IntegrityError as e:
                if attempt >= SEQ_ATTEMPTS or not _seq_taken(e):
                    raise
                logger.debug(f"Turn {seq} of interview {interview_id} was taken; trying again")
                time.sleep(random.uniform(0, 0.002 * min(attempt, 10)))  # let the winner commit

    def update_turn_text(self, interview_id: str, seq: int, text: str) -> bool:
        """Replace the words of turn ``seq`` (a candidate turn decoded again); False if it is gone."""
        with self._session.begin() as s:
            result = s.execute(
                update(TurnRow)
                .where(TurnRow.interview_id == interview_id, TurnRow.seq == seq)
                .values(text=text)
            )
            return result.rowcount > 0

    def finish(self, interview_id: str, status: str, report: dict | None = None) -> None:
        """Mark the interview ended (or dropped) and store its report."""
        with self._session.begin() as s:
            row = s.get(InterviewRow, interview_id)
            if row is None:
                return
            row.status = status
            row.ended_at = now_utc()
            if report is not None:
                row.report = report

    def save_report(self, interview_id: str, report: dict) -> None:
        """Store (or replace) the report."""
        with self._session.begin() as s:
            row = s.get(InterviewRow, interview_id)
            if row is not None:
                row.report = report

    def get(self, interview_id: str) -> StoredInterview | None:
        """An interview by id (for the CLI on this machine)."""
        with self._session() as s:
            row = s.get(InterviewRow, interview_id)
            return self._read(row) if row else None

    def get_by_token(self, token: str) -> StoredInterview | None:
        """An interview by its secret token (for links)."""
        if not token or len(token) > 64:
            return None
        with self._session() as s:
            row = s.scalar(select(InterviewRow).where(InterviewRow.token == token))
            if row is None or not secrets.compare_digest(row.token, token):
                return None
            return self._read(row)

    def list(self, limit: int = 50) -> list[dict]:
        """Recent interviews, newest first (id, mode, status, times, turn count)."""
        with self._session() as s:
            rows = s.scalars(
                select(InterviewRow).order_by(InterviewRow.started_at.desc()).limit(limit)
            ).all()
            return [
                {
                    "id": r.id,
                    "mode": r.mode,
                    "status": r.status,
                    "candidate": r.candidate.get("name", ""),
                    "started_at": _aware(r.started_at).isoformat(),
                    "turns": len(r.turns),
                }
                for r in rows
            ]

    def search(
        self,
        mode: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 200,
    ) -> list[dict]:
        """Interviews for reviewers, newest first, filtered; with length, scores and report token.

        ``since`` and ``until`` bound the start time (``until`` exclusive). ``last_activity``:
        when its latest turn ended (its start, before the first), for the interviews still active.
        """
        query = select(InterviewRow).order_by(InterviewRow.started_at.desc()).limit(limit)
        if mode:
            query = query.where(InterviewRow.mode == mode)
        if status:
            query = query.where(InterviewRow.status == status)
        if since:
            query = query.where(InterviewRow.started_at >= since)
        if until:
            query = query.where(InterviewRow.started_at < until)
        with self._session() as s:
            rows = s.scalars(query).all()
            active = [r.id for r in rows if r.status == "active"]
            latest = dict(
                s.execute(
                    select(TurnRow.interview_id, func.max(TurnRow.ended_at))
                    .where(TurnRow.interview_id.in_(active))
                    .group_by(TurnRow.interview_id)
                ).all()
                if active
                else []
            )
            out = []
            for r in rows:
                started, ended = _aware(r.started_at), _aware(r.ended_at)
                scores = {
                    c["name"]: c["score"]
                    for c in (r.report or {}).get("competencies", [])
                    if isinstance(c, dict) and "score" in c
                }
                out.append(
                    {
                        "id": r.id,
                        "token": r.token,
                        "mode": r.mode,
                        "status": r.status,
                        "candidate": (r.candidate or {}).get("name", ""),
                        "role": (r.candidate or {}).get("role", ""),
                        "started_at": started,
                        "seconds": (ended - started).total_seconds() if ended else None,
                        "scores": scores,
                        "has_report": r.report is not None,
                        "last_activity": _aware(latest.get(r.id) or r.started_at)
                        if r.status == "active"
                        else None,
                    }
                )
            return out

    def delete(self, interview_id: str) -> bool:
        """Delete an interview with its transcript and report; False when there was none."""
        with self._session.begin() as s:
            row = s.get(InterviewRow, interview_id)
            if row is None:
                return False
            s.delete(row)  # its turns go with it (cascade)
        return True

    @staticmethod
    def _read(row: InterviewRow) -> StoredInterview:
        return StoredInterview(
            id=row.id,
            token=row.token,
            mode=row.mode,
            candidate=dict(row.candidate or {}),
            status=row.status,
            llm=row.llm,
            started_at=_aware(row.started_at),
            ended_at=_aware(row.ended_at),
            report=row.report,
            turns=[
                StoredTurn(
                    t.seq,
                    t.role,
                    t.text,
                    _aware(t.started_at),
                    _aware(t.ended_at),
                    t.latency_ms,
                    t.interrupted,
                    t.question_index,
                )
                for t in row.turns
            ],
        )
