"""What a candidate's side saw: the turns of the transcript and every event, in ms since connecting."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Turn:
    """One turn of the transcript as the candidate's side saw it."""

    role: str
    text: str
    start_ms: int
    end_ms: int | None = None
    latency_ms: int | None = None
    interrupted: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON form, as printed by ``interviewer replay --json``."""
        return {
            "role": self.role,
            "text": self.text.strip(),
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "latency_ms": self.latency_ms,
            **({"interrupted": True} if self.interrupted else {}),
        }


@dataclass
class SessionLog:
    """Everything observed during one session, with times in ms since connecting."""

    events: list[tuple[int, str, Any]] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    server_messages: list[dict] = field(default_factory=list)
    bot_audio_ms: float = 0.0
    closed_by_server: bool = False

    def of_type(self, kind: str) -> list[tuple[int, Any]]:
        """Events of one RTVI type."""
        return [(t, d) for t, k, d in self.events if k == kind]

    def texts(self, role: str) -> list[str]:
        """Texts of all turns of ``role``."""
        return [t.text.strip() for t in self.turns if t.role == role]

    def replies(self) -> list[tuple[Turn, Turn]]:
        """(candidate turn, interviewer reply) pairs; the greeting is never a reply.

        In each, the candidate's words were transcribed, and the interviewer's next turn was
        heard (its audio arrived after the candidate spoke) and said something (its text was
        reported spoken).
        """
        pairs = []
        for before, after in zip(self.turns, self.turns[1:], strict=False):
            if (
                before.role == "candidate"
                and before.text.strip()
                and after.role == "interviewer"
                and after.text.strip()
                and after.start_ms >= before.start_ms
            ):
                pairs.append((before, after))
        return pairs


def join_text(a: str, b: str) -> str:
    """Join two pieces of transcript with one space between words."""
    if not a:
        return b
    if not b or a.endswith(" ") or b.startswith(" "):
        return a + b
    return f"{a} {b}"
