"""The report page is rendered from its template with every value escaped."""

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
    """Two questions (the first past its time box), a reply talked over, one that cut in."""
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
        ("interviewer", "You mentioned latency. How did you measure it?", box + 20.5, box + 22, 640, True, 0),
        ("candidate", "With histograms, and we kept the tail low.", box + 21.5, box + 30, None, False, 0),
        ("interviewer", mode.questions[1].text, box + 29.5, box + 34, 1900, False, 1),
        ("candidate", "A race in the scheduler.", box + 35, box + 40, None, False, 1),
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
    ]  # fmt: skip
    assert len(tl.bands) == 2 and tl.bands[0].x < tl.bands[1].x  # question 1, then question 2
    assert len(tl.boxes) == 1 and "past its" in tl.boxes[0].label  # question 1 ran over its box
    assert sorted(m.cls for m in tl.marks) == ["cut-in", "talked-over"]
    lanes = {b.cls.split()[0]: b.y for b in tl.turns}
    assert lanes["interviewer"] < lanes["candidate"]  # the interviewer's lane above
    assert all(92 <= b.x <= tl.width and b.x + b.w <= tl.width for b in tl.turns)
    lat = drawn["latencies"]
    assert [b.label for b in lat.bars] == ["reply 1: 640 ms", "reply 2: 1900 ms"]
    assert lat.bars[1].h > lat.bars[0].h and lat.bars[1].cls == "slow" and lat.median_ms == 1900
    assert sorted(b.label for b in drawn["scores"].bars) == ["communication: 4/5", "debugging: 2/5"]

    page = to_html(report, token)
    assert page.count("<svg") == 3 and "<script>" not in page and "&lt;script&gt;" in page
    assert len(re.findall(r'<rect class="(?:interviewer|candidate)', page)) == 6
    assert 'class="talked-over"' in page and 'class="cut-in"' in page
    assert "candidate talked over the interviewer (1)" in page and "interviewer cut in (1)" in page
    assert "@media print" in page


def test_a_report_without_turns_or_scores_draws_nothing_it_cannot(tmp_path):
    from interviewer.report_charts import charts

    store = Store(f"sqlite:///{tmp_path}/e.db")
    mode = get_mode("technical")
    iid, token = store.create_interview(mode.id, {}, "scripted")
    report = build_report(store.get(iid), mode)
    assert charts(report) == {"timeline": None, "latencies": None, "scores": None}
    assert "<svg" not in to_html(report, token)
