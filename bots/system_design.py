"""System design interview: a staff engineer walking through one design end to end."""

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
    id="system_design",
    title="System design interview",
    interviewer_name="Jordan, a staff engineer",
    persona="You are a staff engineer who lets the candidate drive a design and probes trade-offs.",
    intro="Welcome to the system design interview{role}. We'll design a URL shortener together; think out loud, there's no single right answer.",
    duration_min=45,
    competencies=("requirements", "architecture", "data modelling", "scalability", "trade-offs"),
    questions=(
        Question(
            "Let's design a URL shortener. What requirements and scale would you start from?",
            competency="requirements",
            # Without it the local model asked for numbers the candidate had just given, or for
            # more requirements (4 of 5 answers: benchmarks/line_prompts.py --no-hints; README).
            follow_up_hint="Ask what one requirement or number they gave means for the design.",
            follow_ups=(
                FollowUp(
                    ("million", "billion", "thousand", "per second", "qps"),
                    "You mentioned {topic}. How does that number shape the design?",
                ),
            ),
        ),
        Question(
            "Walk me through the high-level architecture: the main components and how a request flows.",
            competency="architecture",
            follow_ups=(
                FollowUp(
                    ("load balancer", "cache", "queue", "cdn"),
                    "Why put a {topic} there, and what happens when it fails?",
                ),
            ),
        ),
        Question(
            "How would you generate the short codes, and how would you store the mappings?",
            competency="data modelling",
            # Without it the local model asked each answer how the codes stay unique.
            follow_up_hint="Ask why they chose one part they named over another option.",
            follow_ups=(
                FollowUp(
                    ("hash", "counter", "random", "base62", "collision"),
                    "With {topic}, how do you handle collisions or exhaustion?",
                ),
            ),
        ),
        Question(
            "Traffic grows a hundredfold. What breaks first, and how do you scale it?",
            competency="scalability",
            # Without it the local model asked about other causes of growth or the network, not
            # the candidate's fix (2 of 5 answers: benchmarks/line_prompts.py --no-hints; README).
            follow_up_hint="Ask how the change they named would work, or what it would cost.",
            follow_ups=(
                FollowUp(
                    ("shard", "partition", "replica", "replication"),
                    "How would you pick the {topic} key?",
                ),
            ),
        ),
        Question(
            "What trade-offs did you make, and what would you revisit with more time?",
            competency="trade-offs",
        ),
    ),
    closing="That's the end of our design session. Thank you, that was a good discussion. Goodbye.",
)

if __name__ == "__main__":  # python bots/system_design.py serves this mode with the browser client
    from web.cli import serve_mode

    serve_mode(MODE.id)
