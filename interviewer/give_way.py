"""The lines live interviews wait for take turns at the local model; background requests give way.

The process's one llama.cpp server writes the interviews' lines and, when an interview ends,
scores its report (:func:`interviewer.report.local_scores`: a prompt of about a thousand
tokens per competency, 14 s of reading). llama.cpp reads a prompt in steps of up to 2048
tokens and looks at nothing else during a step, and it shares later steps with the lines
written beside it: a line that takes 0.9 s alone took 14 s beside a report being scored
(``benchmarks/scoring_beside_lines.py``), and the interview still going on heard its scripted
line instead. Two lines written at once share the two cores the same way: each at about half
speed, so when two interviews need a line at the same moment both missed their deadline.

Dropping the scoring's request when a line starts does not work with this server: llama.cpp
did not notice that the client had hung up in most probes where other requests were under way
(a line, the slots being read), and read the dropped prompt to its end.

So the writers queue their lines (:class:`LinesInFlight`): one is written at a time, in the
order they were asked for, and the first is done in the time it takes alone. A background
prompt is read a few dozen words at a time (:func:`read_between_lines`): one-token requests on
one slot, each cached for the next, each sent only while no line is queued or written. A line
starting meanwhile waits for one step at most (about a second), not for the whole prompt. The
writers' own prefills (the answer so far, read while the candidate speaks) wait the same way.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

POLL_SECS = 0.05  # how often a background request looks whether the lines are done
TURN_POLL_SECS = 0.01  # how often a queued line looks whether its turn has come
STEP_WORDS = 40  # words of a background prompt read at a time: ~55 tokens, ~0.8 s here


class LinesInFlight:
    """The model lines queued or being written for live interviews on one server.

    One line is written at a time, in the order they were asked for. Any event loop may queue
    one (a poll, not a loop's lock: tests run one server across loops).
    """

    def __init__(self) -> None:
        """No line yet."""
        self._lock = threading.Lock()
        self._queue: list[int] = []  # tickets in arrival order; the first one's line is written
        self._tickets = itertools.count()

    @asynccontextmanager
    async def writing(self, poll_secs: float = TURN_POLL_SECS) -> AsyncIterator[float]:
        """Around one line's request: wait for the lines before it, then hold the model.

        Yields the seconds it waited. The line counts as in flight from the moment it queues
        until its last token is read, or it is cancelled.
        """
        with self._lock:
            ticket = next(self._tickets)
            self._queue.append(ticket)
        try:
            t = time.monotonic()
            while not self._first(ticket):  # noqa: ASYNC110 (see the class)
                await asyncio.sleep(poll_secs)
            yield time.monotonic() - t
        finally:
            with self._lock:
                self._queue.remove(ticket)

    def _first(self, ticket: int) -> bool:
        with self._lock:
            return self._queue[0] == ticket

    @property
    def busy(self) -> bool:
        """Whether a line is queued or being written now."""
        with self._lock:
            return bool(self._queue)

    async def done(
        self, poll_secs: float = POLL_SECS, unless: Callable[[], bool] | None = None
    ) -> None:
        """Until no line is queued or being written (or ``unless()`` is true)."""
        # A poll, not an event: the writers may be on other event loops.
        while self.busy and not (unless is not None and unless()):  # noqa: ASYNC110
            await asyncio.sleep(poll_secs)


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
