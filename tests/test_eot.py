"""The text end-of-turn score: its prompt, its arithmetic, and the real SmolLM2 model."""

from __future__ import annotations

import math

import pytest

from interviewer.eot import end_probability, eot_prompt


def test_the_prompt_leaves_the_candidate_s_turn_open_without_whisper_s_punctuation():
    prompt = eot_prompt("Tell me about a project.", "  We shipped it in March. ")
    assert prompt.endswith("<|im_start|>user\nWe shipped it in March")
    assert "<|im_start|>assistant\nTell me about a project.<|im_end|>" in prompt
    assert eot_prompt("Q?", "So we used Redis, and").endswith("So we used Redis, and")


def test_the_end_probability_counts_sentence_and_turn_ends_only():
    top = [
        {"token": ".", "logprob": math.log(0.3)},
        {"token": "<|im_end|>", "logprob": math.log(0.1)},
        {"token": " and", "logprob": math.log(0.4)},
        {"token": "?", "logprob": math.log(0.05)},
    ]
    assert end_probability(top) == pytest.approx(0.45)
    assert end_probability([]) == 0.0


@pytest.mark.slow
async def test_smollm2_reads_unfinished_and_finished_words_apart(settings):
    from interviewer.eot import serve_eot_model

    server, scorer = serve_eot_model(settings.model_cache_dir)
    try:
        q = "Tell me about a technical project you're proud of."
        unfinished = [
            await scorer.score(q, w)
            for w in (
                "I think the main problem was",
                "So we used Redis, and",
                "The hardest part was, um,",
            )
        ]
        finished = [
            await scorer.score(q, w)
            for w in ("That's about it.", "We cut the p99 latency from 800 to 120 milliseconds.")
        ]
        assert await scorer.score(q, "") == 0.0
    finally:
        server.stop()
    print(
        f"unfinished {[round(v, 3) for v in unfinished]}, finished {[round(v, 3) for v in finished]}"
    )
    assert max(unfinished) < 0.05 < 0.2 < min(finished)


@pytest.mark.slow
async def test_each_session_s_answer_stays_read_so_the_pause_reads_only_new_words(settings):
    # Two sessions score their growing answers in turn (live words, then the pause). llama.cpp
    # reports the prompt tokens it had to read: with a slot each, a session's next score reads
    # only its new words, even right after the other session's score.
    from interviewer.eot import TextTurnScorer, eot_server

    server = eot_server(settings.model_cache_dir, slots=2)
    answers = {
        "Tell me about a project you're proud of.": [
            "We rebuilt the payments service",
            "We rebuilt the payments service in Go over six months",
            "We rebuilt the payments service in Go over six months and cut the p99 in half.",
        ],
        "How do you handle a disagreement with your manager?": [
            "I usually ask for the data first",
            "I usually ask for the data first and then we agree on a small experiment",
            "I usually ask for the data first and then we agree on a small experiment to run.",
        ],
    }
    scorers = {q: TextTurnScorer.on(server) for q in answers}
    read: dict[str, list[int]] = {q: [] for q in answers}
    try:
        for step in range(3):
            for question, words in answers.items():
                await scorers[question].score(question, words[step])
                read[question].append(scorers[question].last_read)
        for scorer in scorers.values():
            await scorer.aclose()
        assert server.acquire_slot() is not None  # the slots were given back
    finally:
        server.stop()
    print(f"prompt tokens read per score: {read}")
    for question, counts in read.items():
        first, *later = counts
        assert first > 30  # system prompt, question and words: all new
        assert all(n <= 12 for n in later), (question, counts)  # only the words added since
