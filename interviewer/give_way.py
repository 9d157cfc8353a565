"""Background requests to the local model give way to the lines live interviews wait for.

The process's one llama.cpp server writes the interviews' lines and, when an interview ends,
scores its report (:func:`interviewer.report.local_scores`: a prompt of about a thousand
tokens per competency, 14 s of reading). llama.cpp reads a prompt in steps of up to 2048
tokens and looks at nothing else during a step, and it shares later steps with the lines
written beside it: a line that takes 0.9 s alone took 14 s beside a report being scored
(``benchmarks/scoring_beside_lines.py``), and the interview still going on heard its scripted
line instead.

Dropping the scoring's request when a line starts does not work with this server: llama.cpp
did not notice that the client had hung up in most probes where other requests were under way
(a line, the slots being read), and read the dropped prompt to its end.

So the writers count their lines in flight (:class:`LinesInFlight`), and a background prompt
is read a few dozen words at a time (:func:`read_between_lines`): one-token requests on one
slot, each cached for the next, each sent only while no line is being written. A line starting
meanwhile waits for one step at most (about a second), not for the whole prompt.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

POLL_SECS = 0.05  # how often a background request looks whether the lines are done
STEP_WORDS = 40  # words of a background prompt read at a time: ~55 tokens, ~0.8 s here


class LinesInFlight:
    """The model lines being written for live interviews on one server (any thread, any loop)."""

    def __init__(self) -> None:
        """None yet."""
        self._lock = threading.Lock()
        self._writing = 0

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Around one line's request, from before it is sent until its last token is read."""
        with self._lock:
            self._writing += 1
        try:
            yield
        finally:
            with self._lock:
                self._writing -= 1

    @property
    def busy(self) -> bool:
        """Whether a line is being written now."""
        with self._lock:
            return self._writing > 0

    async def done(self, poll_secs: float = POLL_SECS) -> None:
        """Until no line is being written."""
        # A poll, not an event: the writers may be on other threads and event loops.
        while self.busy:  # noqa: ASYNC110
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
