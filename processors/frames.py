"""Small typed frames of our own, for what pipecat has no frame for."""

from dataclasses import dataclass

from pipecat.frames.frames import DataFrame, SystemFrame


@dataclass
class AvatarEmotionFrame(SystemFrame):
    """The interviewer's feeling about the last answer: neutral, encouraging or concerned."""

    emotion: str = "neutral"


@dataclass
class InterviewClosedFrame(DataFrame):
    """The interviewer has said its closing words (queued after them): end the session."""


@dataclass
class StretchTranscribedFrame(DataFrame):
    """The transcriber is done with one stretch of speech; ``text`` is what it heard ("": no words).

    pipecat's STT services send nothing for a stretch without words (a cough, a click, a breath),
    so without this a turn strategy waiting for every stretch's words can only time out.
    """

    text: str = ""
