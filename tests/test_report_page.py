"""The report page is rendered from its template with every value escaped."""

import pytest

from bots import get_mode
from interviewer.report import build_report, to_html
from interviewer.store import Store, now_utc


def test_the_report_page_escapes_what_the_candidate_said_and_shows_scores(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/r.db")
    mode = get_mode("behavioral")
    iid, token = store.create_interview(mode.id, {"name": "<img src=x onerror=alert(1)>"}, "local")
    t = now_utc()
    store.add_turn(iid, "interviewer", mode.questions[0].text, t, t, question_index=0)
    store.add_turn(
        iid, "candidate", "I led the team </p><script>alert(2)</script>", t, t, question_index=0
    )
    interview = store.get(iid)
    scores = {"communication": {"score": 4, "evidence": ["I led the team"]}}
    page = to_html(build_report(interview, mode, scores, "the local model"), token)
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page and "&lt;img src=x" in page
    assert "communication (score 4/5)" in page and "<blockquote>I led the team</blockquote>" in page
    assert f'href="/report/{token}.json"' in page and "the local model" in page
    assert page.count("No answer on this competency.") == len(mode.competencies) - 1


def _interview_with_everything(tmp_path):
    """Two questions (the first past its time box), a reply talked over, two that cut in.

    Times as the recorder stores them: from the first audio of a reply, to where the
    candidate's voice fell silent.
    """
    from datetime import timedelta

    store = Store(f"sqlite:///{tmp_path}/c.db")
    mode = get_mode("technical")
    iid, token = store.create_interview(mode.id, {"name": "Ada"}, "local")
    t0 = now_utc()

    def at(s: float):
        return t0 + timedelta(seconds=s)

    box = mode.questions[0].time_box_s
    turns = [
        ("interviewer", mode.questions[0].text, 0, 6, None, False, 0),
        ("candidate", "I built a payments ledger </svg><script>x()</script>", 7, box + 20, None, False, 0),
        # Talked over: the candidate let the reply play 1.5 s, then spoke over it.
        ("interviewer", "You mentioned latency. How did you measure it?", box + 20.5, box + 22.2, 640, True, 0),
        ("candidate", "With histograms, and we kept the tail low.", box + 22, box + 30, None, False, 0),
        # Cut in (stored overlapping: it began before the candidate's speech had ended).
        ("interviewer", mode.questions[1].text, box + 29.5, box + 34, 1900, False, 1),
        ("candidate", "A race in the scheduler.", box + 35, box + 37, None, False, 1),
        # Cut in on a pause: the candidate went on 0.4 s into the reply, with the same answer.
        ("interviewer", "Thanks.", box + 38.5, box + 39.1, 1500, True, 1),
        ("candidate", "Two workers took the same job.", box + 38.9, box + 42, None, False, 1),
    ]  # fmt: skip
    for role, text, a, b, latency, interrupted, q in turns:
        store.add_turn(iid, role, text, at(a), at(b), latency, interrupted, q)
    return store.get(iid), mode, token


def test_the_report_draws_the_timeline_latency_and_scores(tmp_path):
    import re

    from interviewer.report_charts import charts

    interview, mode, token = _interview_with_everything(tmp_path)
    scores = {
        "communication": {"score": 4, "evidence": []},
        "debugging": {"score": 2, "evidence": []},
    }
    report = build_report(interview, mode, scores, "the local model")
    drawn = charts(report)
    tl = drawn["timeline"]
    assert [b.cls for b in tl.turns] == [
        "interviewer", "candidate", "interviewer interrupted", "candidate", "interviewer", "candidate",
        "interviewer interrupted", "candidate",
    ]  # fmt: skip
    assert len(tl.bands) == 2 and tl.bands[0].x < tl.bands[1].x  # question 1, then question 2
    assert len(tl.boxes) == 1 and "past its" in tl.boxes[0].label  # question 1 ran over its box
    assert [m.cls for m in tl.marks] == ["talked-over", "cut-in", "cut-in"]
    over, overlap, pause = tl.marks
    assert over.x == tl.turns[2].x + tl.turns[2].w  # where the talked-over reply stopped
    assert overlap.x == tl.turns[4].x and pause.x == tl.turns[6].x  # where the cut-ins began
    assert "went on 0.4 s into the reply" in pause.label
    lanes = {b.cls.split()[0]: b.y for b in tl.turns}
    assert lanes["interviewer"] < lanes["candidate"]  # the interviewer's lane above
    assert all(92 <= b.x <= tl.width and b.x + b.w <= tl.width for b in tl.turns)
    lat = drawn["latencies"]
    assert [b.label for b in lat.bars] == [
        "reply 1: 640 ms",
        "reply 2: 1900 ms",
        "reply 3: 1500 ms",
    ]
    assert lat.bars[1].h > lat.bars[0].h and lat.bars[1].cls == "slow" and lat.median_ms == 1500
    assert sorted(b.label for b in drawn["scores"].bars) == ["communication: 4/5", "debugging: 2/5"]

    page = to_html(report, token)
    assert page.count("<svg") == 3 and "<script>" not in page and "&lt;script&gt;" in page
    assert len(re.findall(r'<rect class="(?:interviewer|candidate)', page)) == 8
    assert 'class="talked-over"' in page and 'class="cut-in"' in page
    assert "candidate talked over the interviewer (1)" in page and "interviewer cut in (2)" in page
    assert (
        "Replies cut short: 2 (the candidate talked over the interviewer 1,"
        " the interviewer cut in on the candidate 2)" in page
    )
    assert "@media print" in page


def test_a_report_without_turns_or_scores_draws_nothing_it_cannot(tmp_path):
    from interviewer.report_charts import charts

    store = Store(f"sqlite:///{tmp_path}/e.db")
    mode = get_mode("technical")
    iid, token = store.create_interview(mode.id, {}, "scripted")
    report = build_report(store.get(iid), mode)
    assert charts(report) == {"timeline": None, "latencies": None, "scores": None}
    assert "<svg" not in to_html(report, token)


def _turn(role: str, a: float, b: float, interrupted: bool = False) -> dict:
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 1, 5, 10, tzinfo=UTC)
    return {
        "role": role,
        "text": "words",
        "started_at": (t0 + timedelta(seconds=a)).isoformat(),
        "ended_at": (t0 + timedelta(seconds=b)).isoformat(),
        "interrupted": interrupted,
    }


