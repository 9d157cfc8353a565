"""Right after the LLM slot: a failed or stalled reply becomes a short spoken apology, never silence."""

from __future__ import annotations

import asyncio

from loguru import logger
from pipecat.frames.frames import (
    EagerEndOfTurnCancelFrame,
    ErrorFrame,
    Frame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.llm_service import LLMService
from pipecat.services.openai.llm import OpenAILLMService

from interviewer.local_llm import loopback_http_client, loopback_tls, plain_loopback
from processors.frames import InterviewClosedFrame

# How long a reply may take to start before the candidate hears the apology instead: the one
# setting for both the fallback's watch and the OpenAI client's request timeout.
REPLY_BUDGET_S = 8.0

APOLOGY = "Sorry, I lost my train of thought for a moment. Could you say that again?"
FAREWELL = (
    "I'm sorry, I'm having technical trouble on my side, so we will have to stop here. "
    "Thank you for your time."
)


SENTENCE_END = ".?!…:;"
CLOSERS = "\"')]}»”’*_ \n\t"


def _cut_off(text: str) -> bool:
    """Whether a reply's text stops mid-sentence (a stream that broke without an error).

    An OpenAI-compatible stream that is cut (connection closed, no ``[DONE]``) ends
    quietly in the openai client: the reply just stops. A spoken reply ends a sentence.
    """
    text = text.rstrip(CLOSERS)
    return bool(text) and text[-1] not in SENTENCE_END


class LLMFallbackProcessor(FrameProcessor):
    """Speaks an apology when the LLM's reply fails.

    A reply fails when the LLM service reports an error while answering (pipecat's LLM
    services push an ``ErrorFrame`` *upstream*, which a processor after them never sees,
    so this listens to the service's ``on_error`` event), when it ends without any text
    or mid-sentence (a cut stream ends without an error), or when no text arrives within ``timeout_s`` of the reply starting (a stalled
    endpoint). The apology goes out as LLM text, so the TTS speaks it and the context
    records it; the rest of a reply given up on is dropped. After ``max_failures``
    failures in a row it says goodbye and closes the interview (``InterviewClosedFrame``).
    """

    def __init__(
        self,
        llm: FrameProcessor | None = None,
        *,
        timeout_s: float = REPLY_BUDGET_S,
        max_failures: int = 3,
        apology: str = APOLOGY,
        farewell: str = FAREWELL,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._timeout_s = timeout_s
        self._max_failures = max_failures
        self._apology = apology
        self._farewell = farewell
        self._errors = 0  # errors reported by the LLM so far
        self._errors_seen = 0  # ... of which already answered
        self._in_reply = False
        self._spoke = False
        self._tail = ""  # the end of the reply's text so far
        self._abandoned = False  # timed out: drop the rest of this reply
        self._reply_id = 0
        self._timer: asyncio.Task | None = None
        self.failures = 0  # in a row
        self.apologies = 0
        self.closed = False
        # Only a streamed LLM reply can break off quietly; scripted text is complete.
        self._check_cut_off = isinstance(llm, LLMService)
        if llm is not None:
            llm.add_event_handler("on_error", self._on_llm_error)

    async def _on_llm_error(self, _llm, error: ErrorFrame) -> None:
        self._errors += 1
        if self._abandoned:  # the reply it belongs to was already apologised for
            self._errors_seen = self._errors
            return
        logger.warning(
            f"{self}: the LLM failed ({error.error}); the candidate will hear an apology"
        )

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Watch each LLM reply; add an apology where it failed."""
        await super().process_frame(frame, direction)
        if direction != FrameDirection.DOWNSTREAM:
            await self.push_frame(frame, direction)
            return
        if isinstance(frame, InterruptionFrame):
            await self._reset()
            await self.push_frame(frame, direction)
        elif isinstance(frame, EagerEndOfTurnCancelFrame):
            # A reply started before the turn ended was dropped unheard: an error it met is
            # no failure of a reply the candidate hears.
            if not self._in_reply:
                self._errors_seen = self._errors
            await self.push_frame(frame, direction)
        elif isinstance(frame, LLMFullResponseStartFrame):
            await self._reset()
            self._in_reply, self._reply_id = True, self._reply_id + 1
            self._timer = self.create_task(self._watch(self._reply_id), name=f"{self}::watch")
            await self.push_frame(frame, direction)
        elif isinstance(frame, LLMTextFrame):
            if self._abandoned:
                return
            if self._in_reply:
                self._tail = (self._tail + frame.text)[-64:]
            if frame.text.strip() and self._in_reply and not self._spoke:
                self._spoke = True
                await self._cancel_timer()
            await self.push_frame(frame, direction)
        elif isinstance(frame, LLMFullResponseEndFrame):
            if self._abandoned:  # we already ended this reply with the apology
                self._abandoned = False
                return
            if self._in_reply:
                await self._cancel_timer()
                errored = self._errors > self._errors_seen
                self._errors_seen = self._errors
                self._in_reply = False
                cut = self._check_cut_off and _cut_off(self._tail)
                if errored or not self._spoke or cut:
                    if not errored and self._spoke:
                        logger.warning(
                            f"{self}: the reply stopped mid-sentence ({self._tail[-30:]!r}); apologising"
                        )
                    give_up = await self._fail(partial=self._spoke)
                    await self.push_frame(frame, direction)
                    if give_up:
                        await self.push_frame(InterviewClosedFrame())
                    return
                self.failures = 0
            await self.push_frame(frame, direction)
        else:
            await self.push_frame(frame, direction)

    async def _watch(self, reply_id: int) -> None:
        await asyncio.sleep(self._timeout_s)
        if reply_id != self._reply_id or not self._in_reply or self._spoke:
            return
        logger.warning(f"{self}: no reply text within {self._timeout_s:.1f} s; apologising")
        self._timer = None  # this task is finishing; nothing to cancel
        self._in_reply = False
        self._abandoned = True
        self._errors_seen = self._errors
        give_up = await self._fail(partial=False)
        await self.push_frame(LLMFullResponseEndFrame())
        if give_up:
            await self.push_frame(InterviewClosedFrame())

    async def _fail(self, partial: bool) -> bool:
        """Say the apology (or, too many failures in a row, goodbye) inside the current reply.

        Returns whether to close the interview (after the reply's end frame).
        """
        if self.closed:
            return False
        self.failures += 1
        self.apologies += 1
        give_up = self.failures >= self._max_failures
        text = self._farewell if give_up else self._apology
        if partial:  # after the words that did come, as a new sentence
            text = ("... " if _cut_off(self._tail) else " ") + text
        await self.push_frame(LLMTextFrame(text))
        if give_up:
            self.closed = True
            logger.warning(
                f"{self}: {self.failures} failed replies in a row; closing the interview"
            )
        return give_up

    async def _reset(self) -> None:
        await self._cancel_timer()
        self._in_reply = self._spoke = self._abandoned = False
        self._tail = ""

    async def _cancel_timer(self) -> None:
        if self._timer is not None:
            timer, self._timer = self._timer, None
            await self.cancel_task(timer)

    async def cleanup(self):
        """Stop the watch timer."""
        await super().cleanup()
        await self._cancel_timer()


class BudgetedOpenAILLMService(OpenAILLMService):
    """pipecat's OpenAI-compatible LLM whose requests give up when the fallback does.

    The openai client waits up to 600 s for a response (and retries), so a stalled request
    would go on long after the apology, holding the LLM and the next turn queued behind it.
    Here a reply's request, the client's quick retries of a failed attempt included, has
    ``budget_s`` to start streaming, and each wait for the next streamed chunk is bounded by
    ``budget_s`` too.
    """

    def __init__(self, *, budget_s: float = REPLY_BUDGET_S, **kwargs):
        self.budget_s = budget_s  # before super().__init__, which creates the client
        super().__init__(**kwargs)

    def create_client(self, api_key=None, base_url=None, **kwargs):
        """The client pipecat builds, with the budget as its timeout.

        To a plain-HTTP endpoint on this machine (``LLM_GGUF``'s server, or the user's own), a
        connection per request: llama.cpp's server now and then closes the connection a
        streamed reply came on, and the next request on it fails, which the client's retry
        would turn into a reply 0.5-1 s late (see :func:`interviewer.local_llm.loopback_http_client`).
        """
        client = super().create_client(api_key=api_key, base_url=base_url, **kwargs)
        if not plain_loopback(base_url):
            return client.with_options(timeout=self.budget_s)
        fresh = loopback_http_client(loopback_tls())
        return client.with_options(timeout=self.budget_s, http_client=fresh)

    async def get_chat_completions(self, context: LLMContext):
        """The streamed request pipecat makes, given up (cancelled) once the budget is spent."""
        try:
            return await asyncio.wait_for(super().get_chat_completions(context), self.budget_s)
        except TimeoutError:
            raise TimeoutError(f"no response within the {self.budget_s:g} s budget") from None
