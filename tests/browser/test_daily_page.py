"""The page and Daily rooms, in Chromium: the bundle carries both transports; with
TRANSPORT=daily the page asks /start for a Daily room, gets it, and, offline (Daily's call
engine cannot load), says so in one line and offers the local connection, which works."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.browser.chromium import launch
from tests.standins.daily_api import ROOM_DOMAIN, DailyAPIStandIn

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "web" / "client" / "dist"


def test_the_bundle_carries_both_transports():
    assets = {p.name: p.read_text(errors="replace") for p in (DIST / "assets").glob("*.js")}
    assert assets, "the client is not built (make client)"
    code = "\n".join(assets.values())
    assert "WebSocketTransport" in code  # @pipecat-ai/websocket-transport
    assert "[Daily Transport]" in code and "call-machine" in code  # daily-transport + daily-js
    daily_chunks = [n for n, c in assets.items() if "[Daily Transport]" in c]
    entry = (DIST / "index.html").read_text()
    assert all(n not in entry for n in daily_chunks)  # loaded only when a Daily room is joined


@pytest.fixture(scope="module")
def daily_server(tmp_path_factory, models):
    """A server with TRANSPORT=daily against the Daily REST stand-in; the bot's own join (which
    needs Daily's cloud) is recorded instead of run, as in tests/test_daily_wiring.py."""
    import asyncio
    import threading

    from interviewer.config import load_settings
    from tests.conftest import ThreadedServer
    from transports.daily import DailySessions

    loop = asyncio.new_event_loop()  # the stand-in's own, running in a thread
    threading.Thread(target=loop.run_forever, daemon=True).start()
    api = asyncio.run_coroutine_threadsafe(DailyAPIStandIn().start(), loop).result(10)
    started = []
    original = DailySessions.start
    DailySessions.start = lambda self, transport, worker, run: started.append(run)
    tmp = tmp_path_factory.mktemp("daily")
    settings = load_settings(
        DATABASE_URL=f"sqlite:///{tmp / 'd.db'}",
        TRANSPORT="daily",
        DAILY_API_KEY=api.api_key,
        DAILY_API_URL=api.url,
    )
    server = ThreadedServer(settings, models).start()
    try:
        yield server, api, started
    finally:
        server.stop()
        DailySessions.start = original
        for run in started:
            run.close()  # never joined: nothing to run
        asyncio.run_coroutine_threadsafe(api.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)


@pytest.mark.browser
@pytest.mark.slow
def test_offline_the_page_says_so_and_offers_the_local_connection(daily_server):
    from playwright.sync_api import sync_playwright

    server, api, started = daily_server
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page()
            # This machine has no route to Daily: make that certain and quick.
            blocked: list[str] = []

            def offline(route):
                blocked.append(route.request.url)
                route.abort("internetdisconnected")

            page.route("**/*daily.co/**", offline)
            starts: list[dict] = []
            page.on(
                "request",
                lambda r: (
                    starts.append(json.loads(r.post_data or "{}"))
                    if r.url.endswith("/start")
                    else None
                ),
            )
            answers: list[dict] = []
            page.on(
                "response",
                lambda r: answers.append(r.json()) if r.url.endswith("/start") else None,
            )
            page.goto(server.url)
            page.wait_for_selector("#connection-choice:not([hidden])")
            assert page.input_value("#connection") == "daily"  # the server's default
            page.wait_for_function("!document.getElementById('start').disabled")
            page.fill("#name", "Ada")
            page.fill("#role", "Backend engineer")
            page.click("#start")

            page.wait_for_selector("#use-local:not([hidden])", timeout=30000)
            error = page.inner_text("#error")
            assert "Could not join the Daily room" in error and "c.daily.co" in error, error
            assert "local connection" in error
            assert starts[0]["transport"] == "daily"
            assert answers[0]["dailyRoom"].startswith(ROOM_DOMAIN) and answers[0]["dailyToken"]
            assert len(started) == 1 and len(api.room_requests) == 1  # the server opened the room
            assert any("c.daily.co" in u for u in blocked), blocked  # the call engine was wanted

            # The local connection works from here.
            page.click("#use-local")
            page.wait_for_function(
                "window.__interviewer.timing.botReady !== undefined", timeout=60000
            )
            assert page.evaluate("window.__interviewer.connection") == "websocket"
            assert starts[-1]["transport"] == "websocket"
            assert page.is_hidden("#use-local") and page.is_hidden("#error")
            page.click("#stop")
        finally:
            browser.close()
