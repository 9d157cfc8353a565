"""Daily rooms (TRANSPORT=daily): configuration and wiring, offline.

Daily's cloud cannot be reached from here. What runs: the settings checks, pipecat's real
DailyRESTHelper against a loopback stand-in of Daily's REST API (/rooms, /meeting-tokens),
pipecat's real DailyTransport built (not joined), and POST /start answering what pipecat's
Daily client transport joins with. Joining a room (WebRTC through Daily) is not tested.
"""

import httpx
import pytest

from interviewer.config import SettingsError, load_settings
from tests.standins.daily_api import ROOM_DOMAIN, DailyAPIStandIn
from transports.daily import DailyRoom, DailyRoomError, daily_transport, open_room

DAILY_VARS = ("TRANSPORT", "DAILY_API_KEY", "DAILY_API_URL", "DAILY_ROOM_URL", "DAILY_TOKEN")


@pytest.fixture
def clean_env(monkeypatch):
    for var in DAILY_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    "env,names",
    [
        ({"TRANSPORT": "daily"}, "DAILY_API_KEY"),
        ({"TRANSPORT": "daily", "DAILY_ROOM_URL": "https://x.daily.co/r"}, "DAILY_API_KEY"),
        ({"DAILY_TOKEN": "t"}, "DAILY_ROOM_URL"),
        (
            {"TRANSPORT": "daily", "DAILY_API_KEY": "k", "DAILY_ROOM_URL": "x.daily.co/r"},
            "DAILY_ROOM_URL",
        ),
        ({"TRANSPORT": "daily", "DAILY_API_KEY": "k", "DAILY_API_URL": "ftp://x"}, "DAILY_API_URL"),
        ({"TRANSPORT": "zoom"}, "TRANSPORT"),
    ],
)
def test_bad_daily_settings_fail_at_start_up(clean_env, env, names):
    for k, v in env.items():
        clean_env.setenv(k, v)
    with pytest.raises(SettingsError) as e:
        load_settings()
    message = str(e.value)
    assert names in message and "\n" not in message


def test_daily_settings_accepted(clean_env):
    clean_env.setenv("TRANSPORT", "daily")
    clean_env.setenv("DAILY_API_KEY", "k")
    assert load_settings().transport == "daily"
    clean_env.delenv("DAILY_API_KEY")
    clean_env.setenv("DAILY_ROOM_URL", "https://x.daily.co/room/")
    clean_env.setenv("DAILY_TOKEN", "tok")
    s = load_settings()
    assert (s.daily_room_url, s.daily_token) == ("https://x.daily.co/room", "tok")


def test_factory_builds_a_daily_transport_without_joining(settings):
    from pipecat.transports.daily.transport import DailyTransport

    cfg = settings.model_copy(update={"transport": "daily", "daily_api_key": "k"})
    t = daily_transport(DailyRoom("https://x.daily.co/room", "bot-token", "client-token"), cfg)
    assert isinstance(t, DailyTransport)
    assert t._client.room_url == "https://x.daily.co/room" and t._client._token == "bot-token"
    assert (
        t._params.audio_in_enabled
        and t._params.audio_out_enabled
        and not t._params.camera_out_enabled
    )
    assert not t._client._in_call()


async def test_open_room_creates_a_private_room_and_two_tokens(settings):
    api = await DailyAPIStandIn().start()
    try:
        cfg = settings.model_copy(update={"daily_api_key": api.api_key, "daily_api_url": api.url})
        room = await open_room(cfg, "Ada")
        assert room.url.startswith(f"{ROOM_DOMAIN}/interview-")
        [created] = api.room_requests
        assert (
            created["auth"] == f"Bearer {api.api_key}" and created["body"]["privacy"] == "private"
        )
        assert (
            created["body"]["properties"]["exp"] > 0
            and created["body"]["properties"]["eject_at_room_exp"]
        )
        # An owner token for the bot, a plain one (with the candidate's name) for the browser.
        assert api.tokens[room.bot_token]["is_owner"] is True
        client = api.tokens[room.client_token]
        assert client["is_owner"] is False and client["user_name"] == "Ada"
        assert client["room_name"] == room.url.rsplit("/", 1)[1]
        assert room.start_response() == {"dailyRoom": room.url, "dailyToken": room.client_token}

        # DAILY_ROOM_URL with a key: that room, fresh tokens, no room created.
        fixed = await open_room(cfg.model_copy(update={"daily_room_url": f"{ROOM_DOMAIN}/standup"}))
        assert fixed.url == f"{ROOM_DOMAIN}/standup" and len(api.room_requests) == 1
        assert api.tokens[fixed.client_token]["room_name"] == "standup"

        # A refused key is one DailyRoomError, not a crash.
        with pytest.raises(DailyRoomError, match="401"):
            await open_room(cfg.model_copy(update={"daily_api_key": "wrong"}))
    finally:
        await api.stop()

    # Room URL and token given, no key: used as they are, no HTTP at all.
    given = settings.model_copy(
        update={"daily_room_url": "https://x.daily.co/r", "daily_token": "t"}
    )
    assert await open_room(given) == DailyRoom("https://x.daily.co/r", "t", "t")


