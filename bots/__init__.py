"""Interview modes: one file each. MODES maps a mode id to its definition."""

from bots import behavioral, system_design, technical
from interviewer.plan import InterviewMode

MODES: dict[str, InterviewMode] = {
    m.id: m for m in (behavioral.MODE, technical.MODE, system_design.MODE)
}


def get_mode(mode_id: str) -> InterviewMode:
    """The mode with this id; KeyError names the known ones."""
    try:
        return MODES[mode_id]
    except KeyError:
        raise KeyError(
            f"unknown mode {mode_id!r}; choose one of {', '.join(sorted(MODES))}"
        ) from None
