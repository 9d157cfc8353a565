"""What the voice says and the page shows of a line: no Markdown, and notation as words (voice).

Neither gets Markdown (:func:`unmarked`: pipecat's ``StripMarkdown``, after the emphasis marks of a
sentence cut inside bold are dropped): a cloud model's "**Great question!**" is "Great question!".

A line may carry notation a voice reads letter by letter: Piper (espeak) says "50ms" as "fifty em
ess", "10x" as "ten ex" and "100:1" as "one hundred colon one". :func:`speech_text` rewrites it
("50 milliseconds", "10 times", "100 to 1") as a pipecat text transform on the TTS service, so
only the voice hears the change: the page (:func:`shown_text`, a transform of pipecat's RTVI bot
output), the transcript and the LLM's context keep the line's notation.
"""

from __future__ import annotations

import re

from pipecat.processors.frameworks.rtvi.models import BotOutputTransformResult
from pipecat.utils.text.transforms.strip_markdown import StripMarkdown

_NUMBER = r"(\d+(?:\.\d+)?)"
_SCALES = {"k": "thousand", "K": "thousand", "M": "million", "B": "billion", "bn": "billion"}
_BYTES = {"kb": "kilobytes", "mb": "megabytes", "gb": "gigabytes", "tb": "terabytes"}
_RATES = {"rps": "requests per second", "qps": "queries per second"}

_REWRITES: list[tuple[re.Pattern, object]] = [
    (re.compile(_NUMBER + r" ?ms\b"), r"\1 milliseconds"),
    (re.compile(_NUMBER + r"(?: ?µs|us)\b"), r"\1 microseconds"),
    (re.compile(r"\b" + _NUMBER + r"x\b"), r"\1 times"),
    (re.compile(r"\b" + _NUMBER + r"(k|K|M|B|bn)\b"), lambda m: f"{m[1]} {_SCALES[m[2]]}"),
    (
        re.compile(r"\b" + _NUMBER + r" ?(KB|MB|GB|TB)\b", re.I),
        lambda m: f"{m[1]} {_BYTES[m[2].lower()]}",
    ),
    (
        re.compile(r"\b" + _NUMBER + r" ?(rps|qps)\b", re.I),
        lambda m: f"{m[1]} {_RATES[m[2].lower()]}",
    ),
]
# Emphasis asterisks, paired or not: a run of two or more, or one that opens or closes a word.
# pipecat cuts a streamed reply into sentences inside bold ("**Thanks for that." / "** What was
# the *hardest* part?"), and its StripMarkdown, pairing what is left, keeps marks espeak reads out
# ("* What was the *hardest part?"). Asterisks as content stay: "2*3", "5 * 3", a "* " bullet.
_EMPHASIS = re.compile(r"\*{2,}|(?<!\S)\*(?=\S)|(?<=\S)\*(?!\S)")
# "100:1" or "80:20" is a ratio; "10:30" may be a time of day, and is left alone.
_RATIO = re.compile(r"\b(\d+):(\d+)\b")


def _ratio(m: re.Match) -> str:
    left, right = m[1], m[2]
    if int(left) <= 24 and len(right) == 2:
        return m[0]
    return f"{left} to {right}"


def say_as_spoken(text: str) -> str:
    """``text`` with engineers' notation written out as it is said."""
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    return _RATIO.sub(_ratio, text)


_STRIP_MARKDOWN = StripMarkdown()


async def unmarked(text: str, text_type: str) -> str:
    """``text`` without Markdown: a pipecat ``TextTransform`` (any ``text_type``)."""
    return await _STRIP_MARKDOWN(_EMPHASIS.sub("", text), text_type)


async def speech_text(text: str, text_type: str) -> str:
    """What the voice is sent for unmarked ``text``: a pipecat ``TextTransform``."""
    return say_as_spoken(text)


async def _unmarked(text: str | None, text_type: str) -> str | None:
    return None if text is None else await unmarked(text, text_type)


async def shown_text(
    text: str,
    text_type: str,
    accumulated_text: str | None = None,
    remaining_text: str | None = None,
) -> BotOutputTransformResult:
    """What the page shows of a line (a pipecat RTVI bot-output transform): no Markdown marks.

    Called for a whole segment (``accumulated_text`` and ``remaining_text`` None) or for a voice's
    word-level progress through it, whose two parts are shown without marks as well.
    """
    return BotOutputTransformResult(
        text=await unmarked(text, text_type),
        accumulated_text=await _unmarked(accumulated_text, text_type),
        remaining_text=await _unmarked(remaining_text, text_type),
    )