@pytest.mark.parametrize(
    ("went_on_s", "kind"),
    [(0.0, "cut-in"), (0.6, "cut-in"), (1.0, "cut-in"), (1.3, "talked-over"), (3.0, "talked-over")],
)
def test_a_reply_cut_short_is_a_cut_in_only_if_the_candidate_went_on_at_once(went_on_s, kind):
    from interviewer.report_charts import overlaps

    turns = [
        _turn("candidate", 0, 5),
        _turn("interviewer", 6.5, 6.7 + went_on_s, interrupted=True),
        _turn("candidate", 6.5 + went_on_s, 12),
    ]
    assert [(i, k) for i, k, _ in overlaps(turns)] == [(1, kind)]


def test_what_is_neither_cut_in_nor_talked_over():
    from interviewer.report_charts import overlaps

    said_to_its_end = [
        _turn("candidate", 0, 5),
        _turn("interviewer", 6, 9),
        _turn("candidate", 9.2, 12),
    ]
    assert overlaps(said_to_its_end) == []
    # The greeting, cut short at once: there was no answer to cut in on.
    greeting = [_turn("interviewer", 0, 2, interrupted=True), _turn("candidate", 1.8, 6)]
    assert [k for _, k, _ in overlaps(greeting)] == ["talked-over"]
    # Cut short as the interview ended (no candidate turn after it).
    last = [_turn("candidate", 0, 5), _turn("interviewer", 6, 7, interrupted=True)]
    assert [k for _, k, _ in overlaps(last)] == ["talked-over"]
