"""Daily rooms (WebRTC through Daily's cloud), selected with ``TRANSPORT=daily``.

- With ``DAILY_API_KEY``: each ``POST /start`` creates a private room through Daily's REST API
  (pipecat's ``DailyRESTHelper``; ``DAILY_ROOM_URL`` instead reuses one room), then mints two
  meeting tokens: an owner token for the bot and a plain one for the candidate.
- With ``DAILY_ROOM_URL`` and ``DAILY_TOKEN`` (no API key): the bot and the candidate join that
  room with that token.

The server answers ``/start`` as pipecat's runner does for Daily, ``{"dailyRoom", "dailyToken"}``,
which ``@pipecat-ai/daily-transport`` (1.2+) joins with. The bot joins with pipecat's
``DailyTransport`` (daily-python) and runs the same interview pipeline as the WebSocket path.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field

import aiohttp
from loguru import logger
from pipecat.transports.daily.transport import DailyParams, DailyTransport
from pipecat.transports.daily.utils import (
    DailyMeetingTokenParams,
    DailyMeetingTokenProperties,
    DailyRESTHelper,
    DailyRoomParams,
    DailyRoomProperties,
)

from interviewer.config import Settings

ROOM_TTL_S = 2 * 3600  # the room and its tokens expire after two hours
BOT_NAME = "Interviewer"


class DailyRoomError(RuntimeError):
    """Daily's REST API refused or could not be reached."""


@dataclass(frozen=True)
class DailyRoom:
    """A room to meet in, with one token for the bot and one for the candidate."""

    url: str
    bot_token: str | None
    client_token: str | None

    def start_response(self) -> dict:
        """What pipecat's Daily client transport expects from ``POST /start``."""
        return {"dailyRoom": self.url, "dailyToken": self.client_token}


async def open_room(
    settings: Settings, candidate_name: str = "", http: aiohttp.ClientSession | None = None
) -> DailyRoom:
    """Create (or reuse) a room and mint its tokens, as configured."""
    if not settings.daily_api_key:
        return DailyRoom(settings.daily_room_url, settings.daily_token, settings.daily_token)
    own = http is None
    http = http or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
    try:
        rest = DailyRESTHelper(
            daily_api_key=settings.daily_api_key,
            daily_api_url=settings.daily_api_url,
            aiohttp_session=http,
        )
        url = settings.daily_room_url
        if not url:
            props = DailyRoomProperties(
                exp=time.time() + ROOM_TTL_S,
                eject_at_room_exp=True,
                start_video_off=True,
                max_participants=2,
            )
            room = await rest.create_room(
                DailyRoomParams(
                    name=f"interview-{uuid.uuid4().hex[:10]}", privacy="private", properties=props
                )
            )
            url = room.url
        bot_token = await rest.get_token(url, ROOM_TTL_S, owner=True)
        client_props = DailyMeetingTokenProperties(
            user_name=candidate_name[:60] or None, start_video_off=True
        )
        client_token = await rest.get_token(
            url, ROOM_TTL_S, owner=False, params=DailyMeetingTokenParams(properties=client_props)
        )
    except Exception as e:  # DailyRESTHelper raises plain Exceptions; aiohttp its own
        raise DailyRoomError(str(e) or type(e).__name__) from e
    finally:
        if own:
            await http.close()
    logger.info(f"Daily room ready: {url}")
    return DailyRoom(url, bot_token, client_token)


def daily_transport(room: DailyRoom, settings: Settings) -> DailyTransport:
    """The bot's side of the room: audio in and out, no camera; RTVI rides on app messages."""
    params = DailyParams(
        api_key=settings.daily_api_key or "",
        api_url=settings.daily_api_url,
        audio_in_enabled=True,
        audio_out_enabled=True,
        camera_out_enabled=False,
        microphone_out_enabled=True,
    )
    return DailyTransport(room.url, room.bot_token, BOT_NAME, params=params)


@dataclass
class DailySessions:
    """Interviews running in Daily rooms (started by ``POST /start``, not by a connection)."""

    tasks: set[asyncio.Task] = field(default_factory=set)

    def start(self, transport: DailyTransport, worker, run: Coroutine) -> asyncio.Task:
        """Run the interview (``run`` runs ``worker``) in the background, until the candidate leaves."""

        @transport.event_handler("on_participant_left")
        async def on_participant_left(_transport, _participant, _reason):
            logger.info("Candidate left the Daily room; ending its session")
            await worker.cancel(reason="participant left")

        task = asyncio.create_task(run)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def stop_all(self) -> None:
        """Cancel every running Daily session (at server shutdown)."""
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
