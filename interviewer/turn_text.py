"""What a transcript's last words say about whether the candidate has finished.

Smart-turn judges the sound of the end of a stretch of speech; this judges its words.
Whisper punctuates what it hears, so a stretch it closes with a full stop or a question
mark, on a word that can end a sentence, reads as finished; one that ends on a comma, a
conjunction, an article, a preposition or a filler ("and", "the", "um") reads as
dangling: the candidate is mid-thought.
"""

from __future__ import annotations

import re
from typing import Literal

Verdict = Literal["complete", "dangling", "open"]

WORD = re.compile(r"[\w']+")

# Marks a sentence goes on after: a comma, a semicolon, a colon, a dash, an ellipsis.
MID_SENTENCE_MARKS = (",", ";", ":", "-", "—", "–", "...", "…")


def words(text: str) -> list[str]:
    """The words of a transcript (how every part of the interviewer counts them)."""
    return WORD.findall(text)


# Words an English sentence does not end on: conjunctions, articles, prepositions,
# possessives, auxiliaries and fillers. (Kept small and plain on purpose.)
DANGLING_WORDS = frozenset(
    """
    and but or nor so because since although though whereas while if unless until when whenever
    where whether than that which who whom whose as then also plus
    a an the this these those my our your their his her its some any every each no
    to of in on at by for from with without into onto over under about after before between
    through during against like via per
    i we you they he she it's i'm we're they're you're i've we've i'd we'd
    is are was were be been being am do does did have has had will would can could should
    might must shall may not
    um uh er erm ah hmm mm mhm
    """.split()
)


def _last_words(text: str) -> str:
    return text.strip().rstrip("\"')]").strip()


def ends_mid_sentence(text: str) -> bool:
    """Whether a transcript stops on a mark a sentence goes on after ("..., we had", "So,")."""
    return _last_words(text).endswith(MID_SENTENCE_MARKS)


def text_verdict(text: str) -> Verdict:
    """``complete``, ``dangling`` or ``open`` (no evidence either way) for a transcript."""
    t = _last_words(text)
    if not t:
        return "open"
    if t.endswith("?"):
        return "complete"
    if ends_mid_sentence(t):
        return "dangling"
    last = t.split()[-1].lower().strip(".!,;:\"'()[]")  # "60%." is "60%", not "about"
    if last in DANGLING_WORDS:
        return "dangling"
    if t.endswith((".", "!")):
        return "complete"
    return "open"
