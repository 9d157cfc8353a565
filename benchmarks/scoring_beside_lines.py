"""A live interview's line while an ended interview's report is scored on the same local model.

    python benchmarks/scoring_beside_lines.py [--answer-words 700] [--when reading|scores]

Starts the offline interviewer model as the server does (``LocalLLMServer.start``, LLM=local,
two slots), then times one session's follow-up line (``LineWriter``, slot 0):

- alone;
- beside a report being scored (``interviewer.report.local_scores``, one competency whose
  answers are ``--answer-words`` words) that does not give way: the line starts 1 s into it
  (``--when reading``, the default) or 0.5 s after the request for the scores is sent, while
  the model writes them (``--when scores``);
- the same, the scoring giving way (read between lines on slot 1, its scores giving way to the
  line, as in the product).

Prints the line's seconds, the scoring's seconds and how many tokens of its prompt the
scoring's last request read (llama.cpp's ``prompt_n``) of all it needed.
The last line is for scripts: ``RESULT alone_s=X beside_s=Y giving_way_s=Z ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SENTENCES = [
    "I profiled the ingestion service and found that most of the time went into JSON parsing.",
    "We moved the hot path to a streaming parser and cut the p99 latency by half.",
    "The hardest part was convincing the team to add load tests before the rewrite.",
    "I wrote the runbook for the on-call rotation and reviewed every incident for a year.",
    "When a deploy broke checkout, I bisected the release and rolled back within ten minutes.",
    "Our tests were flaky, so I quarantined them and fixed the shared fixtures one by one.",
]


def _interview(mode, answer_words: int, tag: str):
    """An ended interview whose first competency's answers are ``answer_words`` words long.

    They start with ``tag``: no prompt cached before shares more than its first lines.
    """
    from interviewer.store import StoredInterview, StoredTurn, now_utc

    t = now_utc()
    competency = mode.questions[0].competency
    asked = [i for i, q in enumerate(mode.questions) if q.competency == competency]
    words: list[str] = []
    n = 0
    while len(words) < answer_words:
        words += f"{SENTENCES[n % len(SENTENCES)][:-1]} (part {n}).".split()
        n += 1
    answer = f"{tag}. " + " ".join(words[:answer_words])
    turns = [
        StoredTurn(0, "interviewer", mode.questions[asked[0]].text, t, t, None, False, asked[0])
    ]
    turns.append(StoredTurn(1, "candidate", answer, t, t, None, False, asked[0]))
    return StoredInterview("bench", "tok", mode.id, {}, "ended", "local", t, t, None, turns)


async def _line(writer) -> float:
    t = time.monotonic()
    line = await writer.write(
        "follow_up",
        "Tell me about a technical project you're proud of.",
        "We rebuilt search on Elasticsearch and moved eighty million documents in a week.",
        time.monotonic() + 600,
    )
    took = time.monotonic() - t
    print(f"    line in {took:.2f}s: {line!r}", flush=True)
    return took


async def run(answer_words: int, when: str = "reading") -> dict:
    from bots import get_mode
    from interviewer import local_llm
    from interviewer.config import load_settings
    from interviewer.line_writer import LineWriter
    from interviewer.lines import system_prompt
    from interviewer.plan import CandidateContext
    from interviewer.report import local_scores

    settings = load_settings(LLM="local", MAX_SESSIONS="2")
    server = await asyncio.to_thread(local_llm.LocalLLMServer.start, settings)
    mode = get_mode("technical")
    read: list[dict] = []

    scores_asked = asyncio.Event()

    async def note_scores(request):
        if b'"response_format"' in request.content:
            scores_asked.set()

    async def keep_timings(response):
        if b'"response_format"' in response.request.content:  # the request for the scores
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                return  # streamed (giving way): the client reads it as it comes, figures unseen
            await response.aread()
            timings = response.json().get("timings") or {}
            read.append(timings)

    from openai import AsyncOpenAI, DefaultAsyncHttpxClient

    scoring_client = AsyncOpenAI(
        api_key=server.api_key,
        base_url=server.base_url,
        timeout=600,
        max_retries=0,
        http_client=DefaultAsyncHttpxClient(
            event_hooks={"request": [note_scores], "response": [keep_timings]}
        ),
    )
    writer = LineWriter(
        server.openai_client(timeout=600),
        server.model,
        system_prompt(mode, CandidateContext()),
        slot=0,
        in_flight=server.lines,
    )
    out: dict = {}
    try:
        print("  a line alone", flush=True)
        await _line(writer)  # warms slot 0's system prompt
        out["alone_s"] = await _line(writer)
        for name, lines in (("beside", None), ("giving_way", server.lines)):
            print(f"  a line {name.replace('_', ' ')} a report being scored", flush=True)
            read.clear()
            scores_asked.clear()
            t = time.monotonic()
            interview = _interview(mode, answer_words, f"Case {name}")
            scoring = asyncio.create_task(
                local_scores(
                    interview, mode, scoring_client, server.model, lines, slot=1 if lines else None
                )
            )
            if when == "scores":
                await scores_asked.wait()
                await asyncio.sleep(0.5)
            else:
                await asyncio.sleep(1.0)
            out[f"{name}_s"] = await _line(writer)
            scores = await scoring
            out[f"{name}_scoring_s"] = round(time.monotonic() - t, 2)
            print(f"    scored in {out[f'{name}_scoring_s']:.2f}s: {scores}", flush=True)
            last = read[-1] if read else {}
            out[f"{name}_last_request_read"] = last.get("prompt_n")
            out[f"{name}_prompt_tokens"] = (last.get("prompt_n") or 0) + (last.get("cache_n") or 0)
    finally:
        await writer.close()
        await scoring_client.close()
        await asyncio.to_thread(server.stop)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--answer-words", type=int, default=700)
    parser.add_argument("--when", choices=["reading", "scores"], default="reading")
    args = parser.parse_args()
    out = asyncio.run(run(args.answer_words, args.when))
    read = out["beside_last_request_read"], out["beside_prompt_tokens"]
    print(
        f"A line alone {out['alone_s']:.2f}s; beside a report scored without giving way "
        f"{out['beside_s']:.2f}s (scoring {out['beside_scoring_s']:.1f}s, its request for the "
        f"scores read {read[0]} of {read[1]} prompt tokens); giving way "
        f"{out['giving_way_s']:.2f}s (scoring {out['giving_way_scoring_s']:.1f}s)"
    )
    print("RESULT " + " ".join(f"{k}={v}" for k, v in out.items()))


if __name__ == "__main__":
    main()
