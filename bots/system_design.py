"""System design interview: a staff engineer walking through one design end to end."""

from interviewer.plan import FollowUp, InterviewMode, Question

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

if __name__ == "__main__":
    from web.cli import serve_mode

    serve_mode(MODE.id)
