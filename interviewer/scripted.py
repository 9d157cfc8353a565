"""The offline scripted interviewer: follows the plan, acknowledges, follows up.

No instruction-tuned model able to lead an interview ships on PyPI, so with no LLM
configured this decides what the interviewer says next from what the candidate said:
requests to repeat or skip, short or hesitant answers, and keywords that trigger the
plan's follow-ups. It is plain, deterministic Python and says so in the UI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from interviewer.plan import CandidateContext, InterviewMode

Emotion = Literal["neutral", "encouraging", "concerned"]

_REPEAT = re.compile(
    r"\b(repeat( that| the question)?|say (that|it) again|pardon|come again|didn'?t (catch|hear)|one more time)\b",
    re.I,
)
_SKIP = re.compile(r"\b(skip( this| that| it)?|next question|pass on this|move on)\b", re.I)
_HESITANT = re.compile(
    r"\b(i don'?t know|not sure|no idea|i'?m not certain|i can'?t remember|don'?t remember)\b", re.I
)
_FILLERS = re.compile(r"\b(um+|uh+|er+|erm|hmm+|like|you know)\b", re.I)

_ACKS = ("Thanks.", "Got it.", "Okay, thank you.", "Great, thanks.", "I see.", "Understood.")
_GENERIC_PROBE = "Could you walk me through a specific example of that?"


@dataclass(frozen=True)
class Reply:
    """What the interviewer says next, and how it feels about the last answer."""

    text: str
    emotion: Emotion
    question_index: int  # 0-based index of the question now open; len(questions) when closed
    finished: bool = False


class ScriptedInterviewer:
    """State of one scripted interview: which question is open, follow-ups used."""

    def __init__(self, mode: InterviewMode, candidate: CandidateContext | None = None):
        self.mode = mode
        self.candidate = candidate or CandidateContext()
        self.index = 0
        self.follow_ups_used = 0
        self.finished = False
        self._ack_turn = 0

    @property
    def total(self) -> int:
        """Number of planned questions."""
        return len(self.mode.questions)

    def opening(self) -> Reply:
        """Greeting, introduction and the first question."""
        name = f", {self.candidate.name}" if self.candidate.name else ""
        role = f" for the {self.candidate.role} role" if self.candidate.role else ""
        text = (
            f"Hello{name}. I'm {self.mode.interviewer_name}. {self.mode.intro.format(role=role)} "
            f"{self.mode.questions[0].text}"
        )
        return Reply(text=text, emotion="encouraging", question_index=0)

    def _ack(self) -> str:
        ack = _ACKS[self._ack_turn % len(_ACKS)]
        self._ack_turn += 1
        return ack

    def _advance(self, lead: str, emotion: Emotion) -> Reply:
        self.index += 1
        self.follow_ups_used = 0
        if self.index >= self.total:
            self.finished = True
            return Reply(f"{lead} {self.mode.closing}", emotion, self.total, finished=True)
        return Reply(f"{lead} {self.mode.questions[self.index].text}", emotion, self.index)

    def time_up(self) -> Reply:
        """The open question's time box ran out: move on politely."""
        return self._advance("Thanks, in the interest of time let's move on.", "neutral")

    def reply(self, answer: str) -> Reply:
        """Decide what to say after the candidate's turn ``answer``."""
        if self.finished:
            return Reply(self.mode.closing, "neutral", self.total, finished=True)
        answer = answer.strip()
        question = self.mode.questions[self.index]
        words = re.findall(r"[\w']+", answer)

        if _REPEAT.search(answer) and len(words) <= 14:
            return Reply(f"Of course. {question.text}", "neutral", self.index)
        if _SKIP.search(answer) and len(words) <= 14:
            return self._advance("No problem, let's skip that one.", "neutral")

        fillers = len(_FILLERS.findall(answer))
        hesitant = bool(_HESITANT.search(answer)) or (words and fillers / len(words) > 0.15)
        can_follow_up = self.follow_ups_used < question.max_follow_ups

        if hesitant and len(words) < 25 and can_follow_up:
            self.follow_ups_used += 1
            return Reply(
                "That's okay, take your time. Maybe start with a situation you remember well, "
                "even a small one.",
                "concerned",
                self.index,
            )
        if len(words) < 8 and can_follow_up:
            self.follow_ups_used += 1
            return Reply(f"{self._ack()} {_GENERIC_PROBE}", "neutral", self.index)

        if can_follow_up:
            lowered = answer.lower()
            for follow_up in question.follow_ups:
                for keyword in follow_up.keywords:
                    if re.search(rf"\b{re.escape(keyword)}", lowered):
                        self.follow_ups_used += 1
                        text = follow_up.question.format(topic=keyword)
                        return Reply(f"{self._ack()} {text}", "encouraging", self.index)
        emotion: Emotion = "encouraging" if len(words) >= 25 else "neutral"
        return self._advance(self._ack(), emotion)
