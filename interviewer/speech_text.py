"""Engineers' notation said the way an interviewer says it, for the voice only.

A line may carry notation a voice reads letter by letter: Piper (espeak) says "50ms" as "fifty em
ess", "10x" as "ten ex" and "100:1" as "one hundred colon one". :func:`speech_text` rewrites it
("50 milliseconds", "10 times", "100 to 1") as a pipecat text transform on the TTS service, so
only the voice hears the change: the transcript and the LLM's context keep the line as written.
Markdown is pipecat's to strip (its ``StripMarkdown`` runs first); this drops only the emphasis
marks it leaves where a sentence was cut inside them. Pure Python: no model, no pipecat.
"""

from __future__ import annotations

import re

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
# Emphasis marks left over where a sentence was cut inside them ("**Great question!" and
# "** Let's ..."), which pipecat's Markdown stripping, seeing no pair, keeps: espeak says "asterisk".
_STRAY_EMPHASIS = re.compile(r"\*{2,}|_{2,}|^\*(?=\w)|(?<=[\w.!?,:;])\*(?=\s|$)")
# "100:1" or "80:20" is a ratio; "10:30" may be a time of day, and is left alone.
_RATIO = re.compile(r"\b(\d+):(\d+)\b")


def _ratio(m: re.Match) -> str:
    left, right = m[1], m[2]
    if int(left) <= 24 and len(right) == 2:
        return m[0]
    return f"{left} to {right}"


def say_as_spoken(text: str) -> str:
    """``text`` with engineers' notation written out as it is said."""
    text = _STRAY_EMPHASIS.sub("", text)
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    return _RATIO.sub(_ratio, text)


async def speech_text(text: str, text_type: str) -> str:
    """What the voice is sent for ``text``: a pipecat ``TextTransform`` (any ``text_type``)."""
    return say_as_spoken(text)
