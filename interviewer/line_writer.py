"""One session's writer of model lines, against the process's local llama.cpp server.

It keeps the session's slot warm so that the candidate's turn ending leaves the model only a
few words to read: the next question's prompt head when the interviewer asks it, and each
stretch of the answer as Whisper transcribes it (llama.cpp reuses the longest cached prefix of
a slot). When the pause under way may be the end of the turn, the line is written at once,
speculatively (:meth:`LineWriter.write_early`): if the turn does end there it is ready, and if
the candidate goes on it is thrown away. The turn's judge says when (the moment it starts early
replies, a lead before the turn would end); without one, a stretch that reads as a finished
sentence does (``write_on_finished_sentence``). :meth:`LineWriter.write` gives up at a deadline
(a line whose tokens are still coming then gets a moment more to end): a late, failed or
rule-breaking line is ``None`` and the caller speaks its scripted line, and the log says where
a late one was (:class:`LineProgress`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from loguru import logger
from openai import AsyncOpenAI

from interviewer.give_way import TURN_POLL_SECS, LinesInFlight, LineTicket, done_unless
from interviewer.lines import (
    LinePrompt,
    Task,
    first_clause,
    judge_line,
    line_prompt,
    looks_like_injection,
)
from interviewer.slot_heads import SlotHeads
from interviewer.turn_text import text_verdict, words

# How a line is asked for (also benchmarks/line_prompts.py). A fixed seed: the same answer gets
# the same line (the temperature still varies wording across answers), so replays and tests are
# repeatable.
LINE_TEMPERATURE = 0.2
LINE_MAX_TOKENS = 48
LINE_SEED = 7


@dataclass
class LineStats:
    """What the writer did in one session (for logs, tests and benchmarks)."""

    asked: int = 0
    written: int = 0
    late: int = 0
    rejected: int = 0
    failed: int = 0
    skipped: int = 0  # the answer tried to instruct the interviewer
    cut_off: int = 0  # the turn went on (or the session ended) while its line was written
    prefills: int = 0
    speculated: int = 0  # lines started while the candidate paused
    speculation_used: int = 0  # ... that were the turn's line
    queued: int = 0  # lines that waited for another interview's line to be written first
    gave_way: int = 0  # early lines dropped for another interview's needed line, queued again
    head_restored: bool = False  # the slot started from the shared system message's reading
    prefill_read: list[int | None] = field(default_factory=list)  # tokens each prefill read
    seconds: list[float] = field(default_factory=list)
    late_at: list[str] = field(default_factory=list)  # where each late line was (LineProgress)
    broke: list[str] = field(default_factory=list)  # the rule each rejected line broke
    finished_after_deadline: int = 0  # lines whose tokens were coming at the deadline, used

    @property
    def needed(self) -> int:
        """Lines asked for whose turn was answered: the ones the model could have written."""
        return self.asked - self.cut_off


@dataclass
class LineProgress:
    """Where one line is on its way: for saying why a late line was late.

    Times are ``time.monotonic()`` instants; None until the line gets there.
    """

    started: float = field(default_factory=time.monotonic)
    model_at: float | None = None  # its turn at the model began (after any other interview's)
    writing_at: float | None = None  # its prompt was sent (after the slot's prefill of the answer)
    first_token_at: float | None = None
    last_token_at: float | None = None
    tokens: int = 0  # chunks with text so far (llama.cpp streams one token a chunk)

    def writing(self, within: float) -> bool:
        """Whether its tokens are coming: the last one came less than ``within`` seconds ago."""
        last = self.last_token_at
        return last is not None and time.monotonic() - last < within

    def where(self, now: float) -> str:
        """Where the line is at ``now``, and how long each step took, in words."""
        steps = [f"asked {now - self.started:.2f}s ago"]
        if self.model_at is None:
            return ", ".join([*steps, "still waiting for another interview's line"])
        if self.model_at - self.started >= 0.01:
            steps.append(f"waited {self.model_at - self.started:.2f}s for another interview's line")
        if self.writing_at is None:
            return ", ".join([*steps, f"reading the answer for {now - self.model_at:.2f}s"])
        if self.writing_at - self.model_at >= 0.01:
            steps.append(f"read the answer in {self.writing_at - self.model_at:.2f}s")
        if self.first_token_at is None:
            return ", ".join(
                [*steps, f"no token yet {now - self.writing_at:.2f}s after its prompt"]
            )
        return ", ".join(
            [
                *steps,
                f"first token {self.first_token_at - self.writing_at:.2f}s after its prompt",
                f"{self.tokens} tokens in {now - self.first_token_at:.2f}s since",
            ]
        )


class LineWriter:
    """Writes one-sentence lines with the local model for one session."""

    def __init__(
        self,
        client: AsyncOpenAI,
        model: str,
        system: str,
        *,
        slot: int | None = None,
        heads: SlotHeads | None = None,
        head: str | None = None,
        temperature: float = LINE_TEMPERATURE,
        max_tokens: int = LINE_MAX_TOKENS,
        write_on_finished_sentence: bool = True,
        in_flight: LinesInFlight | None = None,
    ):
        """A writer on ``slot`` of the local server.

        ``write_on_finished_sentence``: write the line as soon as a stretch reads finished (for
        when nothing calls :meth:`write_early`). ``in_flight``: the server's queue of lines, in
        which this writer's lines take their turn and which its prefills and background requests
        give way to.
        """
        self._client = client
        self._model = model
        self._system = system
        self._slot = slot
        # The reading of the system message's ``head`` (all of it by default), shared with the
        # other sessions' slots (None: not shared).
        self._heads = heads if slot is not None else None
        self._head = system if head is None else head
        if not system.startswith(self._head):
            raise ValueError("the shared head must open the system message")
        self._temperature = temperature
        self._max_tokens = max_tokens
        self._on_finished_sentence = write_on_finished_sentence
        self._in_flight = in_flight
        self._question = ""
        self._hint = ""  # where a follow-up to ``_question`` should go (the planned question's)
        self._task: Task = "follow_up"
        self._heard: list[str] = []
        self._prefill_task: asyncio.Task | None = None
        self._prefill_wanted = False
        # A line being written during a pause: the turn it is for (task, question, the answer's
        # words), the asyncio task writing it, its place in the server's queue of lines and
        # where it is on its way.
        self._speculation: tuple[tuple, asyncio.Task, LineTicket | None, LineProgress] | None = None
        self._has_turn = False  # one of this writer's lines holds the model: its prefill goes
        self.stats = LineStats()
        self.last_timings: dict | None = None  # llama.cpp's figures for the last line

    @property
    def slot(self) -> int | None:
        """The server slot this session's prompts are cached in (None: any)."""
        return self._slot

    def _extra(self) -> dict:
        extra: dict = {"cache_prompt": True, "seed": LINE_SEED}
        if self._slot is not None:
            extra["id_slot"] = self._slot
        return extra

    # --- keeping the slot warm -----------------------------------------------------------

    def expect_answer(self, question: str, task: Task, hint: str = "") -> None:
        """The interviewer just asked ``question``; the next line will be ``task``. Prefill its head.

        ``hint``: where a follow-up to it should go (the planned question's ``follow_up_hint``).
        """
        self._question, self._task, self._heard, self._hint = question, task, [], hint
        self._drop_speculation()
        self._schedule_prefill()

    def heard(self, text: str) -> None:
        """A stretch of the candidate's answer was transcribed: prefill the answer so far.

        With ``write_on_finished_sentence``, a stretch that reads as a finished sentence gets its
        line written at once instead (speculatively).
        """
        if not text.strip():
            return
        self._heard.append(text.strip())
        self._drop_speculation()
        if self._on_finished_sentence and text_verdict(text) == "complete":
            self.write_early()
        if self._speculation is None:
            self._schedule_prefill()

    def write_early(self) -> None:
        """The turn may end in this pause: write the line for the answer so far now.

        It is the turn's line if the turn ends on these words (:meth:`write` takes it), and is
        dropped when the candidate goes on (:meth:`resumed`, or new words).
        """
        if not self._question or not self._heard:
            return
        answer = " ".join(self._heard)
        key = (self._task, self._question, _key(answer))
        if self._speculation is not None and self._speculation[0] == key:
            return  # already under way
        self._drop_speculation()
        ticket = self._in_flight.ticket(early=True) if self._in_flight is not None else None
        prompt, progress = self._prompt(self._task, self._question, answer), LineProgress()
        task = asyncio.get_running_loop().create_task(self._complete(prompt, progress, ticket))
        # A failure is reported by write() if the line is used; otherwise it is of no interest.
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._speculation = (key, task, ticket, progress)
        self.stats.speculated += 1

    def resumed(self) -> None:
        """The candidate speaks again: a line written for the pause is not needed."""
        self._drop_speculation()

    def _prompt(self, task: Task, question: str, answer: str) -> LinePrompt:
        """The line's prompt; the hint given with ``question`` by :meth:`expect_answer`, if it was."""
        hint = self._hint if question == self._question else ""
        return line_prompt(self._system, task, question, answer, hint=hint)

    def _drop_speculation(self) -> None:
        if self._speculation is not None:
            self._speculation[1].cancel()
            self._speculation = None

    async def _await_prefill(self) -> None:
        if self._prefill_task is not None and not self._prefill_task.done():
            await asyncio.shield(self._prefill_task)

    def _schedule_prefill(self) -> None:
        self._prefill_wanted = True
        if self._prefill_task is None or self._prefill_task.done():
            self._prefill_task = asyncio.get_running_loop().create_task(self._prefill_loop())

    async def _prefill_loop(self) -> None:
        heads, self._heads = self._heads, None  # the slot's first prefill: start from the head
        if heads is not None:
            self.stats.head_restored = await heads.restore(self._slot, self._head)
        while self._prefill_wanted:
            # Another interview's line first (this prefill would slow it), unless this writer's
            # own line has the model and waits for it.
            if self._in_flight is not None and self._in_flight.busy:
                t = time.monotonic()
                await self._in_flight.done(TURN_POLL_SECS, unless=lambda: self._has_turn)
                if (waited := time.monotonic() - t) >= TURN_POLL_SECS:
                    logger.debug(f"A prefill waited {waited:.2f}s for another interview's line")
            self._prefill_wanted = False
            prompt = self._prompt(self._task, self._question, " ".join(self._heard))
            messages = prompt.messages[:2]  # the answer so far; the acknowledgement's start later
            try:
                r = await self._client.chat.completions.create(
                    model=self._model,
                    messages=messages,
                    max_tokens=1,
                    temperature=0,
                    extra_body=self._extra(),
                )
                self.stats.prefills += 1
                self.stats.prefill_read.append(
                    ((r.model_extra or {}).get("timings") or {}).get("prompt_n")
                )
            except Exception as e:  # a prefill only saves time; the line itself reports failures
                logger.debug(f"prefill failed: {e}")
                return
            if heads is not None and not self.stats.head_restored:  # the first to read this head
                await heads.save(self._slot, self._head)
                heads = None

    async def close(self) -> None:
        """Stop a prefill or speculation still running, and close the client (the writer's own)."""
        self._drop_speculation()
        task, self._prefill_task = self._prefill_task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        # Its connections, now: left to the garbage collector, a session's client lives on
        # until a cycle collection, and closes from its finalizer.
        await self._client.close()
        st = self.stats
        if st.asked or st.prefills:
            logger.info(
                f"Model lines: {st.written} of {st.needed} written ({st.finished_after_deadline} "
                f"finished after the deadline; {st.late} late, {st.rejected} "
                f"broke a rule, {st.failed} failed, {st.skipped} not asked: the answer instructed); "
                f"{st.cut_off} more cut off by the candidate; {st.queued} waited for another "
                f"interview's line; {st.gave_way} gave way; {st.prefills} prefills reading "
                f"{sum(n or 0 for n in st.prefill_read)} tokens; {st.speculated} started during "
                f"pauses, {st.speculation_used} used"
            )

    # --- the line ------------------------------------------------------------------------

    async def write(
        self, task: Task, question: str, answer: str, deadline: float, finish_secs: float = 0.0
    ) -> str | None:
        """The model's line for ``task``, checked.

        None when it is late (``deadline`` is a ``time.monotonic()`` instant), fails, breaks a
        rule, or the answer tries to instruct the interviewer. A line whose tokens are still
        coming at the deadline gets up to ``finish_secs`` more to end (:meth:`_ready`).
        """
        self.stats.asked += 1
        if looks_like_injection(answer):
            self.stats.skipped += 1
            logger.info("The answer tries to instruct the interviewer; speaking the scripted line")
            return None
        self._prefill_wanted = False
        t = time.monotonic()
        taken = self._take_speculation(task, question, answer)
        if taken is not None:
            pending, progress = taken
        else:
            progress = LineProgress()
            prompt = self._prompt(task, question, answer)
            pending = asyncio.ensure_future(self._complete(prompt, progress))
        try:
            ready = await self._ready(pending, progress, deadline, finish_secs)
        except asyncio.CancelledError:
            pending.cancel()
            self.stats.cut_off += 1
            raise
        if not ready:
            pending.cancel()
            self.stats.late += 1
            self.stats.seconds.append(float("inf"))
            now = time.monotonic()
            where = progress.where(now)
            self.stats.late_at.append(where)
            logger.info(
                f"The model's {task} line was not ready in {now - t:.2f}s ({where}); "
                "scripted line instead"
            )
            return None
        try:
            text = pending.result()
        except Exception as e:
            self.stats.failed += 1
            logger.warning(f"The local model failed ({e}); scripted line instead")
            return None
        took = time.monotonic() - t
        self.stats.seconds.append(took)
        line, rule = (
            judge_line(text, task, answer, question)
            if text is not None
            else (None, "several lines, or cut off at the token cap")
        )
        logger.info(
            f"Model {task} line in {took:.2f}s ({progress.where(time.monotonic())}; "
            f"{self.last_timings}): {text!r}"
        )
        if line is None:
            self.stats.rejected += 1
            self.stats.broke.append(rule)
            logger.info(
                f"The model's {task} line broke a rule ({rule}: {text!r}); scripted line instead"
            )
            return None
        self.stats.written += 1
        return line

    async def _ready(
        self, pending: asyncio.Future, progress: LineProgress, deadline: float, finish_secs: float
    ) -> bool:
        """Whether ``pending`` ended by ``deadline``, or in ``finish_secs`` more while writing.

        ``progress`` is its own (not that of a line started since, which may be queued behind it).

        A line whose last token came within ``finish_secs`` is nearly always a few tokens from its
        end (they are one sentence, 10-20 tokens), so it gets that long to finish: a short beat of
        silence for the model's line rather than the script's. One still reading the answer, or
        waiting for the model, does not: it could not end in time.
        """
        await asyncio.wait({pending}, timeout=max(0.0, deadline - time.monotonic()))
        if pending.done():
            return True
        if finish_secs <= 0 or not progress.writing(finish_secs):
            return False
        await asyncio.wait({pending}, timeout=finish_secs)
        if pending.done():
            self.stats.finished_after_deadline += 1
            return True
        return False

    def _take_speculation(
        self, task: Task, question: str, answer: str
    ) -> tuple[asyncio.Task, LineProgress] | None:
        """The line written during the pause and its progress, if it was for exactly this turn."""
        speculation, self._speculation = self._speculation, None
        if speculation is None:
            return None
        key, pending, ticket, progress = speculation
        if key == (task, question, _key(answer)) and not pending.cancelled():
            self.stats.speculation_used += 1
            if ticket is not None:
                self._in_flight.confirm(ticket)  # needed now: it no longer gives way
            return pending, progress
        pending.cancel()
        return None

    async def _complete(
        self, prompt: LinePrompt, progress: LineProgress, ticket: LineTicket | None = None
    ) -> str | None:
        """The line, in its turn at the model (see :mod:`interviewer.give_way`).

        ``progress`` records where it is on its way.

        A prefill of this slot's prompt goes first, in the same turn: the line reuses its cache.
        ``ticket``: an early line's place; it gives the model way to another interview's needed
        line (dropped and queued again) until it is confirmed.
        """
        if self._in_flight is None:
            progress.model_at = time.monotonic()
            await self._await_prefill()
            return await self._stream(prompt, progress)
        lines, ticket = self._in_flight, ticket or self._in_flight.ticket()
        while True:
            async with lines.writing(ticket) as waited:
                if waited >= TURN_POLL_SECS:
                    self.stats.queued += 1
                    logger.debug(f"The line waited {waited:.2f}s for another interview's line")
                self._has_turn = True
                progress.model_at = time.monotonic()
                try:
                    await self._await_prefill()
                    stream = asyncio.ensure_future(self._stream(prompt, progress))
                    if await done_unless(stream, lambda: lines.should_give_way(ticket)):
                        return stream.result()
                finally:
                    self._has_turn = False
            self.stats.gave_way += 1
            logger.debug("An early line gave the model way to another interview's needed line")

    async def _stream(self, prompt: LinePrompt, progress: LineProgress) -> str | None:
        """Stream the line; stop at its first newline (a second paragraph is never a good sign)."""
        progress.writing_at, progress.tokens = time.monotonic(), 0
        progress.first_token_at = progress.last_token_at = None
        stream = await self._client.chat.completions.create(
            model=self._model,
            messages=prompt.messages,
            max_tokens=self._max_tokens,
            temperature=self._temperature,
            stream=True,
            extra_body=self._extra() | ({"logit_bias": prompt.logit_bias} if prompt.avoid else {}),
        )
        parts: list[str] = []
        finish = None
        self.last_timings = None
        clause_stop = bool(prompt.prefix)  # an acknowledgement ends at its first clause
        try:
            async for chunk in stream:
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                parts.append(choice.delta.content or "")
                if choice.delta.content:
                    progress.tokens += 1
                    progress.last_token_at = time.monotonic()
                    progress.first_token_at = progress.first_token_at or progress.last_token_at
                finish = choice.finish_reason or finish
                timings = (chunk.model_extra or {}).get("timings")
                if timings:
                    self.last_timings = {
                        k: round(v) for k, v in timings.items() if isinstance(v, (int, float))
                    }
                so_far = "".join(parts)
                if "\n" in so_far.strip():
                    return None  # more than one line: it broke the rules
                if clause_stop and first_clause(so_far):
                    parts, finish = [first_clause(so_far) or so_far], "clause"
                    break
        finally:
            await stream.close()
        if finish == "length":
            return None  # cut off by the token cap: not a whole sentence
        text = "".join(parts)
        if prompt.prefix and not text.lstrip().startswith(prompt.prefix):
            text = f"{prompt.prefix}{' ' if text[:1].isalnum() else ''}{text}"
        return text


def _key(answer: str) -> tuple[str, ...]:
    """An answer as its words, for telling whether a speculated line is for this turn."""
    return tuple(w.lower() for w in words(answer))