@pytest.mark.slow
async def test_start_answers_what_the_daily_client_joins_with(settings, models, monkeypatch):
    from pipecat.pipeline.worker import PipelineWorker
    from pipecat.transports.daily.transport import DailyTransport

    from transports.daily import DailySessions
    from web.cli import LocalServer

    started = []
    # Joining would need Daily's cloud: record what would run instead of running it.
    monkeypatch.setattr(
        DailySessions,
        "start",
        lambda self, transport, worker, run: started.append((transport, worker, run)),
    )
    api = await DailyAPIStandIn().start()
    try:
        cfg = settings.model_copy(
            update={"transport": "daily", "daily_api_key": api.api_key, "daily_api_url": api.url}
        )
        async with LocalServer(cfg, models=models) as server:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                r = await http.post(
                    "/start",
                    json={"transport": "daily", "body": {"mode": "behavioral", "name": "Ada"}},
                )
                assert r.status_code == 200, r.text
                answer = r.json()
                assert set(answer) == {"dailyRoom", "dailyToken"}
                assert answer["dailyRoom"].startswith(f"{ROOM_DOMAIN}/interview-")
                assert api.tokens[answer["dailyToken"]]["is_owner"] is False

                [(transport, worker, run)] = started
                assert isinstance(transport, DailyTransport) and isinstance(worker, PipelineWorker)
                assert transport._client.room_url == answer["dailyRoom"]
                assert api.tokens[transport._client._token]["is_owner"] is True
                assert server.app.state.sessions.active  # the slot is held while the room runs...
                # Run the session's lifecycle with the runner stubbed (joining needs Daily's cloud).
                import pipecat.workers.runner as runner_mod

                async def no_join(self, *a, **k):
                    return None

                monkeypatch.setattr(runner_mod.WorkerRunner, "add_workers", no_join)
                monkeypatch.setattr(runner_mod.WorkerRunner, "run", no_join)
                await run
                assert not server.app.state.sessions.active  # ...and freed when it ends
                [row] = [r for r in server.app.state.store.list() if r["mode"] == "behavioral"]
                stored = server.app.state.store.get(row["id"])
                assert (
                    stored.status == "dropped" and stored.report is not None
                )  # recorded like any session

                # pipecat runner's legacy hint, and Daily as the default transport here.
                assert (
                    await http.post("/start", json={"createDailyRoom": True, "body": {}})
                ).status_code == 200
                assert set((await http.post("/start", json={"body": {}})).json()) == {
                    "dailyRoom",
                    "dailyToken",
                }
                # The local WebSocket page keeps working.
                assert set((await http.post("/start", json={"transport": "websocket"})).json()) == {
                    "wsUrl",
                    "token",
                }

                # Daily refusing: a 502 with no secrets in it, and the slot freed.
                api.api_key = "rotated"
                failed = await http.post("/start", json={"transport": "daily"})
                assert failed.status_code == 502 and "rotated" not in failed.text
        assert len(started) == 3
        for _, _, pending_run in started[1:]:
            pending_run.close()  # never joined: nothing to run
    finally:
        await api.stop()


async def test_daily_is_refused_when_not_configured(settings):
    from web.server import create_app

    app = create_app(settings)  # no lifespan here: the transport check comes first
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        r = await http.post("/start", json={"transport": "daily"})
    assert r.status_code == 400 and "TRANSPORT=daily" in r.text
