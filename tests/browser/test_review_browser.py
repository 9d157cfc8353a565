"""The reviewers' page in Chromium: the credential, the list, filters, a report, delete.

Saves tests/artifacts/review_page.png, report_page.png, and the report printed:
report_print.png (print media) and report_page.pdf.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from interviewer.store import InterviewRow, now_utc
from tests.browser.chromium import launch
from tests.test_review import TOKEN, populate

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"


def _scored_interview(store) -> str:
    """A finished technical interview with replies, a talk-over, a cut-in and scores (the screenshot)."""
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
        # A pause mid-answer, answered: the candidate went on 0.5 s into the reply (a cut-in).
        ("interviewer", "A race issue is", 85.9, 86.6, 910, True, 1),
        ("candidate", "So we added a lease with a fencing token and a test that ran the workers in parallel for an hour.", 86.4, 118, None, False, 1),
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


def _record(recordings, interview, seconds: float) -> Path:
    """An Ogg/Opus recording of ``seconds`` (quiet noise), listed as the interview's from its start."""
    import numpy as np
    import soundfile as sf

    path = recordings.path_for(interview.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    audio = (rng.standard_normal((int(16000 * seconds), 2)) * 0.01).astype("float32")
    sf.write(path, audio, 16000, format="OGG", subtype="OPUS")
    recordings.add(interview.id, path, 16000, 2, interview.turns[0].started_at)
    recordings.finish(interview.id, now_utc(), seconds, path.stat().st_size, [])
    return path


@pytest.fixture(scope="module")
def review_server(tmp_path_factory, models):
    from interviewer.config import load_settings
    from interviewer.recordings import RecordingStore
    from tests.conftest import ThreadedServer

    tmp = tmp_path_factory.mktemp("review")
    settings = load_settings(
        DATABASE_URL=f"sqlite:///{tmp / 'r.db'}",
        REVIEW_TOKEN=TOKEN,
        RECORDINGS_DIR=str(tmp / "rec"),
    )
    server = ThreadedServer(settings, models).start()
    store = server.app.state.store
    ids = populate(store)
    ids["scored"] = _scored_interview(store)
    recordings = RecordingStore(store, settings.recordings_dir)
    files = {k: _record(recordings, store.get(ids[k]), s) for k, s in (("scored", 145), ("old", 5))}
    yield server, ids, files
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

    server, ids, files = review_server
    store = server.app.state.store
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
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
            # Scores with their competencies' names in view; a running one cannot be deleted.
            chips = page.locator(f'tr[data-id="{ids["old"]}"] .score').all_inner_texts()
            assert [c.split() for c in chips] == [["debugging", "4"], ["conflict", "2"]], chips
            running = page.locator(f'tr[data-id="{ids["new"]}"] button.danger')
            assert running.is_disabled() and "running" in running.get_attribute("title")
            deletable = page.locator(f'tr[data-id="{ids["old"]}"] button.danger')
            assert deletable.is_enabled()
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
            assert page.locator("#timeline line.cut-in").count() == 1
            page.screenshot(path=str(ARTIFACTS / "report_page.png"), full_page=True)

            # The recording plays in the report, and the transcript follows it.
            page.wait_for_function(
                "document.querySelector('#recording audio').duration > 140", timeout=15000
            )
            starts = [
                float(v)
                for v in page.eval_on_selector_all(
                    "#transcript p[data-start]", "ps => ps.map(p => p.dataset.start)"
                )
            ]
            assert len(starts) == 10 and starts == sorted(starts) and starts[0] == 0.0
            assert abs(starts[5] - 57) < 0.5  # the turn that began 57 s in, 57 s into the audio
            for i in (5, 8, 2):
                page.eval_on_selector(
                    "#recording audio", f"a => {{ a.currentTime = {starts[i] + 0.5}; }}"
                )
                page.wait_for_function(f"document.body.dataset.heard === '{i}'", timeout=5000)
                assert page.locator("#transcript p.now").count() == 1
            page.locator("#transcript p[data-start]").nth(3).click()  # a click plays that line
            page.wait_for_function(
                f"(() => {{ const a = document.querySelector('#recording audio');"
                f" return !a.paused && a.currentTime >= {starts[3] - 0.35}; }})()",
                timeout=10000,
            )
            page.wait_for_function("document.body.dataset.heard === '3'", timeout=5000)
            page.eval_on_selector("#recording audio", "a => a.pause()")

            # Printed: the controls (the links, the player, the line being heard) go; the
            # pictures and the whole transcript stay.
            assert page.locator(".links").is_visible() and page.locator("#recording").is_visible()
            page.emulate_media(media="print")
            assert not page.locator(".links").is_visible()
            assert not page.locator("#recording audio").is_visible()
            assert not page.get_by_role("heading", name="Recording").is_visible()
            for chart in ("#timeline svg", "#latency svg", "#scores svg"):
                box = page.locator(chart).bounding_box()
                assert box and box["width"] > 500 and box["height"] > 40, (chart, box)
            lines = page.locator("#transcript p")
            assert lines.count() == 10 and all(lines.nth(i).is_visible() for i in range(10))
            assert page.locator("#transcript p.now").count() == 1  # still marked, not painted
            assert page.eval_on_selector(
                "#transcript p.now", "p => getComputedStyle(p).backgroundColor"
            ) in ("rgba(0, 0, 0, 0)", "transparent")
            page.screenshot(path=str(ARTIFACTS / "report_print.png"), full_page=True)
            pdf = page.pdf(format="A4", print_background=True)
            pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
            assert pdf.startswith(b"%PDF") and pages >= 2, (len(pdf), pages)
            (ARTIFACTS / "report_page.pdf").write_bytes(pdf)
            page.emulate_media(media="screen")
            assert page.locator(".links").is_visible()

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
            assert not files["old"].exists() and files["scored"].exists()  # its recording too
        finally:
            browser.close()
