"""A local stand-in for Daily's REST API (/rooms and /meeting-tokens), on loopback.

Answers as Daily does, so pipecat's real ``DailyRESTHelper`` runs unchanged; records every
request (body and Authorization header). Nothing here is WebRTC: joining a room is not tested.
"""

from __future__ import annotations

import secrets
import time

from aiohttp import web

from tests.standins.loopback import LoopbackHTTPServer

ROOM_DOMAIN = "https://standin.daily.co"


class DailyAPIStandIn(LoopbackHTTPServer):
    """Serve POST /rooms, GET /rooms/{name} and POST /meeting-tokens on 127.0.0.1."""

    def __init__(self, api_key: str = "daily-test-key"):
        self.api_key = api_key
        self.rooms: dict[str, dict] = {}
        self.room_requests: list[dict] = []
        self.token_requests: list[dict] = []
        self.tokens: dict[str, dict] = {}  # token -> its properties

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/rooms", self._create_room)
        app.router.add_get("/v1/rooms/{name}", self._get_room)
        app.router.add_post("/v1/meeting-tokens", self._create_token)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.api_key}"

    @staticmethod
    def _unauthorized() -> web.Response:
        return web.json_response(
            {"error": "authentication-error", "info": "bad API key"}, status=401
        )

    async def _create_room(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.room_requests.append({"body": body, "auth": request.headers.get("Authorization", "")})
        if not self._authorized(request):
            return self._unauthorized()
        name = body.get("name") or secrets.token_hex(6)
        room = {
            "id": secrets.token_hex(8),
            "name": name,
            "api_created": True,
            "privacy": body.get("privacy", "public"),
            "url": f"{ROOM_DOMAIN}/{name}",
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "config": body.get("properties", {}),
        }
        self.rooms[name] = room
        return web.json_response(room)

    async def _get_room(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        room = self.rooms.get(request.match_info["name"])
        if room is None:
            return web.json_response({"error": "not-found"}, status=404)
        return web.json_response(room)

    async def _create_token(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.token_requests.append({"body": body, "auth": request.headers.get("Authorization", "")})
        if not self._authorized(request):
            return self._unauthorized()
        token = "tok-" + secrets.token_urlsafe(12)
        self.tokens[token] = body.get("properties", {})
        return web.json_response({"token": token})
