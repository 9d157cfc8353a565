"""Debian's Chromium for the browser tests: where it is, how it is launched, a microphone.

Playwright drives it with ``executable_path``; nothing ever downloads a browser.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch(playwright, mic: Path | None = None):
    """Headless Chromium; ``mic`` (a WAV file) plays as the microphone."""
    args = [*ARGS, f"--use-file-for-fake-audio-capture={mic}"] if mic else ARGS
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)


def microphone_context(browser, **options):
    """A context that may use the microphone (and, on newer drivers, the local network)."""
    try:
        return browser.new_context(permissions=["microphone", "local-network-access"], **options)
    except Exception:  # an older driver that does not know the permission
        return browser.new_context(permissions=["microphone"], **options)


class _QuietFiles(SimpleHTTPRequestHandler):
    """Serves files without a line per request."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextmanager
def static_site(directory: Path) -> Iterator[str]:
    """``directory`` served on a free loopback port, in a thread; yields its URL. For the
    built client's own behaviour (the avatar), which needs no interviewer server."""
    handler = functools.partial(_QuietFiles, directory=str(directory))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
