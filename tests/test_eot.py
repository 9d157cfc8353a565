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
