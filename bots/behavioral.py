"""Behavioral interview: a hiring manager asking for real situations, STAR style."""

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
    id="behavioral",
    title="Behavioral interview",
    interviewer_name="Sam, the hiring manager",
    persona="You are a warm, attentive hiring manager who asks for concrete situations, actions and results.",
    intro="Thanks for making time for this conversation{role}. I'll ask about situations you've been in; specific examples help me most.",
    duration_min=30,
    competencies=("ownership", "collaboration", "conflict resolution", "learning", "communication"),
    questions=(
        Question(
            "Tell me about yourself and what brings you to this role.",
            competency="communication",
            # Without it the local model asks what they would bring to the role, not about what
            # they told (3 of 6 answers: benchmarks/line_prompts.py --no-hints; README).
            follow_up_hint="Ask about something they did, not about the role they want.",
            follow_ups=(
                FollowUp(
                    ("startup", "team lead", "manager", "switch"),
                    "You mentioned {topic}. What did that teach you about how you like to work?",
                ),
            ),
        ),
        Question(
            "Tell me about a time you disagreed with a colleague. What happened?",
            competency="conflict resolution",
            follow_ups=(
                FollowUp(
                    ("manager", "boss", "lead"),
                    "How did your {topic} react, and what would you do differently?",
                ),
                FollowUp(
                    ("compromise", "agreed", "data"),
                    "You mentioned {topic}. How did you get there?",
                ),
            ),
        ),
        Question(
            "Describe a project that failed or went badly. What did you learn?",
            competency="learning",
            follow_up_hint="Ask what they did when one thing they named went wrong, not what they learned.",
            follow_ups=(
                FollowUp(
                    ("fail", "failed", "mistake", "deadline", "late"),
                    "You said {topic}. What did you do the very next week?",
                ),
            ),
        ),
        Question(
            "Tell me about a time you took ownership of something nobody asked you to do.",
            competency="ownership",
        ),
        Question(
            "How do you keep a team informed when plans change?",
            competency="collaboration",
        ),
    ),
    closing="Those are all my questions. Thank you, it was good talking with you. We'll follow up soon. Goodbye.",
)

if __name__ == "__main__":  # python bots/behavioral.py serves this mode with the browser client
    from web.cli import serve_mode

    serve_mode(MODE.id)
