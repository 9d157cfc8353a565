"""The reviewers' page in Chromium: the credential, the list, filters, a report, delete.

Saves tests/artifacts/review_page.png and tests/artifacts/report_page.png.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from interviewer.store import InterviewRow, now_utc
from tests.test_review import TOKEN, populate

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"


def _scored_interview(store) -> str:
    """A finished technical interview with replies, a talk-over and scores, for the screenshot."""
    from bots import get_mode
    from interviewer.report import build_report

    mode = get_mode("technical")
    iid, _ = store.create_interview(mode.id, {"name": "Katherine Johnson", "role": "SRE"}, "local")
    t0 = now_utc() - timedelta(minutes=6)
    script = [
        ("interviewer", mode.questions[0].text, 0, 5, None, False, 0),
        ("candidate", "I moved our payments ledger to a new database without downtime, with dual writes and a backfill.", 6, 31, None, False, 0),
        ("interviewer", "You mentioned dual writes. How did you check the two stores agreed?", 31.7, 36, 700, False, 0),
        ("candidate", "A nightly diff job, and we alarmed on any mismatch over a hundred rows.", 37, 52, None, False, 0),
        ("interviewer", "Thanks, that helps. " + mode.questions[1].text, 52.6, 58, 620, True, 1),
        ("candidate", "The hardest one was a race in our job scheduler; logs showed two workers taking the same job.", 57, 85, None, False, 1),
        ("interviewer", "A race issue is tricky. How did you make sure it was really fixed?", 85.9, 90, 910, False, 1),
        ("candidate", "We added a lease with a fencing token and a test that ran the workers in parallel for an hour.", 91, 118, None, False, 1),
        ("interviewer", mode.questions[2].text, 118.5, 123, 540, False, 2),
        ("candidate", "I test what would hurt users first: money paths get integration tests.", 124, 140, None, False, 2),
    ]  # fmt: skip
    for role, text, a, b, latency, interrupted, q in script:
        store.add_turn(
            iid,
            role,
            text,
            t0 + timedelta(seconds=a),
            t0 + timedelta(seconds=b),
            latency,
            interrupted,
            q,
        )
    scores = {
        "communication": {"score": 4, "evidence": ["dual writes and a backfill"]},
        "debugging": {"score": 5, "evidence": ["a lease with a fencing token"]},
        "testing": {"score": 3, "evidence": ["money paths get integration tests"]},
    }
    with store._session.begin() as s:  # it began when its first turn did, six minutes ago
        s.execute(update(InterviewRow).where(InterviewRow.id == iid).values(started_at=t0))
    store.finish(iid, "ended")
    store.save_report(iid, build_report(store.get(iid), mode, scores, "the local model"))
    return iid


@pytest.fixture(scope="module")
def review_server(tmp_path_factory, models):
    from interviewer.config import load_settings
    from tests.conftest import ThreadedServer

    db = tmp_path_factory.mktemp("review") / "r.db"
    settings = load_settings(DATABASE_URL=f"sqlite:///{db}", REVIEW_TOKEN=TOKEN)
    server = ThreadedServer(settings, models).start()
    ids = populate(server.app.state.store)
    ids["scored"] = _scored_interview(server.app.state.store)
    yield server, ids
    server.stop()


def _refused(page, url: str) -> bool:
    """Whether Chromium shows nothing of ``url``: a 401 page, or its auth failure (headless)."""
    from playwright.sync_api import Error

    try:
        response = page.goto(url)
    except Error as e:
        return "ERR_INVALID_AUTH_CREDENTIALS" in str(e)
    return response.status == 401 and "Alan" not in page.content()


def test_the_reviewers_page_in_chromium(review_server):
    from playwright.sync_api import sync_playwright

    server, ids = review_server
    store = server.app.state.store
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            # Without the credential nothing is reachable: the page, the delete route.
            anon = browser.new_context()
            assert anon.request.get(f"{server.url}/review").status == 401
            assert _refused(anon.new_page(), f"{server.url}/review")
            forged = anon.request.post(f"{server.url}/review/{ids['new']}/delete")
            assert forged.status == 401
            wrong = browser.new_context(
                http_credentials={"username": "reviewer", "password": "not-the-token"}
            )
            assert wrong.request.get(f"{server.url}/review").status == 401
            assert _refused(wrong.new_page(), f"{server.url}/review")
            assert store.get(ids["new"]) is not None

            ctx = browser.new_context(
                http_credentials={"username": "reviewer", "password": TOKEN},
                viewport={"width": 1100, "height": 800},
            )
            page = ctx.new_page()
            assert page.goto(f"{server.url}/review").status == 200
            rows = page.locator("#interviews tr[data-id]")
            assert rows.count() == 4
            assert rows.first.get_attribute("data-id") == ids["scored"]  # newest first
            assert "Ada <b>Lovelace</b>" in page.locator("#interviews").inner_text()  # as text
            page.screenshot(path=str(ARTIFACTS / "review_page.png"), full_page=True)

            # Filter: the behavioral one only.
            page.select_option("select[name=mode]", "behavioral")
            page.click("button[type=submit]")
            page.wait_for_url("**/review?mode=behavioral*")
            assert [rows.nth(i).get_attribute("data-id") for i in range(rows.count())] == [
                ids["mid"]
            ]

            # Open a report: the pictures are there.
            page.goto(f"{server.url}/review")
            page.locator(f'tr[data-id="{ids["scored"]}"] a.open').click()
            page.wait_for_selector("#timeline svg")
            assert page.locator("#timeline rect.candidate").count() == 5
            assert page.locator("#latency rect.bar").count() == 4  # the replies with a latency
            assert page.locator("#scores rect.s5").count() == 1
            assert page.locator("#timeline line.talked-over").count() == 1
            page.screenshot(path=str(ARTIFACTS / "report_page.png"), full_page=True)

            # Delete one, confirming the dialog.
            page.goto(f"{server.url}/review")
            page.once("dialog", lambda d: d.accept())
            with page.expect_response(lambda r: "/delete" in r.url) as posted:
                page.locator(f'tr[data-id="{ids["old"]}"] button.danger').click()
            assert posted.value.status == 303, (posted.value.status, posted.value.text())
            page.wait_for_url("**/review?deleted=1")
            assert "were deleted" in page.inner_text("body")
            assert page.locator(f'tr[data-id="{ids["old"]}"]').count() == 0
            assert store.get(ids["old"]) is None and store.get(ids["mid"]) is not None
        finally:
            browser.close()
