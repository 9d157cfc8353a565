"""An aiohttp application served on a free 127.0.0.1 port: the base of the HTTP stand-ins."""

from __future__ import annotations

from aiohttp import web


class LoopbackHTTPServer:
    """Subclasses add their routes in :meth:`routes`; ``url`` is ``http://127.0.0.1:PORT/v1``."""

    url = ""
    _runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        """Add the stand-in's routes to ``app``."""
        raise NotImplementedError

    async def start(self):
        """Listen on a free loopback port; returns self."""
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        # A stalled handler (a stand-in that never answers) must not hold stop() for aiohttp's 60 s.
        site = web.TCPSite(self._runner, "127.0.0.1", 0, shutdown_timeout=1.0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner:
            await self._runner.cleanup()
