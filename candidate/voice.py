"""The candidate's voice at the microphone, by the page's rule (``web/client/src/progress.ts``).

A reply is timed from the end of the candidate's voice. A recording's room, a breath or a
mouth click after the last word can be as loud as a quiet word: beckett.wav's last word ends at
8.74 s and sounds over -45 dBFS come until 9.84 s, so a bare level threshold put the end of
the voice 1.1 s late and timed a reply 1.1 s short. The page learned this first and counts as
voice only readings above ``VOICE_LEVEL`` for ``VOICE_RUN_MS`` (or one right after the voice,
within ``VOICE_GAP_MS``: the dip between syllables), held while the level stays above
``VOICE_HOLD_LEVEL``. The candidate client (replays, scenarios, ``make bench``) uses the same
rule and constants, so both time a reply from the same moment.
"""

from __future__ import annotations

from dataclasses import dataclass

from interviewer.audio import rms

VOICE_LEVEL = 0.06
VOICE_HOLD_LEVEL = 0.03
VOICE_RUN_MS = 120
VOICE_GAP_MS = 200


def mic_level(pcm: bytes) -> float:
    """A chunk's level as the page reads it: 4x its RMS, full scale 1, capped at 1."""
    return min(1.0, 4 * rms(pcm))


@dataclass
class MicVoice:
    """Whether each microphone reading is the candidate's voice (``hear``), as the page decides."""

    last_voice_ms: int | None = None
    voicing: bool = False
    run_start_ms: int | None = None

    def hear(self, level: float, now_ms: int) -> bool:
        """Take one reading; True if it is voice."""
        if self.voicing and level > VOICE_HOLD_LEVEL:
            self.last_voice_ms = now_ms
            return True
        self.voicing = False
        if level <= VOICE_LEVEL:
            self.run_start_ms = None
            return False
        if self.run_start_ms is None:
            self.run_start_ms = now_ms
        resumed = self.last_voice_ms is not None and now_ms - self.last_voice_ms <= VOICE_GAP_MS
        if resumed or now_ms - self.run_start_ms >= VOICE_RUN_MS:
            self.voicing = True
            self.run_start_ms = None
            self.last_voice_ms = now_ms
            return True
        return False
