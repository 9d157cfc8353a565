"""How the offline model's lines come out under different instruction wordings, on fixed answers.

    python benchmarks/line_prompts.py [--task follow_up] [--instruction "..." ...] [--no-hints]

Starts the offline interviewer model as the server does (``LLM=local``, one slot) and asks it
for one line per case: a question each mode asks and a candidate's answer to it (answers copied
from scenarios/*.yaml and ``benchmarks/latency.py``'s concurrent sessions, and a few more, fixed
here so that figures stay comparable when those change), once per
instruction (the first is the one the interviewer uses today; give ``--instruction`` to compare
others). The request is the one :class:`interviewer.line_writer.LineWriter` sends (same
prompt, seed, temperature and token cap; a line cut off by the cap breaks the rules, as there),
with the model alone, so the figures are the model's
own: tokens and milliseconds spent writing the line (llama.cpp's ``predicted_ms``, what is left
once the answer is prefilled while the candidate speaks), and how many lines keep the rules
(:func:`interviewer.lines.check_line`; a line that breaks one says which) and refer to the answer
(:func:`interviewer.lines.refers_to_answer`). Every line is printed, for reading. Lines are
read to their end: with ``--task acknowledge`` the writer would stop at the first clause, so
its tokens and milliseconds are an upper bound there. A follow-up's instruction ends with its
planned question's hint (``Question.follow_up_hint``), as the interviewer's does; ``--no-hints``
leaves the hints out (the follow-ups as they were before the question had one).

Run it on a quiet machine. The last line is for scripts:
``RESULT v0_kept=.. v0_refers=.. v0_tokens_p50=.. v0_tokens_max=.. v0_ms_p50=.. v0_ms_max=.. v1_...``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bots import behavioral, system_design, technical  # noqa: E402
from interviewer.line_writer import LINE_MAX_TOKENS, LINE_SEED, LINE_TEMPERATURE  # noqa: E402
from interviewer.lines import (  # noqa: E402
    TASK_INSTRUCTIONS,
    LinePrompt,
    judge_line,
    line_prompt,
    refers_to_answer,
    system_prompt,
)
from interviewer.plan import CandidateContext  # noqa: E402

SHORTER = "Ask one short question, at most 15 words, about one concrete thing they actually said."
MODES = {m.id: m for m in (behavioral.MODE, technical.MODE, system_design.MODE)}
# (mode, index of the planned question, the candidate's answer to it)
CASES = [
    (
        "behavioral",
        0,
        "I spent five years at a logistics startup building the routing service in Go. Last year I moved into a team lead role for four engineers, and now I want a bigger company where I can work on reliability.",
    ),
    (
        "behavioral",
        0,
        "I have spent six years building backend systems, most recently leading a small payments team.",
    ),
    (
        "behavioral",
        0,
        "I've spent six years as a backend engineer, most recently leading a small payments team, and I want a role with more product ownership.",
    ),
    (
        "behavioral",
        0,
        "I started as a data analyst, taught myself Python, and for the last three years I have built the data pipelines for a hospital group.",
    ),
    (
        "behavioral",
        0,
        "I'm a frontend developer, mostly React, and for two years I've owned the checkout pages at an online shop. I'm looking for a team that cares more about accessibility.",
    ),
    (
        "behavioral",
        0,
        "I spent eight years in QA, wrote most of our end to end tests, and I want to move into a developer role.",
    ),
    (
        "behavioral",
        1,
        "A colleague wanted to rewrite our scheduler in Rust, and I thought it was too risky before peak season. We agreed to build a small prototype and benchmark it against the Go version first.",
    ),
    (
        "behavioral",
        1,
        "We disagreed about a database migration, so we ran a small experiment and let the numbers decide.",
    ),
    (
        "behavioral",
        2,
        "Our mobile app launch slipped by three weeks because we never load tested the notification service, and it fell over in the beta.",
    ),
    (
        "behavioral",
        2,
        "A launch slipped by two weeks because we skipped load testing, and now we test before every release.",
    ),
    (
        "behavioral",
        2,
        "We rewrote our checkout in React without asking support, and the new flow confused older customers, so conversions fell by eight percent for a month.",
    ),
    (
        "behavioral",
        2,
        "I promised a data export in two sprints and it took six, because I never looked at the legacy schema first. Now I spike the unknowns before I estimate.",
    ),
    (
        "behavioral",
        3,
        "Nobody owned our on-call runbooks, so I rewrote them over a month and ran two fire drills with the team.",
    ),
    (
        "behavioral",
        4,
        "I post a short written update the same day, then walk through it at standup so people can ask questions.",
    ),
    (
        "technical",
        0,
        "I built a search service for product listings. The hard part was latency, since every query fanned out to twelve shards and we had to keep the tail under a hundred milliseconds.",
    ),
    (
        "technical",
        0,
        "I led the rewrite of our billing service. I owned the data migration and the rollout plan, and we cut the error rate by half over two months.",
    ),
    (
        "technical",
        0,
        "I wrote most of an internal feature flag service, from the API to the dashboard, and about forty teams use it now.",
    ),
    (
        "technical",
        0,
        "We rebuilt search on Elasticsearch and moved eighty million documents in a week without downtime. I wrote the dual-write layer.",
    ),
    (
        "technical",
        1,
        "A memory leak that only showed up after three days in production. I took heap dumps twice a day and diffed them until I found a cache that never evicted.",
    ),
    (
        "technical",
        1,
        "A race condition in our payment retries: two workers picked up the same job. We found it by logging the job IDs with timestamps.",
    ),
    (
        "technical",
        2,
        "I test the parts where a bug would cost money or data, and I keep the rest to a few smoke tests.",
    ),
    (
        "technical",
        2,
        "Anything that touches money gets unit and integration tests; UI tweaks I check by hand in the staging app.",
    ),
    (
        "technical",
        2,
        "Login, checkout and the data migrations come first, and every bug fix comes with a test that reproduces it.",
    ),
    (
        "technical",
        2,
        "Mostly by feel, honestly. If the change is small I run the existing suite and ship it behind a flag.",
    ),
    (
        "technical",
        3,
        "I would use a token bucket per API key, kept in Redis, with the limits in a config service.",
    ),
    (
        "technical",
        4,
        "Good review is small changes, fast turnaround, and comments about the design rather than style.",
    ),
    (
        "technical",
        4,
        "As an author I write a clear description and keep the diff small; as a reviewer I run the code and ask questions instead of giving orders.",
    ),
    (
        "technical",
        4,
        "The linter and formatter handle style, so the review is about naming, tests, and whether the change is safe to roll back.",
    ),
    (
        "technical",
        4,
        "I try to review within a day, and I mark each comment as blocking or just a nit so the author knows what matters.",
    ),
    (
        "technical",
        4,
        "Honestly my team mostly approves without reading, and last spring that let a bad schema change through to production.",
    ),
    (
        "system_design",
        0,
        "I would start with a hundred million new links a month and a read to write ratio of about a hundred to one.",
    ),
    (
        "system_design",
        0,
        "Links should never expire, a redirect should take under fifty milliseconds, and I would plan for about a thousand writes per second at peak.",
    ),
    (
        "system_design",
        0,
        "Custom aliases, click analytics, and around ten billion redirects a day.",
    ),
    (
        "system_design",
        0,
        "Mainly availability: a redirect must always work, even if creating new links is down for a while. Maybe five hundred million links in total.",
    ),
    (  # off the question, as a misheard answer is (the hotwords scenario's)
        "system_design",
        0,
        "Then you go into your config folder again, and in the config folder you open the settings.",
    ),
    (
        "system_design",
        1,
        "A stateless API behind a load balancer, a key value store for the mappings, and a cache in front of it for the hot links.",
    ),
    (
        "system_design",
        2,
        "I would take a counter from a ticket service and encode it in base sixty two, and store the mapping in Cassandra.",
    ),
    (
        "system_design",
        2,
        "I would hash the long URL with MD5, take the first seven characters, and check a key value store like DynamoDB for collisions.",
    ),
    (
        "system_design",
        2,
        "Random seven character codes from a base sixty two alphabet, with a unique index in Postgres so a collision just retries.",
    ),
    (
        "system_design",
        2,
        "Each app server gets a block of a million ids from ZooKeeper and encodes them, and the mappings go into a sharded MySQL.",
    ),
    (
        "system_design",
        3,
        "The database writes break first, so I would shard by the short code and add read replicas.",
    ),
    (
        "system_design",
        3,
        "The cache runs out of memory first, so I would move it to a Redis cluster and keep only the hottest links in it.",
    ),
    (
        "system_design",
        3,
        "Reads break first. I would put a CDN in front of the popular links and add more API servers behind the load balancer.",
    ),
    (
        "system_design",
        3,
        "The ticket service becomes the bottleneck, so I would hand each API server a range of a thousand ids at a time.",
    ),
    (
        "system_design",
        3,
        "Probably the single database. I would split it by the hash of the code across sixteen shards and put Redis in front for reads.",
    ),
    (
        "system_design",
        4,
        "I chose eventual consistency for the click counts; with more time I would revisit the analytics pipeline.",
    ),
]


def complete(base_url: str, api_key: str, model: str, prompt: LinePrompt) -> dict:
    """One line as :class:`~interviewer.line_writer.LineWriter` asks for it (not streamed)."""
    body = {
        "model": model,
        "messages": prompt.messages,
        "max_tokens": LINE_MAX_TOKENS,
        "temperature": LINE_TEMPERATURE,
        "seed": LINE_SEED,
        "cache_prompt": True,
        "id_slot": 0,
    }
    if prompt.avoid:
        body["logit_bias"] = prompt.logit_bias
    request = urllib.request.Request(
        base_url + "/chat/completions",
        json.dumps(body).encode(),
        {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"},
    )
    with urllib.request.urlopen(request, timeout=600) as r:
        return json.loads(r.read())


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=["follow_up", "acknowledge"], default="follow_up")
    parser.add_argument(
        "--instruction",
        action="append",
        help=f"another wording to compare with today's (default: {SHORTER!r})",
    )
    parser.add_argument(
        "--no-hints", action="store_true", help="leave out the planned questions' follow-up hints"
    )
    args = parser.parse_args()
    variants: list[str | None] = [None, *(args.instruction or [SHORTER])]

    os.environ |= {"LLM": "local", "MAX_SESSIONS": "1"}
    from interviewer.config import load_settings
    from interviewer.local_llm import LocalLLMServer

    server = LocalLLMServer.start(load_settings())
    results: list[str] = []
    try:
        cases = [(MODES[m], m, MODES[m].questions[i], a) for m, i, a in CASES]
        first = cases[0]
        system = system_prompt(first[0], CandidateContext())
        complete(
            server.base_url,
            server.api_key,
            server.model,
            line_prompt(system, args.task, first[2].text, first[3]),
        )  # threads started
        table: list[list[str]] = [[] for _ in cases]
        for v, instruction in enumerate(variants):
            kept = refers = 0
            tokens: list[int] = []
            ms: list[float] = []
            for c, (mode, _mode_id, planned, answer) in enumerate(cases):
                system = system_prompt(mode, CandidateContext())
                question = planned.text
                hint = "" if args.no_hints else planned.follow_up_hint
                prompt = line_prompt(system, args.task, question, answer, instruction, hint)
                reply = complete(server.base_url, server.api_key, server.model, prompt)
                choice = reply["choices"][0]
                text = choice["message"]["content"] or ""
                if prompt.prefix and not text.lstrip().startswith(prompt.prefix):
                    text = f"{prompt.prefix} {text.lstrip()}"
                timings = reply.get("timings", {})
                tokens.append(int(timings.get("predicted_n", 0)))
                ms.append(float(timings.get("predicted_ms", 0.0)))
                cut_off = choice.get("finish_reason") == "length"
                line, rule = (
                    (None, "cut off by the token cap")
                    if cut_off
                    else judge_line(text, args.task, answer, question)
                )
                kept += line is not None
                refers += line is not None and refers_to_answer(line, answer, question)
                table[c].append(
                    f"v{v} {tokens[-1]:>2} tok {ms[-1]:5.0f} ms {'kept ' if line else 'BROKE'} {text.strip()!r}{f' ({rule})' if rule else ''}"
                )
            n = len(cases)
            print(
                f"v{v} {instruction or '(in use) ' + TASK_INSTRUCTIONS[args.task]}\n"
                f"   kept {kept}/{n}, refers to the answer {refers}/{n}; tokens p50 "
                f"{statistics.median(tokens):.0f} p90 {_pct(tokens, 0.9):.0f} max {max(tokens)}; "
                f"writing ms p50 {statistics.median(ms):.0f} p90 {_pct(ms, 0.9):.0f} max {max(ms):.0f}",
                flush=True,
            )
            results += [
                f"v{v}_kept={kept}",
                f"v{v}_refers={refers}",
                f"v{v}_tokens_p50={statistics.median(tokens):.0f}",
                f"v{v}_tokens_max={max(tokens)}",
                f"v{v}_ms_p50={statistics.median(ms):.0f}",
                f"v{v}_ms_max={max(ms):.0f}",
            ]
        print()
        for (_, mode_id, planned, answer), rows in zip(cases, table, strict=True):
            hint = (
                ""
                if args.no_hints or not planned.follow_up_hint
                else f" (hint: {planned.follow_up_hint})"
            )
            print(f"[{mode_id}] {planned.text}{hint}\n  answer: {answer}")
            for row in rows:
                print(f"  {row}")
    finally:
        server.stop(idle_timeout_s=0)
    print("RESULT " + " ".join(results))


if __name__ == "__main__":
    main()
