"""Time as the candidate's audio tells it, beside the wall clock.

A turn ends a set silence after the candidate's speech, and a pause they went on after is learned
from how long it lasted. Both were counted on the wall clock, which holds only while the audio
comes in real time. Over a WebSocket (TCP) a lost packet holds back everything after it: the
server hears the candidate stop, then nothing, then the held audio at once. Counted on the wall
clock, that stall is silence: the turn ends while the candidate is already talking again, and the
pause learned is the stall's length. The audio heard says what was really said since.

Pure logic: the turn strategy (:class:`processors.patient_turn_stop.PatientTurnStopStrategy`)
feeds it every chunk and marks each VAD stop.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class AudioClock:
    """The candidate's audio heard so far, tied to the wall clock at the latest mark."""

    heard_secs: float = 0.0
    _mark: tuple[float, float] | None = None  # (wall clock, audio heard) at the latest mark

    def hear(self, secs: float) -> None:
        """A chunk of ``secs`` of audio arrived."""
        self.heard_secs += secs

    def mark(self, wall: float) -> None:
        """The audio heard so far ends at wall-clock ``wall`` (the instant of a VAD event)."""
        self._mark = (wall, self.heard_secs)

    def behind(self, wall: float) -> float:
        """Seconds of audio up to wall-clock ``wall`` not heard yet (0 when none came at all)."""
        if self._mark is None or self.heard_secs == 0:
            return 0.0
        mark_wall, mark_heard = self._mark
        return max(0.0, (wall - mark_wall) - (self.heard_secs - mark_heard))

    def since(self, wall_then: float, wall_now: float) -> float:
        """Seconds of audio heard from wall-clock ``wall_then`` (at or before the mark) to now.

        Without audio or a mark, the wall clock's ``wall_now - wall_then``.
        """
        if self._mark is None or self.heard_secs == 0:
            return wall_now - wall_then
        mark_wall, mark_heard = self._mark
        return (mark_wall - wall_then) + (self.heard_secs - mark_heard)
