"""The candidate's rhythm: the short silence shrinks to the pauses they went on after."""

from __future__ import annotations

import pytest

from interviewer.rhythm import CandidateRhythm


def test_without_pauses_the_fixed_wait_holds():
    assert CandidateRhythm().fast_wait(1.2) == 1.2


def test_the_longest_pause_gone_on_after_plus_the_margin_sets_the_wait():
    rhythm = CandidateRhythm(margin_secs=0.3, floor_secs=0.6)
    rhythm.went_on(0.45)
    assert rhythm.fast_wait(1.2) == pytest.approx(0.75)
    rhythm.went_on(0.35)  # a shorter one changes nothing
    assert rhythm.fast_wait(1.2) == pytest.approx(0.75)
    rhythm.went_on(0.8)  # a slower one raises it for the rest of the interview
    assert rhythm.fast_wait(1.2) == pytest.approx(1.1)
    rhythm.went_on(1.4)
    assert rhythm.fast_wait(1.2) == 1.2  # never above the fixed wait


def test_the_floor_and_the_evidence_needed_bound_it():
    rhythm = CandidateRhythm(margin_secs=0.1, floor_secs=0.6, min_pauses=2)
    rhythm.went_on(0.2)
    assert rhythm.fast_wait(1.2) == 1.2  # one pause is not yet a rhythm here
    rhythm.went_on(0.25)
    assert rhythm.fast_wait(1.2) == 0.6  # 0.35 would be below the floor


def test_a_long_silence_is_a_new_thought_not_a_pause():
    rhythm = CandidateRhythm(longest_pause_secs=2.0)
    for silence in (0.0, -0.1, 2.5):
        rhythm.went_on(silence)
    assert rhythm.pauses == []
