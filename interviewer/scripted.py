"""The offline scripted interviewer: follows the plan, acknowledges, follows up.

With ``LLM=scripted``, and as the plan under the local model (``LLM=local``, which writes the
follow-up questions and acknowledgements; see :mod:`interviewer.lines`), this decides what the
interviewer says next from what the candidate said: requests to repeat or skip, a check that
the interviewer hears them, short or hesitant answers, keywords that trigger the plan's
follow-ups, and terms from the candidate's resume or job description. The clock lives in
the shared :class:`~interviewer.plan.PlanCursor`, kept by the conductor. It is plain,
deterministic Python, and the UI says so.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, fields
from typing import Literal

from interviewer.plan import CandidateContext, InterviewMode, PlanCursor
from interviewer.turn_text import words as answer_words

Emotion = Literal["neutral", "encouraging", "concerned"]

_REPEAT = re.compile(
    r"\b(repeat( that| the question)?|say (that|it) again|pardon|come again|didn'?t (catch|hear)|one more time)\b",
    re.I,
)
# "Can you hear me?", "Hello? Are you still there?": the line, not the answer, is in doubt.
# ("...you hear me": a stretch cut after "Sorry," was heard "Sorry. And you hear me.")
_HEARING = re.compile(
    r"\b(you (still )?hear me|are you (still )?(there|with me)|"
    r"is (this|my (mic|microphone)) working)\b|\bhello\?",
    re.I,
)
_SKIP = re.compile(r"\b(skip( this| that| it)?|next question|pass on this|move on)\b", re.I)
_HESITANT = re.compile(
    r"\b(i don'?t know|not sure|no idea|i'?m not certain|i can'?t remember|don'?t remember)\b", re.I
)
_NO_QUESTIONS = re.compile(r"\b(no(pe)?|not really|nothing|i'?m good|that'?s all|all good)\b", re.I)
FILLERS = re.compile(r"\b(um+|uh+|er+|erm|hmm+|you know|kind of|sort of)\b", re.I)

_ACKS = ("Thanks.", "Got it.", "Okay, thank you.", "Great, thanks.", "I see.", "Understood.")
HEARD_YOU = "Yes, I can hear you."  # to a check on the line; not an answer
OVER_GREETING_ACK = "Okay."  # fits a hello or an early start alike
_GENERIC_PROBE = "Could you walk me through a specific example of that?"
# The short sentences replies open with, said once at start-up (see ModelBank.load).
_REPEATING = "Of course."  # before the question again, asked for
_NO_QUESTIONS_ACK = "Alright."  # the candidate has no questions at the wrap-up
OPENINGS = (*_ACKS, OVER_GREETING_ACK, HEARD_YOU, _REPEATING, _NO_QUESTIONS_ACK, "Hello.")


ReplyKind = Literal["follow_up", "advance", "other"]


def is_hearing_check(said: str) -> bool:
    """Whether ``said`` asks if the line works ("Can you hear me?"), not answers anything."""
    # Up to 10 words: a hello and an apology around the check, as misheard live ("Hello! Sorry,
    # can you hear me all right?" came as "A little, sorry, And you hear me all right.").
    return bool(_HEARING.search(said)) and len(answer_words(said)) <= 10


def over_greeting_ack(said: str) -> str:
    """How a repeat of the first question opens after ``said`` over the greeting.

    A check on the line is told it is heard; anything else (a hello, an early start) gets an
    "Okay.".
    """
    return HEARD_YOU if is_hearing_check(said) else OVER_GREETING_ACK


@dataclass(frozen=True)
class Reply:
    """What the interviewer says next, and how it feels about the last answer.

    ``kind`` says where a language model may write part of it: a ``follow_up`` is
    ``ack`` + a follow-up question (``body`` is the scripted one); an ``advance`` is ``ack`` +
    the next planned question or the wrap-up (``body``, always said word for word). Either
    way ``text`` is the whole scripted reply.
    """

    text: str
    emotion: Emotion
    question_index: int  # 0-based index of the question now open; len(questions) when past them
    finished: bool = False
    kind: ReplyKind = "other"
    ack: str = ""
    body: str = ""


class ScriptedInterviewer:
    """Decides the scripted interviewer's next words; the plan state is the shared cursor."""

    def __init__(
        self,
        mode: InterviewMode,
        candidate: CandidateContext | None = None,
        cursor: PlanCursor | None = None,
        clock=time.monotonic,
        *,
        open_follow_ups: bool = False,
        acks: tuple[str, ...] = _ACKS,
    ):
        """Decide with the shared ``cursor``.

        ``open_follow_ups``: follow up on any substantial answer while the question's budget lasts
        (a model writes the question), not only on the plan's keywords. ``acks``: the
        acknowledgements, in turn.
        """
        self.mode = mode
        self.open_follow_ups = open_follow_ups
        self._acks = acks
        self.candidate = candidate or CandidateContext()
        self.cursor = cursor or PlanCursor(mode)
        self._clock = clock
        self._ack_turn = 0
        self._context_terms = self.candidate.terms()

    # Convenience views of the cursor (used by tests and the brain).
    @property
    def index(self) -> int:
        """0-based index of the open question."""
        return self.cursor.index

    @property
    def follow_ups_used(self) -> int:
        """Follow-ups asked on the open question."""
        return self.cursor.follow_ups_used

    @property
    def finished(self) -> bool:
        """Whether the interview has closed."""
        return self.cursor.phase == "closed"

    @property
    def total(self) -> int:
        """Number of planned questions."""
        return self.cursor.total

    def opening(self) -> Reply:
        """Greeting, introduction and the first question."""
        self.cursor.start(self._clock())
        name = f", {self.candidate.name}" if self.candidate.name else ""
        role = f" for the {self.candidate.role} role" if self.candidate.role else ""
        text = (
            f"Hello{name}. I'm {self.mode.interviewer_name}. {self.mode.intro.format(role=role)} "
            f"{self.mode.questions[0].text}"
        )
        return Reply(text=text, emotion="encouraging", question_index=0)

    def first_question_missed(self, spoken: str) -> bool:
        """Whether the candidate talked over the opening before its first question was said.

        ``spoken`` is what was actually said of the interviewer's last reply (the assistant
        context, cut where the candidate interrupted). True while the first question is open,
        unanswered, and its words were never said in full.
        """
        cursor = self.cursor
        if cursor.phase != "questions" or cursor.index != 0 or cursor.answers:
            return False
        question = " ".join(answer_words(self.mode.questions[0].text)).lower()
        return question not in " ".join(answer_words(spoken)).lower()

    def ask_first_again(self, said: str = "") -> Reply:
        """A short acknowledgement of ``said`` over the greeting, then the first question.

        The candidate's words are not an answer: the cursor stays on the first question, whose
        clock starts again now that it is heard.
        """
        self.cursor.question_started_at = self._clock()
        ack = over_greeting_ack(said)
        body = self.mode.questions[0].text
        return self._reply(f"{ack} {body}", "encouraging", ack=ack, body=body)

    def snapshot(self) -> dict:
        """The plan's state, to take a reply back with :meth:`restore` (the cursor stays shared)."""
        state = {f.name: getattr(self.cursor, f.name) for f in fields(self.cursor)}
        state["question_times"] = dict(self.cursor.question_times)
        return state

    def restore(self, snap: dict) -> None:
        """Go back to a :meth:`snapshot` of the plan.

        The acknowledgements go on: the one the candidate talked over was heard, and the next
        reply opens with another ("Right, that's helpful." twice in a row sounded canned).
        """
        for name, value in snap.items():
            setattr(self.cursor, name, value)

    def _ack(self) -> str:
        ack = self._acks[self._ack_turn % len(self._acks)]
        self._ack_turn += 1
        return ack

    def _reply(
        self, text: str, emotion: Emotion, kind: ReplyKind = "other", ack: str = "", body: str = ""
    ) -> Reply:
        return Reply(
            text, emotion, self.cursor.index, finished=self.finished, kind=kind, ack=ack, body=body
        )

    def _advance(self, lead: str, emotion: Emotion, kind: ReplyKind = "other") -> Reply:
        self.cursor.advance(self._clock())
        if self.cursor.phase == "wrap_up" and self.cursor.wrap_up_now:
            self.cursor.advance(self._clock())  # out of time: no candidate questions
        if self.cursor.phase == "questions":
            body = self.mode.questions[self.cursor.index].text
        elif self.cursor.phase == "wrap_up":
            body = self.mode.wrap_up
        else:
            body = self.mode.closing
        return self._reply(f"{lead} {body}", emotion, kind, ack=lead, body=body)

    @property
    def asking(self) -> str:
        """The planned question the candidate is answering now ("" outside the questions)."""
        q = self.cursor.question
        return q.text if q else ""

    @property
    def follow_up_hint(self) -> str:
        """Where a model's follow-up to the open question should go ("" for no hint)."""
        q = self.cursor.question
        return q.follow_up_hint if q else ""

    @property
    def next_answer_follows_up(self) -> bool:
        """Whether a substantial next answer would get a follow-up (the open question's budget lasts)."""
        q = self.cursor.question
        return q is not None and self.cursor.follow_ups_used < q.max_follow_ups

    def move_on(self) -> Reply:
        """No answer came (long silence): move to the next question."""
        if self.cursor.phase == "closed":
            return self._reply(self.mode.closing, "neutral")
        return self._advance("Let's move on to the next one.", "neutral")

    def reply(self, answer: str) -> Reply:
        """Decide what to say after the candidate's turn ``answer``."""
        cursor = self.cursor
        if cursor.phase == "closed":
            return self._reply(self.mode.closing, "neutral")
        answer = answer.strip()
        words = answer_words(answer)
        if is_hearing_check(answer) and not cursor.wrap_up_now:
            return self._reply(f"{HEARD_YOU} {self._open_prompt()}", "neutral")
        if cursor.phase == "wrap_up":
            if _NO_QUESTIONS.search(answer) and len(words) <= 6:
                return self._advance(_NO_QUESTIONS_ACK, "encouraging")
            return self._advance(self.mode.candidate_question_answer, "encouraging")
        if cursor.wrap_up_now:
            cursor.advance(self._clock())  # close the open question
            cursor.phase = "closed"
            return self._reply(f"Thank you, we're out of time. {self.mode.closing}", "neutral")

        question = self.mode.questions[cursor.index]
        cursor.answers += 1
        if _REPEAT.search(answer) and len(words) <= 14:
            return self._reply(f"{_REPEATING} {question.text}", "neutral")
        if _SKIP.search(answer) and len(words) <= 14:
            return self._advance("No problem, let's skip that one.", "neutral")
        if cursor.time_up:
            return self._advance(
                f"{self._ack()} In the interest of time, let's move on.", "neutral"
            )

        fillers = len(FILLERS.findall(answer))
        hesitant = bool(_HESITANT.search(answer)) or (bool(words) and fillers / len(words) > 0.15)
        can_follow_up = cursor.follow_ups_used < question.max_follow_ups

        if hesitant and len(words) < 25 and can_follow_up:
            cursor.follow_ups_used += 1
            return self._reply(
                "That's okay, take your time. Maybe start with a situation you remember well, "
                "even a small one.",
                "concerned",
            )
        if len(words) < 8 and can_follow_up:
            cursor.follow_ups_used += 1
            return self._reply(f"{self._ack()} {_GENERIC_PROBE}", "neutral")

        if can_follow_up:
            follow_up = self._follow_up_for(answer.lower())
            if follow_up is None and self.open_follow_ups:
                follow_up = _GENERIC_PROBE
            if follow_up:
                cursor.follow_ups_used += 1
                ack = self._ack()
                return self._reply(
                    f"{ack} {follow_up}", "encouraging", "follow_up", ack=ack, body=follow_up
                )
        emotion: Emotion = "encouraging" if len(words) >= 25 else "neutral"
        return self._advance(self._ack(), emotion, "advance")

    def _open_prompt(self) -> str:
        """What the candidate is asked now: the question, whole if they have not begun on it."""
        cursor = self.cursor
        if cursor.phase == "wrap_up":
            return self.mode.wrap_up
        if cursor.answers or cursor.follow_ups_used:
            return "Please go on."
        return self.mode.questions[cursor.index].text

    def _follow_up_for(self, lowered: str) -> str | None:
        """The plan's follow-up whose keyword the answer used, else one about a resume/JD term."""
        for follow_up in self.mode.questions[self.cursor.index].follow_ups:
            for keyword in follow_up.keywords:
                if re.search(rf"\b{re.escape(keyword)}", lowered):
                    return follow_up.question.format(topic=keyword.strip())
        for term in self._context_terms:
            if re.search(rf"\b{re.escape(term.lower())}\b", lowered):
                return f"You mentioned {term}, which is important for this role. How deep is your experience with it?"
        return None
