"""The candidate's own rhythm: how long a pause after a finished-reading sentence must last.

A turn whose words read finished ends after a fixed short silence (``TURN_FAST_SECS``),
chosen so that people who pause a second between the sentences of one answer are not cut
off. A fluent candidate who resumes after 0.4 s waits that whole second at the end of every
answer. So every pause the candidate went on after is remembered, unless its words were
judged unfinished (the long silence held there anyway; one gone on after before its words
could be judged counts: it is the short pause of a fluent speaker); once there are
``min_pauses`` of them, the short silence becomes the longest of them plus ``margin_secs``,
never below ``floor_secs`` and never above the fixed one. One slower pause later raises it
again for the rest of the interview. Pure logic: the turn strategy
(:class:`processors.scored_turn_stop.ScoredTurnStopStrategy`) feeds it and
``benchmarks/turn_decisions.py`` replays the labelled pauses through it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CandidateRhythm:
    """The pauses one candidate went on after; the short silence they need."""

    margin_secs: float = 0.3
    floor_secs: float = 0.6
    min_pauses: int = 1
    longest_pause_secs: float = 2.0  # a longer silence is a new thought, not a pause
    pauses: list[float] = field(default_factory=list)

    def went_on(self, pause_secs: float) -> None:
        """The candidate spoke again ``pause_secs`` after words not judged unfinished."""
        if 0 < pause_secs <= self.longest_pause_secs:
            self.pauses.append(pause_secs)

    def fast_wait(self, fixed_secs: float) -> float:
        """The silence that ends a finished-reading turn: at most ``fixed_secs``."""
        if len(self.pauses) < self.min_pauses:
            return fixed_secs
        return min(fixed_secs, max(self.floor_secs, max(self.pauses) + self.margin_secs))
