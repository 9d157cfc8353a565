"""Technical interview: a senior engineer probing how the candidate builds and debugs software."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipecat.pipeline.pipeline import Pipeline

from interviewer.plan import FollowUp, InterviewMode, Question

if TYPE_CHECKING:
    from bots.pipeline import InterviewStages


def pipeline(s: InterviewStages) -> Pipeline:
    """What this interview runs, stage by stage (the factories are shared: bots/pipeline.py)."""
    return Pipeline(
        [
            s.transport.input(),  # the candidate's microphone and RTVI messages
            s.client_watch(),  # a client that sends no audio hears a nudge, then a goodbye
            *s.interim_words(),  # the words so far, live in the page while they speak
            s.stt(),  # Whisper, on each stretch of speech
            *s.answer_prefill(),  # LLM=local: the model reads the answer while it is spoken
            s.user_turn(),  # VAD + smart-turn + the words decide the candidate has finished
            s.conductor(),  # the plan's clock: time boxes, monologue cap, silence nudges
            s.brain(),  # the plan with the local model | an OpenAI-compatible LLM | the script
            s.fallback(),  # a failed reply becomes a spoken apology, never silence
            s.avatar(),  # listening, thinking, speaking, emotion for the page
            s.tts(),  # Piper | Cartesia
            s.transport.output(),  # the interviewer's voice, paced in real time
            *s.recorder(),  # with the candidate's consent: both sides' audio, into a file
            s.assistant_turn(),  # what was actually said (cut where interrupted) into the context
            s.closer(),  # ends the session after the closing words
        ]
    )


MODE = InterviewMode(
    id="technical",
    title="Technical interview",
    interviewer_name="Alex, a senior software engineer",
    persona="You are a calm, precise senior software engineer who values clear reasoning.",
    intro="Thanks for joining this technical interview{role}. I'll ask a few questions about how you build and debug software; answer as you would to a colleague.",
    duration_min=30,
    competencies=("problem solving", "coding practice", "debugging", "testing", "communication"),
    questions=(
        Question(
            "To start, tell me about a technical project you're proud of, and your part in it.",
            competency="communication",
            # Without it the local model asked about "the main challenge you faced" whatever the
            # answer said (benchmarks/line_prompts.py --no-hints; README).
            follow_up_hint="Ask how they did the hard part or their own part they named.",
            follow_ups=(
                FollowUp(
                    ("performance", "latency", "scale", "scaling"),
                    "You mentioned {topic}. How did you measure it, and what changed as a result?",
                ),
                FollowUp(
                    ("team", "we "), "What was your own contribution, as opposed to the team's?"
                ),
            ),
        ),
        Question(
            "Tell me about the hardest bug you've tracked down. How did you find it?",
            competency="debugging",
            follow_ups=(
                FollowUp(
                    ("log", "logs", "logging", "debugger", "profil"),
                    "You mentioned {topic}. What did it show you that you couldn't see before?",
                ),
                FollowUp(
                    ("race", "concurren", "thread", "memory", "leak"),
                    "A {topic} issue is tricky. How did you make sure it was really fixed?",
                ),
                FollowUp(
                    ("fail", "failed", "again", "tried"),
                    "You said you {topic}. What did you change between attempts?",
                ),
            ),
        ),
        Question(
            "How do you decide what to test, and how much, before you ship a change?",
            competency="testing",
            # Without it the local model asked how tests are made "comprehensive", or this very
            # question again (3 of 4 answers: benchmarks/line_prompts.py --no-hints; README).
            follow_up_hint="Ask why they test one thing they named more, or less, than the rest.",
            follow_ups=(
                FollowUp(
                    ("unit", "integration", "end to end", "e2e"),
                    "Where do {topic} tests stop being worth their cost for you?",
                ),
            ),
        ),
        Question(
            "Describe how you would design a rate limiter for a public API.",
            competency="problem solving",
            follow_ups=(
                FollowUp(
                    ("token bucket", "sliding window", "fixed window", "leaky bucket"),
                    "Why {topic} rather than the alternatives?",
                ),
                FollowUp(
                    ("redis", "cache", "distributed"),
                    "How does your design behave when the {topic} layer is unavailable?",
                ),
            ),
        ),
        Question(
            "What does good code review look like to you, from both sides?",
            competency="coding practice",
            # Without it the local model asked how review is made "efficient and effective", or
            # about "the candidate" (3 of 5 answers: benchmarks/line_prompts.py --no-hints; README).
            follow_up_hint="Ask why one practice they named matters to them, or how they do it.",
        ),
    ),
    closing="That's all my questions. Thank you for your time today; we'll be in touch soon. Goodbye.",
)

if __name__ == "__main__":  # python bots/technical.py serves this mode with the browser client
    from web.cli import serve_mode

    serve_mode(MODE.id)
