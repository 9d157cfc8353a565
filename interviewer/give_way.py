"""The lines live interviews wait for take turns at the local model; background requests give way.

The process's one llama.cpp server writes the interviews' lines and, when an interview ends,
scores its report (:func:`interviewer.report.local_scores`: a prompt of about a thousand
tokens per competency, 14 s of reading). llama.cpp reads a prompt in steps of up to 2048
tokens and looks at nothing else during a step, and it shares later steps with the lines
written beside it: a line that takes 0.9 s alone took 14 s beside a report being scored
(``benchmarks/scoring_beside_lines.py``), and the interview still going on heard its scripted
line instead. Two lines written at once share the two cores the same way: each at about half
speed, so when two interviews need a line at the same moment both missed their deadline.

Dropping the scoring's request when a line starts does not work while llama.cpp reads its
prompt: it did not notice that the client had hung up in most probes where other requests were
under way (a line, the slots being read), and read the dropped prompt to its end. A streamed
request that is writing is another matter: llama.cpp notices at its next token and stops.

So the writers queue their lines (:class:`LinesInFlight`): one is written at a time, in the
order they were asked for, and the first is done in the time it takes alone. A line written
early, in a pause the candidate may talk on past, comes after every line a turn that has ended
needs, and gives the model way when one queues while it is written: it is dropped (a streamed
request, which llama.cpp stops at once) and queued again, so the needed line waits for a step
of the model (or the early line's prefill under way), not for a whole line. A background prompt
is read a few dozen words at a time (:func:`read_between_lines`): one-token requests on one
slot, each cached for the next, each sent only while no line is queued or written. A line
starting meanwhile waits for one step at most (about a second), not for the whole prompt. What
the model then writes for it (a report's scores: a few seconds) is streamed, and gives way to a
needed line like an early line does (:func:`complete_between_lines`). The writers' own prefills
(the answer so far, read while the candidate speaks) wait the same way.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from loguru import logger

POLL_SECS = 0.05  # how often a background request looks whether the lines are done
TURN_POLL_SECS = 0.01  # how often a queued line looks whether its turn has come
STEP_WORDS = 40  # words of a background prompt read at a time: ~55 tokens, ~0.8 s here
GIVE_WAYS = 3  # times a background completion is dropped for a line before it keeps the model


@dataclass(eq=False)
class LineTicket:
    """One line's place in the queue (:meth:`LinesInFlight.ticket`).

    ``early``: written while the candidate only paused, for a turn that may not end there
    (:meth:`LineWriter.write_early <interviewer.line_writer.LineWriter.write_early>`); it
    gives the model way to a line a turn that has ended needs, until :meth:`LinesInFlight.confirm`.
    """

    order: int
    early: bool


class LinesInFlight:
    """The model lines queued or being written for live interviews on one server.

    One line is written at a time. A line a turn that has ended needs goes first, in the order
    they were asked for; then the early lines (written in a pause, most of which the candidate
    talks on past), in theirs. An early line being written when such a line queues gives the
    model way (:meth:`should_give_way`) and queues again. Any event loop may queue one (a poll,
    not a loop's lock: tests run one server across loops).
    """

    def __init__(self) -> None:
        """No line yet."""
        self._lock = threading.Lock()
        self._queue: list[LineTicket] = []  # in the order the lines were asked for
        self._holder: LineTicket | None = None  # the line being written
        self._order = itertools.count()

    def ticket(self, *, early: bool = False) -> LineTicket:
        """A place for one line (its order among the lines is taken now)."""
        return LineTicket(next(self._order), early)

    def confirm(self, ticket: LineTicket) -> None:
        """The turn ``ticket``'s early line was written for has ended: it is needed now."""
        with self._lock:
            ticket.early = False

    @asynccontextmanager
    async def writing(
        self, ticket: LineTicket | None = None, poll_secs: float = TURN_POLL_SECS
    ) -> AsyncIterator[float]:
        """Around one line's request: wait for its turn, then hold the model.

        Yields the seconds it waited. The line counts as in flight from the moment it queues
        until its last token is read, or it is cancelled. ``ticket``: the line's place (a
        needed line's by default).
        """
        ticket = ticket or self.ticket()
        with self._lock:
            self._queue.append(ticket)
            self._queue.sort(key=lambda t: t.order)
        try:
            t = time.monotonic()
            while not self._take_turn(ticket):  # noqa: ASYNC110 (see the class)
                await asyncio.sleep(poll_secs)
            yield time.monotonic() - t
        finally:
            with self._lock:
                self._queue.remove(ticket)
                if self._holder is ticket:
                    self._holder = None

    def _take_turn(self, ticket: LineTicket) -> bool:
        with self._lock:
            if self._holder is None and self._next() is ticket:
                self._holder = ticket
            return self._holder is ticket

    def _next(self) -> LineTicket:
        """The line to write next: the first needed one, else the first early one."""
        return next((t for t in self._queue if not t.early), self._queue[0])

    def should_give_way(self, ticket: LineTicket) -> bool:
        """Whether ``ticket``'s early line holds the model while a needed line waits for it."""
        with self._lock:
            return (
                self._holder is ticket
                and ticket.early
                and any(not t.early for t in self._queue if t is not ticket)
            )

    @property
    def busy(self) -> bool:
        """Whether a line is queued or being written now."""
        with self._lock:
            return bool(self._queue)

    @property
    def needed(self) -> bool:
        """Whether a line a turn that has ended needs is queued or being written now."""
        with self._lock:
            return any(not t.early for t in self._queue)

    async def done(
        self, poll_secs: float = POLL_SECS, unless: Callable[[], bool] | None = None
    ) -> None:
        """Until no line is queued or being written (or ``unless()`` is true)."""
        # A poll, not an event: the writers may be on other event loops.
        while self.busy and not (unless is not None and unless()):  # noqa: ASYNC110
            await asyncio.sleep(poll_secs)


async def done_unless(task: asyncio.Future, give_up: Callable[[], bool]) -> bool:
    """Wait for ``task`` unless ``give_up()`` turns true first; whether it finished.

    A task given up, or still running when this is cancelled, is cancelled and waited for: a
    streamed request is closed, and llama.cpp stops writing it.
    """
    try:
        while not task.done():
            if give_up():
                return False
            await asyncio.wait({task}, timeout=TURN_POLL_SECS)
        return True
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def complete_between_lines(
    client, lines: LinesInFlight, *, give_ways: int = GIVE_WAYS, **request
) -> str:
    """The text of one completion ``request`` (streamed), written between the needed lines.

    It starts once no line is queued or written; a needed line that queues meanwhile has it
    closed (llama.cpp stops it) and sent again after that line, the prompt still cached, up to
    ``give_ways`` times; then it is written to its end beside the lines.
    """
    for _ in range(give_ways):
        await lines.done()
        task = asyncio.ensure_future(_streamed_text(client, request))
        if await done_unless(task, lambda: lines.needed):
            return task.result()
        logger.debug("A background request gave the model way to a live interview's line")
    await lines.done()
    return await _streamed_text(client, request)


async def _streamed_text(client, request: dict) -> str:
    """The text of ``request``'s completion, streamed (closing the stream closes the request)."""
    stream = await client.chat.completions.create(stream=True, **request)
    parts: list[str] = []
    try:
        async for chunk in stream:
            if chunk.choices:
                parts.append(chunk.choices[0].delta.content or "")
    finally:
        await stream.close()
    return "".join(parts)


async def read_between_lines(
    client,
    model: str,
    text: str,
    lines: LinesInFlight,
    *,
    slot: int | None,
    step_words: int = STEP_WORDS,
) -> None:
    """Have the model read the user message ``text`` into ``slot``'s cache, between lines.

    Each step asks for one token of a longer start of ``text``; llama.cpp keeps what the last
    step read, so each reads about ``step_words`` words. A request for all of ``text`` on the
    same slot then reads only its last words. With ``slot`` None llama.cpp picks a slot by the
    prompt, usually the one that read the steps before.
    """
    words = text.split(" ")
    extra: dict = {"cache_prompt": True}
    if slot is not None:
        extra["id_slot"] = slot
    for end in range(step_words, len(words), step_words):
        await lines.done()
        await client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": " ".join(words[:end])}],
            max_tokens=1,
            temperature=0,
            extra_body=extra,
        )
    await lines.done()
