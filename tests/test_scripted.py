"""The offline scripted interviewer's decisions (pure logic, fast)."""

from bots import MODES, get_mode
from interviewer.plan import CandidateContext
from interviewer.scripted import HEARD_YOU, ScriptedInterviewer

LONG = (
    "I led the migration of our payments service to a new database, planned the rollout in "
    "three stages, wrote the runbooks and measured error rates at every step along the way."
)


def test_opening_greets_by_name_and_asks_first_question():
    mode = get_mode("technical")
    brain = ScriptedInterviewer(mode, CandidateContext(name="Ada", role="backend engineer"))
    reply = brain.opening()
    assert "Ada" in reply.text and "backend engineer" in reply.text
    assert reply.text.endswith(mode.questions[0].text)


def test_follow_up_uses_what_was_said_then_moves_on():
    mode = get_mode("technical")
    brain = ScriptedInterviewer(mode)
    brain.opening()
    first = brain.reply(
        "Our search had terrible latency at peak, so I rebuilt the caching layer and the query planner myself."
    )
    assert "latency" in first.text and first.question_index == 0
    second = brain.reply(LONG)
    assert mode.questions[1].text in second.text and second.question_index == 1


def test_short_answer_gets_a_probe_once():
    brain = ScriptedInterviewer(get_mode("behavioral"))
    brain.opening()
    probe = brain.reply("Yes.")
    assert "example" in probe.text and probe.question_index == 0
    moved = brain.reply("Yes.")
    assert moved.question_index == 1


def test_hesitation_is_met_with_encouragement():
    brain = ScriptedInterviewer(get_mode("behavioral"))
    brain.opening()
    reply = brain.reply("Um, I don't know, I'm not sure.")
    assert reply.emotion == "concerned" and "take your time" in reply.text


def test_repeat_and_skip_requests():
    mode = get_mode("system_design")
    brain = ScriptedInterviewer(mode)
    brain.opening()
    again = brain.reply("Sorry, could you repeat the question?")
    assert mode.questions[0].text in again.text and again.question_index == 0
    skipped = brain.reply("Can we skip this one?")
    assert mode.questions[1].text in skipped.text and skipped.question_index == 1


def test_every_mode_closes_after_its_last_question():
    for mode in MODES.values():
        brain = ScriptedInterviewer(mode)
        brain.opening()
        replies = [brain.reply(LONG) for _ in range(len(mode.questions) * 2)]
        closing = next(r for r in replies if r.finished)
        assert mode.closing in closing.text
        asked = " ".join(r.text for r in replies)
        positions = [asked.find(q.text) for q in mode.questions[1:]]
        assert all(p >= 0 for p in positions) and positions == sorted(positions)


def test_candidate_context_is_cleaned_and_limited():
    ctx = CandidateContext.from_dict(
        {"name": "  Ada  ", "resume": "x" * 10_000, "role": 42, "evil": "y"}
    )
    assert ctx.name == "Ada" and len(ctx.resume) == CandidateContext.MAX_FIELD and ctx.role == ""


def test_a_greeting_cut_before_its_question_gets_the_question_again_not_an_answer():
    mode = get_mode("technical")
    brain = ScriptedInterviewer(mode, CandidateContext(name="Ada"))
    opening = brain.opening().text
    cut = opening[: opening.index(mode.questions[0].text)]  # heard up to the question
    assert brain.first_question_missed(cut) and brain.first_question_missed("")
    assert not brain.first_question_missed(opening)
    # Word-timed voices record words without the question's punctuation or case.
    assert not brain.first_question_missed(opening.replace(",", "").lower())
    again = brain.ask_first_again()
    assert again.text.endswith(mode.questions[0].text) and again.text != mode.questions[0].text
    assert again.question_index == 0 and brain.cursor.answers == 0 and not again.finished
    assert not brain.first_question_missed(again.text)
    # The answer after it is the first answer to question 1, as if the greeting had been heard.
    fresh = ScriptedInterviewer(mode, CandidateContext(name="Ada"))
    fresh.opening()
    expected = fresh.reply(LONG)
    first = brain.reply(LONG)
    assert (first.kind, first.question_index, first.body) == (
        expected.kind,
        expected.question_index,
        expected.body,
    )
    assert (brain.index, brain.cursor.answers) == (fresh.index, fresh.cursor.answers)
    assert not brain.first_question_missed("Thanks.")  # answered: later cut replies are not it


def test_only_the_first_question_unanswered_can_be_missed():
    mode = get_mode("behavioral")
    brain = ScriptedInterviewer(mode)
    assert not brain.first_question_missed("")  # not started
    brain.opening()
    brain.reply("Could we skip this one?")
    assert brain.index == 1 and not brain.first_question_missed("No problem.")


def test_a_check_on_the_line_is_answered_and_is_not_an_answer():
    mode = get_mode("technical")
    brain = ScriptedInterviewer(mode)
    brain.opening()
    heard = brain.reply("Hello? Can you hear me?")
    assert heard.text == f"{HEARD_YOU} {mode.questions[0].text}" and heard.question_index == 0
    assert (brain.cursor.answers, brain.cursor.follow_ups_used) == (0, 0)
    # The answer that follows is the question's first: it earns the follow-up as before.
    follow_up = brain.reply(
        "Our search had terrible latency at peak, so I rebuilt the caching layer myself."
    )
    assert "latency" in follow_up.text and follow_up.kind == "follow_up"
    # Mid-answer, the candidate is asked to go on, not asked the question again.
    assert brain.reply("Sorry, are you still there?").text == f"{HEARD_YOU} Please go on."
    assert brain.reply("Sorry. And you hear me.").text == f"{HEARD_YOU} Please go on."  # misheard
    # Moonshine's live words for "Hello! Sorry, can you hear me all right?" (seen in a test run).
    misheard = "A little, sorry, And you hear me all right."
    assert brain.reply(misheard).text == f"{HEARD_YOU} Please go on."
    assert brain.cursor.index == 0
    # A long answer that happens to contain the words is an answer.
    answer = brain.reply("I asked my lead, can you hear me out on a rewrite, and she agreed to it.")
    assert HEARD_YOU not in answer.text and answer.question_index == 1


def test_a_check_on_the_line_at_the_wrap_up_does_not_close_the_interview():
    mode = get_mode("behavioral")
    brain = ScriptedInterviewer(mode)
    brain.opening()
    while brain.cursor.phase == "questions":
        brain.reply(LONG)
    heard = brain.reply("Is this working?")
    assert heard.text == f"{HEARD_YOU} {mode.wrap_up}" and not heard.finished
    assert brain.reply("No, that's all.").finished
