"""The reviewers' page: off unless REVIEW_TOKEN is set, Basic auth, filters, delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from interviewer.config import load_settings
from interviewer.store import InterviewRow, Store, now_utc
from tests.pg import db_url, postgres  # noqa: F401  (fixtures)
from web.review import form_token
from web.server import create_app

TOKEN = "review-secret-0123456789"


def populate(store: Store) -> dict[str, str]:
    """Three interviews on three days: technical ended and scored, behavioral dropped, technical live."""
    ids = {}
    for key, mode, name in (
        ("old", "technical", "Ada <b>Lovelace</b>"),
        ("mid", "behavioral", "Grace Hopper"),
        ("new", "technical", "Alan Turing"),
    ):
        iid, _ = store.create_interview(mode, {"name": name, "role": "SRE"}, "local")
        t = now_utc()
        store.add_turn(iid, "interviewer", "Tell me about a project.", t, t, question_index=0)
        store.add_turn(iid, "candidate", f"{name} built things.", t, t, question_index=0)
        ids[key] = iid
    report = {
        "competencies": [
            {"name": "debugging", "score": 4, "evidence": []},
            {"name": "conflict resolution", "score": 2, "evidence": []},
        ]
    }
    store.finish(ids["old"], "ended", report)
    store.finish(ids["mid"], "dropped")
    for key, day, minutes in (("old", 20, 24.5), ("mid", 25, 3), ("new", 30, None)):
        start = datetime(2026, 11, day, 10, tzinfo=UTC)
        end = start + timedelta(minutes=minutes) if minutes else None
        with store._session.begin() as s:
            s.execute(
                update(InterviewRow)
                .where(InterviewRow.id == ids[key])
                .values(started_at=start, ended_at=end)
            )
    return ids


@pytest.fixture
def site(tmp_path):
    settings = load_settings(
        DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}", REVIEW_TOKEN=TOKEN, HOST="127.0.0.1"
    )
    app = create_app(settings, models=object())  # the review routes need no models
    ids = populate(app.state.store)
    return app, ids


def client(app, password: str | None = TOKEN) -> httpx.AsyncClient:
    auth = ("reviewer", password) if password is not None else None
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:7860", auth=auth
    )


async def test_reviews_are_off_without_a_token(tmp_path):
    app = create_app(load_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'o.db'}"), models=object())
    async with client(app) as http:
        assert (await http.get("/review")).status_code == 404
        assert (await http.post("/review/x/delete", data={"form_token": "x"})).status_code == 404


async def test_nothing_is_reachable_without_the_credential(site):
    app, ids = site
    for password in (None, "wrong-password-123", TOKEN + "x", ""):
        async with client(app, password) as http:
            page = await http.get("/review")
            assert page.status_code == 401, password
            assert page.headers["www-authenticate"].startswith(
                'Basic realm="Interviewer reviewers"'
            )
            assert "Alan" not in page.text
            good_form = {"form_token": form_token(TOKEN, ids["new"])}
            deleted = await http.post(f"/review/{ids['new']}/delete", data=good_form)
            assert deleted.status_code == 401
    assert app.state.store.get(ids["new"]) is not None


async def test_the_list_is_newest_first_filtered_and_escaped(site):
    app, ids = site
    async with client(app) as http:
        page = await http.get("/review")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        order = [page.text.index(f'data-id="{ids[k]}"') for k in ("new", "mid", "old")]
        assert order == sorted(order)
        assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in page.text and "<b>Lovelace" not in page.text
        # The scored one shows each score with its competency's name (long ones shortened).
        assert 'title="debugging: 4/5">debugging <b>4</b></span>' in page.text
        assert 'title="conflict resolution: 2/5">conflict <b>2</b></span>' in page.text
        assert "24:30" in page.text and "3:00" in page.text and "running" in page.text  # lengths

        def listed(text: str) -> set[str]:
            return {k for k, i in ids.items() if f'data-id="{i}"' in text}

        assert listed((await http.get("/review?mode=behavioral")).text) == {"mid"}
        assert listed((await http.get("/review?status=ended")).text) == {"old"}
        assert listed((await http.get("/review?since=2026-11-21&until=2026-11-30")).text) == {
            "mid",
            "new",
        }
        assert listed((await http.get("/review?until=2026-11-29")).text) == {"old", "mid"}
        assert (await http.get("/review?since=yesterday")).status_code == 400
        assert "No interviews match" in (await http.get("/review?mode=system_design")).text


async def test_delete_needs_the_page_s_form_and_removes_everything(site):
    app, ids = site
    store: Store = app.state.store
    token = store.get(ids["old"]).token
    form = {"form_token": form_token(TOKEN, ids["old"])}
    async with client(app) as http:
        # A foreign page cannot delete, even with the browser's saved credentials.
        forged = await http.post(f"/review/{ids['old']}/delete", data={"form_token": "guess"})
        assert forged.status_code == 403
        other = {"form_token": form_token(TOKEN, ids["mid"])}  # another row's form
        assert (await http.post(f"/review/{ids['old']}/delete", data=other)).status_code == 403
        cross = await http.post(
            f"/review/{ids['old']}/delete", data=form, headers={"Origin": "http://evil.example"}
        )
        assert cross.status_code == 403 and store.get(ids["old"]) is not None
        done = await http.post(
            f"/review/{ids['old']}/delete", data=form, headers={"Origin": "http://127.0.0.1:7860"}
        )
        assert done.status_code == 303 and done.headers["location"] == "/review?deleted=1"
        assert store.get(ids["old"]) is None and store.get_by_token(token) is None
        assert (await http.get(f"/report/{token}")).status_code == 404
        again = await http.post(f"/review/{ids['old']}/delete", data=form)
        assert again.status_code == 404
        listed = (await http.get("/review?deleted=1")).text
        assert "were deleted" in listed and f'data-id="{ids["old"]}"' not in listed
    with store._session() as s:  # its turns went with it
        from sqlalchemy import func, select

        from interviewer.store import TurnRow

        left = s.scalar(
            select(func.count()).select_from(TurnRow).where(TurnRow.interview_id == ids["old"])
        )
    assert left == 0


def test_search_and_delete_on_both_databases(db_url, tmp_path):  # noqa: F811
    """The reviewers' queries, on SQLite and on a real PostgreSQL."""
    from interviewer.recordings import RecordingStore

    store = Store(db_url)
    ids = populate(store)
    newest_first = [r["id"] for r in store.search()]
    assert newest_first == [ids["new"], ids["mid"], ids["old"]]
    assert [r["id"] for r in store.search(mode="behavioral")] == [ids["mid"]]
    assert [r["id"] for r in store.search(status="ended")] == [ids["old"]]
    since = datetime(2026, 11, 21, tzinfo=UTC)
    until = datetime(2026, 11, 30, tzinfo=UTC)
    assert [r["id"] for r in store.search(since=since, until=until)] == [ids["mid"]]
    old = store.search(status="ended")[0]
    assert old["seconds"] == 24.5 * 60
    assert old["scores"] == {"debugging": 4, "conflict resolution": 2}
    assert old["last_activity"] is None  # only an active one is asked when it was last heard
    live = store.search(status="active")[0]
    assert abs((live["last_activity"] - now_utc()).total_seconds()) < 60  # its turns, just now
    recordings = RecordingStore(store, tmp_path / "rec")
    path = recordings.path_for(ids["old"])
    path.parent.mkdir(parents=True)
    path.write_bytes(b"OggS")
    recordings.add(ids["old"], path, 16000, 2, now_utc())
    assert recordings.delete_for_interview(ids["old"]) and not path.exists()
    assert store.delete(ids["old"]) and store.get(ids["old"]) is None
    assert not store.delete(ids["old"])
    assert [r["id"] for r in store.search()] == [ids["new"], ids["mid"]]


