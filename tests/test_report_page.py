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
