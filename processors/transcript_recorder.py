"""Writes every finished turn to the database the moment it ends.

Listens to pipecat's own turn events on the context aggregators (the aggregated text the
LLM sees) and to the latency observer, and writes from a worker thread so the event loop
never waits on the database. Each turn is committed on its own, in the order the turns ended.

A turn is stored with when it was heard, not when pipecat called it over: a candidate turn
runs from the onset of its speech to the moment they fell silent (the VAD's own frames, less
its start and stop windows), not to the end of the wait that decided they had finished; an
interviewer turn runs from its first audio (the output transport's ``BotStartedSpeakingFrame``)
to the end of its response, or to the moment the candidate's speech cut it off. So the report's
timeline shows who spoke when, and a reply's start less the answer's end is its latency. A reply
that was heard but cut off before its first words reached the context is stored too, as "…".
An interviewer turn is stored as it was said, without the Markdown a cloud model's reply may carry
(:func:`interviewer.speech_text.unmarked`); the LLM's context keeps its own words.

A turn is stored with the plan's question it belongs to: the last question the candidate heard
put to them. A reply that moves the plan on (the cursor is already at the next question) but is
cut off before its question was said leaves the candidate answering the earlier one; the brain
then merges what they go on to say into that answer, and both turns keep its question.

With ``final_words`` (:mod:`interviewer.final_words`), a candidate turn is stored at once with
the words heard live, and once the reply has ended the whole turn is decoded again; better
words replace the stored ones and the user message in the LLM context.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers.user_bot_latency_observer import MeasuredFrom, UserBotLatencyObserver
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair

from interviewer.final_words import FinalWords, TurnRedecoder
from interviewer.plan import PlanCursor
from interviewer.speech_text import unmarked
from interviewer.store import Store, now_utc

T = TypeVar("T")

CUT_OFF = "…"  # the text of a reply the candidate cut off before any of its words were said


def _parse(ts: str | None) -> datetime:
    try:
        value = datetime.fromisoformat(ts) if ts else now_utc()
    except ValueError:
        value = now_utc()
    return value if value.tzinfo else value.replace(tzinfo=now_utc().tzinfo)


def _wall(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class TranscriptRecorder:
    """Persists one session's turns; attach it to the session's aggregators and observer."""

    def __init__(
        self,
        store: Store,
        interview_id: str,
        cursor: PlanCursor,
        final_words: FinalWords | None = None,
        hotwords: str | None = None,
    ):
        self._store = store
        self._id = interview_id
        self._cursor = cursor
        self._redecoder = (
            TurnRedecoder(final_words, self.final_words, hotwords) if final_words else None
        )
        self._context = None  # the LLM context, whose user messages get the better words
        self._notify: Callable[[dict], Awaitable[None]] | None = None  # the page's messages
        self._latency_ms: int | None = None
        self._asked: int | None = None  # the question the candidate last heard put to them
        self._pending: set[asyncio.Future] = set()
        self._last_write: asyncio.Future | None = None
        self.turns_written = 0
        # When the candidate was heard: the latest onset and fall into silence of their voice.
        self._voice_onset: datetime | None = None
        self._voice_end: datetime | None = None
        self._voice_on = False
        self._turn_onset: datetime | None = None
        self._reply_audible: datetime | None = None  # the first audio of the reply in progress

    def stretch_heard(self, pcm: bytes, text: str) -> None:
        """A stretch of the candidate's speech and its live words (from the STT service)."""
        if self._redecoder is not None:
            self._redecoder.stretch(pcm, text)

    def attach(
        self,
        aggregators: LLMContextAggregatorPair,
        latency: UserBotLatencyObserver,
        notify: Callable[[dict], Awaitable[None]] | None = None,
    ) -> None:
        """Subscribe to the turn and latency events; ``notify`` tells the page of better words."""
        user, assistant = aggregators.user(), aggregators.assistant()
        self._context = user.context
        self._notify = notify

        @user.event_handler("on_before_process_frame")
        async def on_user_frame(_agg, frame):
            # The user aggregator runs the VAD: its frames pass here before the turn logic.
            if isinstance(frame, VADUserStartedSpeakingFrame):
                self._voice_onset = _wall(frame.timestamp - frame.start_secs)
                self._voice_on = True
            elif isinstance(frame, VADUserStoppedSpeakingFrame):
                self._voice_end = _wall(frame.timestamp - frame.stop_secs)
                self._voice_on = False

        @user.event_handler("on_user_turn_started")
        async def on_user_turn_started(_agg, _strategy):
            self._turn_onset, self._voice_onset = self._voice_onset, None

        @user.event_handler("on_user_turn_stopped")
        async def on_user_turn_stopped(_agg, _strategy, message):
            onset, self._turn_onset, self._voice_onset = self._turn_onset, None, None
            if self._redecoder is not None:
                self._redecoder.turn_ended()
            if message.content and message.content.strip():
                question = self._cursor.index if self._asked is None else self._asked
                started = min(onset or _parse(message.timestamp), _parse(message.timestamp))
                # Still talking (a turn called over on its words alone): it ends now.
                end = None if self._voice_on else self._voice_end
                ended = end if end is not None and end > started else None
                seq = await self._write(
                    "candidate", message.content, started, False, question, ended=ended
                )
                if seq is not None and self._redecoder is not None:
                    self._redecoder.turn_stored(seq, message.content)

        @assistant.event_handler("on_assistant_turn_started")
        async def on_assistant_turn_started(_agg):
            self._reply_audible = None

        @assistant.event_handler("on_before_process_frame")
        async def on_assistant_frame(_agg, frame):
            if isinstance(frame, BotStartedSpeakingFrame) and self._reply_audible is None:
                self._reply_audible = now_utc()

        @assistant.event_handler("on_assistant_turn_stopped")
        async def on_assistant_turn_stopped(_agg, message):
            audible, self._reply_audible = self._reply_audible, None
            if self._redecoder is not None:
                self._redecoder.reply_done()  # the candidate's words can be decoded again now
            text = await unmarked(message.content or "", "sentence")
            if message.interrupted and audible is not None and not (text and text.strip()):
                text = CUT_OFF  # heard, but cut off before its first words reached the context
            if text and text.strip():
                question = self._heard(text, message.interrupted)
                latency, self._latency_ms = self._latency_ms, None
                # From its first audio; a reply already under way (no new start of the voice)
                # or cut off before it was heard keeps the start of its turn.
                started = max(audible or _parse(message.timestamp), _parse(message.timestamp))
                await self._write(
                    "interviewer",
                    text,
                    started,
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
        started: datetime,
        interrupted: bool,
        question_index: int | None,
        latency: int | None = None,
        ended: datetime | None = None,
    ) -> int | None:
        """Store a turn after those before it; its seq, or None if it could not be stored."""
        ended = ended or now_utc()
        args = (
            self._id,
            role,
            " ".join(text.split()),
            min(started, ended),
            ended,
            latency,
            interrupted,
            question_index,
        )
        task = self._chain(self._store.add_turn, *args)
        try:
            seq = await asyncio.shield(task)
            self.turns_written += 1
            return seq
        except asyncio.CancelledError:
            raise  # the write itself goes on in its thread and commits
        except Exception as e:
            logger.error(f"Could not store a {role} turn of interview {self._id}: {e}")
            return None

    async def final_words(self, seq: int, live: str, final: str) -> None:
        """A candidate turn decoded again: store its better words, in the context and the page too."""
        text = " ".join(final.split())
        if self._notify is not None:
            try:
                await self._notify({"type": "final-words", "live": live, "text": text})
            except Exception as e:  # the page may be gone; the stored words still change
                logger.debug(f"Could not tell the page turn {seq}'s final words: {e}")
        if self._context is not None:
            for message in reversed(self._context.get_messages()):
                if not isinstance(message, dict):
                    continue
                if message.get("role") == "user" and message.get("content") == live:
                    message["content"] = text
                    break
        task = self._chain(self._store.update_turn_text, self._id, seq, text)
        try:
            await asyncio.shield(task)
            logger.debug(f"Turn {seq} of interview {self._id} decoded again: {text!r}")
        except asyncio.CancelledError:
            raise
        except Exception as e:
            logger.error(f"Could not store the final words of turn {seq} of {self._id}: {e}")

    def _chain(self, write: Callable[..., T], *args) -> asyncio.Future[T]:
        """Run ``write(*args)`` in a thread once every write before it is done.

        So seq follows the conversation, not the threads; :meth:`flush` awaits the task too.
        """
        previous = self._last_write

        async def after_previous() -> T:
            if previous is not None:
                await asyncio.wait([previous])
            return await asyncio.to_thread(write, *args)

        task = asyncio.ensure_future(after_previous())
        self._last_write = task
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return task

    async def flush(self, final_words_secs: float = 3.0) -> None:
        """Wait for writes still in flight (at session end), and decodes up to ``final_words_secs``."""
        if self._redecoder is not None:
            await self._redecoder.settle(final_words_secs)
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
