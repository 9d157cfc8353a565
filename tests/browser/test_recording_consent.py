"""The recording question in Chromium: asked before the interview, unticked, sent in /start.

With RECORDING=on the page shows the question unticked; an interview started without ticking
it sends ``"record": false`` and leaves no recording; ticked, ``"record": true`` and the
server lists a recording and writes its file. With RECORDING=off the question is hidden and
``/start`` carries ``"record": false``.
"""

from __future__ import annotations

import json
import shutil
import time
import wave
from pathlib import Path

import pytest

from interviewer.recordings import RecordingStore
from tests.browser.chromium import CHROMIUM, launch, microphone_context

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _silent_wav(path: Path, seconds: float = 60.0) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(bytes(int(16000 * seconds) * 2))
    return path


@pytest.fixture(scope="module")
def servers(tmp_path_factory, models):
    from interviewer.config import load_settings
    from tests.conftest import ThreadedServer

    tmp = tmp_path_factory.mktemp("consent")
    started = []
    for name, recording in (("on", "on"), ("off", "off")):
        settings = load_settings(
            DATABASE_URL=f"sqlite:///{tmp}/{name}.db",
            RECORDINGS_DIR=str(tmp / f"rec-{name}"),
            RECORDING=recording,
        )
        started.append(ThreadedServer(settings, models).start())
    yield started
    for server in started:
        server.stop()


@pytest.fixture
def browser(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    mic = _silent_wav(tmp_path / "silence.wav")
    with sync_api.sync_playwright() as pw:
        browser = launch(pw, mic=mic)
        try:
            context = microphone_context(browser)
            yield context.new_page()
            context.close()
        finally:
            browser.close()


def _watch_starts(page) -> list[dict]:
    """The /start bodies the page sends, as sent."""
    bodies: list[dict] = []

    def on_request(request):
        if request.method == "POST" and request.url.endswith("/start"):
            bodies.append(json.loads(request.post_data or "{}"))

    page.on("request", on_request)
    return bodies


def _fill_form(page, url: str) -> None:
    page.goto(url, wait_until="load")
    page.wait_for_selector("#mode option[value='technical']", state="attached", timeout=15000)
    page.wait_for_selector("#consent[data-offered]", state="attached", timeout=15000)
    page.fill("#name", "Ada")
    page.fill("#role", "Backend engineer")


def _interview(page, bodies: list[dict], seconds: float) -> dict:
    """Start, let the interviewer speak for ``seconds``, end; the /start body that was sent."""
    sent = len(bodies)
    page.click("#start")
    page.wait_for_function("document.body.dataset.state === 'speaking'", timeout=30000)
    page.wait_for_timeout(seconds * 1000)
    page.click("#stop")
    page.wait_for_function("document.body.dataset.state === 'ended'", timeout=10000)
    assert len(bodies) == sent + 1
    return bodies[-1]["body"]


def _wait(predicate, timeout_s: float = 15.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    return predicate()


def test_the_page_asks_unticked_and_records_only_when_ticked(servers, browser):
    on, _ = servers
    store = on.app.state.store
    recordings = RecordingStore(store, on.app.state.settings.recordings_dir)
    page, bodies = browser, _watch_starts(browser)
    _fill_form(page, on.url)

    assert page.get_attribute("#consent", "data-offered") == "true"
    assert (
        page.is_visible("#consent")
        and page.is_visible("#record")
        and not page.is_checked("#record")
    )
    label = page.inner_text("label[for='record']")
    assert "Record" in label and "nothing is recorded unless you tick" in label
    page.screenshot(path=str(Path(__file__).resolve().parents[1] / "artifacts" / "consent.png"))

    body = _interview(page, bodies, 4)  # not ticked
    assert body["record"] is False
    first = _wait(lambda: store.list())[0]["id"]
    time.sleep(1.5)  # the session has wound down
    assert recordings.for_interview(first) is None
    assert not list(recordings.directory.glob("*"))

    page.check("#record")
    body = _interview(page, bodies, 4)
    assert body["record"] is True
    second = _wait(lambda: [r["id"] for r in store.list() if r["id"] != first])[0]
    found = _wait(lambda: (r := recordings.for_interview(second)) and r.ended_at and r)
    assert found, "no finished recording listed for the ticked interview"
    assert found.path.is_file() and found.duration_s > 3, found
    assert [p.name for p in recordings.directory.glob("*")] == [found.path.name]


def test_the_question_is_hidden_when_recording_is_off(servers, browser):
    _, off = servers
    page, bodies = browser, _watch_starts(browser)
    _fill_form(page, off.url)
    assert page.get_attribute("#consent", "data-offered") == "false"
    assert not page.is_visible("#consent") and not page.is_visible("#record")
    body = _interview(page, bodies, 2)
    assert body["record"] is False
    assert not off.app.state.settings.recordings_dir.exists()
