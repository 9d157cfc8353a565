"""Writes every finished turn to the database the moment it ends.

Listens to pipecat's own turn events on the context aggregators (the aggregated text the
LLM sees) and to the latency observer, and writes from a worker thread so the event loop
never waits on the database. Each turn is committed on its own, in the order the turns ended.

A turn is stored with the plan's question it belongs to: the last question the candidate heard
put to them. A reply that moves the plan on (the cursor is already at the next question) but is
cut off before its question was said leaves the candidate answering the earlier one; the brain
then merges what they go on to say into that answer, and both turns keep its question.
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
        self._asked: int | None = None  # the question the candidate last heard put to them
        self._pending: set[asyncio.Future] = set()
        self._last_write: asyncio.Future | None = None
        self.turns_written = 0

    def attach(
        self, aggregators: LLMContextAggregatorPair, latency: UserBotLatencyObserver
    ) -> None:
        """Subscribe to the turn and latency events."""
        user, assistant = aggregators.user(), aggregators.assistant()

        @user.event_handler("on_user_turn_stopped")
        async def on_user_turn_stopped(_agg, _strategy, message):
            if message.content and message.content.strip():
                question = self._cursor.index if self._asked is None else self._asked
                await self._write("candidate", message.content, message.timestamp, False, question)

        @assistant.event_handler("on_assistant_turn_stopped")
        async def on_assistant_turn_stopped(_agg, message):
            if message.content and message.content.strip():
                question = self._heard(message.content, message.interrupted)
                latency, self._latency_ms = self._latency_ms, None
                await self._write(
                    "interviewer",
                    message.content,
                    message.timestamp,
                    message.interrupted,
                    question,
                    latency,
                )

        @latency.event_handler("on_latency_breakdown")
        async def on_latency_breakdown(_obs, breakdown):
            if breakdown.measured_from == MeasuredFrom.USER_SILENCE:
                self._latency_ms = round((breakdown.total_secs or 0) * 1000)

    def _heard(self, spoken: str, interrupted: bool) -> int:
        """The question an interviewer turn leaves the candidate answering (and belongs to).

        The cursor's, once the turn was said to its end or its question was heard; if the
        candidate cut in before that, still the one they were answering.
        """
        index = self._cursor.index
        if self._asked is None or not interrupted or self._cursor.asked_in(spoken):
            self._asked = index
        return self._asked

    async def _write(
        self,
        role: str,
        text: str,
        started: str | None,
        interrupted: bool,
        question_index: int | None,
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
            question_index,
        )
        task = asyncio.ensure_future(self._add_turn(self._last_write, args))
        self._last_write = task
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        try:
            await asyncio.shield(task)
            self.turns_written += 1
        except asyncio.CancelledError:
            raise  # the write itself goes on in its thread and commits
        except Exception as e:
            logger.error(f"Could not store a {role} turn of interview {self._id}: {e}")

    async def _add_turn(self, previous: asyncio.Future | None, args: tuple) -> int:
        """Write after the turn before it: seq follows the conversation, not the threads."""
        if previous is not None:
            await asyncio.wait([previous])
        return await asyncio.to_thread(self._store.add_turn, *args)

    async def flush(self) -> None:
        """Wait for writes still in flight (at session end)."""
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
