"""Writes every finished turn to the database the moment it ends.

Listens to pipecat's own turn events on the context aggregators (the aggregated text the
LLM sees) and to the latency observer, and writes from a worker thread so the event loop
never waits on the database. Each turn is committed on its own.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from loguru import logger
from pipecat.observers.user_bot_latency_observer import MeasuredFrom, UserBotLatencyObserver
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair

from interviewer.plan import PlanCursor
from interviewer.store import Store, now_utc


def _parse(ts: str | None) -> datetime:
    try:
        value = datetime.fromisoformat(ts) if ts else now_utc()
    except ValueError:
        value = now_utc()
    return value if value.tzinfo else value.replace(tzinfo=now_utc().tzinfo)


class TranscriptRecorder:
    """Persists one session's turns; attach it to the session's aggregators and observer."""

    def __init__(self, store: Store, interview_id: str, cursor: PlanCursor):
        self._store = store
        self._id = interview_id
        self._cursor = cursor
        self._latency_ms: int | None = None
        self._pending: set[asyncio.Task] = set()
        self.turns_written = 0

    def attach(
        self, aggregators: LLMContextAggregatorPair, latency: UserBotLatencyObserver
    ) -> None:
        """Subscribe to the turn and latency events."""
        user, assistant = aggregators.user(), aggregators.assistant()

        @user.event_handler("on_user_turn_stopped")
        async def on_user_turn_stopped(_agg, _strategy, message):
            if message.content and message.content.strip():
                await self._write("candidate", message.content, message.timestamp, False)

        @assistant.event_handler("on_assistant_turn_stopped")
        async def on_assistant_turn_stopped(_agg, message):
            if message.content and message.content.strip():
                latency, self._latency_ms = self._latency_ms, None
                await self._write(
                    "interviewer", message.content, message.timestamp, message.interrupted, latency
                )

        @latency.event_handler("on_latency_breakdown")
        async def on_latency_breakdown(_obs, breakdown):
            if breakdown.measured_from == MeasuredFrom.USER_SILENCE:
                self._latency_ms = round((breakdown.total_secs or 0) * 1000)

    async def _write(
        self,
        role: str,
        text: str,
        started: str | None,
        interrupted: bool,
        latency: int | None = None,
    ):
        args = (
            self._id,
            role,
            " ".join(text.split()),
            _parse(started),
            now_utc(),
            latency,
            interrupted,
            self._cursor.index,
        )
        task = asyncio.ensure_future(asyncio.to_thread(self._store.add_turn, *args))
        self._pending.add(task)
        try:
            await asyncio.shield(task)
            self.turns_written += 1
        except asyncio.CancelledError:
            raise  # the write itself goes on in its thread and commits
        except Exception as e:
            logger.error(f"Could not store a {role} turn of interview {self._id}: {e}")
        finally:
            self._pending.discard(task)

    async def flush(self) -> None:
        """Wait for writes still in flight (at session end)."""
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
