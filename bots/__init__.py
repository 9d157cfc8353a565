"""Interview modes, one bot file each: the mode's data and its pipeline.

MODES maps a mode id to its definition; :func:`pipeline_for` gives its bot's pipeline.
"""

from __future__ import annotations

from collections.abc import Callable

from bots import behavioral, system_design, technical
from interviewer.plan import InterviewMode

_BOTS = {bot.MODE.id: bot for bot in (behavioral, technical, system_design)}
MODES: dict[str, InterviewMode] = {mode_id: bot.MODE for mode_id, bot in _BOTS.items()}


def pipeline_for(mode_id: str) -> Callable:
    """The bot file's ``pipeline(stages)`` for this mode.

    A mode registered in MODES as data alone (no bot file of its own, as tests do) runs the
    stages the built-in bots run.
    """
    get_mode(mode_id)  # a clear KeyError for an unknown mode
    bot = _BOTS.get(mode_id, technical)
    return bot.pipeline


def get_mode(mode_id: str) -> InterviewMode:
    """The mode with this id; KeyError names the known ones."""
    try:
        return MODES[mode_id]
    except KeyError:
        raise KeyError(
            f"unknown mode {mode_id!r}; choose one of {', '.join(sorted(MODES))}"
        ) from None
