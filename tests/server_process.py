"""The real server as its own process (``python -m web.server``), for tests that signal or
kill it, or run several: a free port, its settings in the environment, ready when /status says."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
READY_S = 180.0


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(port: int, **settings: str) -> dict[str, str]:
    """This environment plus the server's address and ``settings`` (e.g. DATABASE_URL=...)."""
    return {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), **settings}


def wait_ready(url: str, proc: subprocess.Popen, timeout_s: float = READY_S) -> None:
    """Block until ``url``/status says ready; fail if the process exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited while starting (code {proc.returncode})")
        try:
            if httpx.get(f"{url}/status", timeout=2).json().get("ready"):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} never became ready")


class ServerProcess:
    """The server in a child process (asyncio), its output in ``log``."""

    def __init__(self, log: Path, **settings: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = server_env(self.port, **settings)
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> ServerProcess:
        """Start it and wait until it is ready."""
        with self.log.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "web.server", cwd=ROOT, env=self.env, stdout=out, stderr=out
            )
        deadline = time.monotonic() + READY_S
        async with httpx.AsyncClient(timeout=2) as http:
            while time.monotonic() < deadline:
                if self.proc.returncode is not None:
                    raise RuntimeError(f"the server exited while starting:\n{self.tail()}")
                try:
                    if (await http.get(f"{self.url}/status")).json().get("ready"):
                        return self
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.3)
        raise TimeoutError(f"{self.url} never became ready:\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        """The end of its output."""
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after 15 s."""
        if self.proc and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