async def test_a_running_interview_cannot_be_deleted(site):
    """Active and heard from lately (or live in this process): no Delete button, and 409."""
    app, ids = site
    store: Store = app.state.store
    stalled, _ = store.create_interview("technical", {"name": "Killed Server"}, "local")
    quiet = now_utc() - timedelta(minutes=20)
    store.add_turn(
        stalled, "interviewer", "Tell me about a project.", quiet, quiet, question_index=0
    )
    with store._session.begin() as s:  # it began just before that turn
        s.execute(
            update(InterviewRow)
            .where(InterviewRow.id == stalled)
            .values(started_at=quiet - timedelta(minutes=1))
        )
    origin = {"Origin": "http://127.0.0.1:7860"}
    async with client(app) as http:
        page = (await http.get("/review")).text
        row = page[page.index(f'data-id="{ids["new"]}"') :].split("</tr>")[0]
        assert '<button class="danger" type="button" disabled' in row and "<form" not in row
        assert "running" in row
        refused = await http.post(
            f"/review/{ids['new']}/delete",
            data={"form_token": form_token(TOKEN, ids["new"])},
            headers=origin,
        )
        assert refused.status_code == 409
        assert refused.json()["detail"] == (
            "This interview is still running; it can be deleted once it has ended."
        )
        assert store.get(ids["new"]) is not None

        # Live in this process: running however long it has been quiet.
        app.state.live[store.get(stalled).token] = object()
        stalled_form = {"form_token": form_token(TOKEN, stalled)}
        blocked = await http.post(f"/review/{stalled}/delete", data=stalled_form, headers=origin)
        assert blocked.status_code == 409
        del app.state.live[store.get(stalled).token]

        # Active, but nothing heard for 20 minutes and not live: its server died; it can go.
        page = (await http.get("/review")).text
        row = page[page.index(f'data-id="{stalled}"') :].split("</tr>")[0]
        assert "stalled" in row and f'action="/review/{stalled}/delete"' in row
        done = await http.post(f"/review/{stalled}/delete", data=stalled_form, headers=origin)
        assert done.status_code == 303 and store.get(stalled) is None
