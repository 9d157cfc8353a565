"""Technical interview: a senior engineer probing how the candidate builds and debugs software."""

from interviewer.plan import FollowUp, InterviewMode, Question

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
        ),
    ),
    closing="That's all my questions. Thank you for your time today; we'll be in touch soon. Goodbye.",
)

if __name__ == "__main__":
    from web.cli import serve_mode

    serve_mode(MODE.id)
