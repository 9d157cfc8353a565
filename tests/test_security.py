"""Security: session tokens, Origin, session and size limits, secrets, untrusted page text."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import string
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import websockets
from loguru import logger

from interviewer.config import load_settings
from interviewer.plan import CandidateContext
from web.sessions import MAX_START_BYTES, SessionRegistry, origin_allowed

ROOT = Path(__file__).resolve().parents[1]
CLIENT_SRC = ROOT / "web" / "client" / "src"
CLIENT_DIST = ROOT / "web" / "client" / "dist"
SECRET = "sk-secret-xyz-0123456789"


def _conn(origin: str | None, host: str = "127.0.0.1:7860"):
    headers = {"host": host}
    if origin is not None:
        headers["origin"] = origin
    return SimpleNamespace(headers=headers)


# --- fast ----------------------------------------------------------------------------


def test_tokens_are_random_single_use_and_expire():
    reg = SessionRegistry(ttl_s=60, max_sessions=100)
    tokens = [reg.grant("technical", CandidateContext()) for _ in range(50)]
    assert len(set(tokens)) == 50
    for t in tokens:
        assert len(t) >= 32 and set(t) <= set(string.ascii_letters + string.digits + "-_")
    assert reg.claim(tokens[0]) is not None
    assert reg.claim(tokens[0]) is None  # single use
    assert reg.claim("made-up-token") is None and reg.claim(None) is None and reg.claim("") is None
    reg.pending[tokens[1]].expires = 0  # expired
    assert reg.claim(tokens[1]) is None


def test_origin_rules():
    local = load_settings().model_copy(update={"host": "127.0.0.1", "allowed_origins": ""})
    assert origin_allowed(_conn(None), local)  # non-browser client
    assert origin_allowed(_conn("http://127.0.0.1:7860"), local)
    assert origin_allowed(_conn("http://localhost:7860", "localhost:7860"), local)
    assert not origin_allowed(_conn("http://evil.example"), local)
    assert not origin_allowed(_conn("null"), local)
    assert not origin_allowed(_conn("http://127.0.0.1:9999"), local)  # another local port
    # DNS rebinding: evil.example resolved to 127.0.0.1, so Host matches Origin. Refused.
    assert not origin_allowed(_conn("http://evil.example:7860", "evil.example:7860"), local)
    # Served on all interfaces: same host as the browser addressed.
    lan = local.model_copy(update={"host": "0.0.0.0"})
    assert origin_allowed(_conn("http://10.0.0.5:7860", "10.0.0.5:7860"), lan)
    assert not origin_allowed(_conn("http://evil.example", "10.0.0.5:7860"), lan)
    # Configured list: exact origins (case and trailing slash do not matter), or "*".
    listed = local.model_copy(
        update={"allowed_origins": "https://jobs.example.com/, http://a.test"}
    )
    assert origin_allowed(_conn("https://JOBS.example.com"), listed)
    assert origin_allowed(_conn("http://a.test"), listed)
    assert not origin_allowed(_conn("http://127.0.0.1:7860"), listed)
    assert not origin_allowed(_conn("https://jobs.example.com.evil.example"), listed)
    anyone = local.model_copy(update={"allowed_origins": "*"})
    assert origin_allowed(_conn("http://evil.example"), anyone)


def test_page_text_is_length_limited_and_typed():
    c = CandidateContext.from_dict(
        {
            "name": "N" * 10_000,
            "role": "R" * 10_000,
            "job_description": "J" * 100_000,
            "resume": "X" * 100_000,
        }
    )
    assert len(c.name) <= 80 and len(c.role) <= 120
    assert (
        len(c.job_description) <= CandidateContext.MAX_FIELD
        and len(c.resume) <= CandidateContext.MAX_FIELD
    )
    odd = CandidateContext.from_dict(
        {"name": ["<b>"], "role": {"x": 1}, "resume": 12, "job_description": None}
    )
    assert (odd.name, odd.role, odd.resume, odd.job_description) == ("", "", "", "")


def test_client_never_renders_html_from_strings():
    sources = list(CLIENT_SRC.rglob("*.ts")) + list(CLIENT_SRC.rglob("*.js"))
    assert sources
    sinks = re.compile(
        r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\("
    )
    hits = [f"{p.name}: {m.group(0)}" for p in sources for m in sinks.finditer(p.read_text())]
    assert not hits, hits
    assert any("textContent" in p.read_text() for p in sources)


def test_served_client_files_hold_no_secret_or_key_names():
    if not CLIENT_DIST.is_dir():
        pytest.skip("client not built")
    for path in CLIENT_DIST.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "replace")
            assert "OPENAI_API_KEY" not in text and "sk-secret" not in text, path


# --- live server ---------------------------------------------------------------------


async def _start(url: str, body: dict | None = None, **kw) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(
            f"{url}/start", json={"transport": "websocket", "body": body or {}}, **kw
        )


async def _refused(ws_url: str, headers=None) -> int | None:
    """The HTTP status a refused WebSocket handshake got (None if it was accepted)."""
    try:
        async with websockets.connect(ws_url, additional_headers=headers, open_timeout=10):
            return None
    except websockets.InvalidStatus as e:
        return e.response.status_code


@pytest.mark.slow
async def test_live_tokens_origin_and_limits(server, settings):
    r = await _start(server.url)
    info = r.json()
    assert set(info) == {"wsUrl", "token"}
    ws_url = f"{info['wsUrl']}?token={info['token']}"
    # Unknown and missing tokens are refused.
    assert await _refused(f"{info['wsUrl']}?token=not-a-token") == 403
    assert await _refused(info["wsUrl"]) == 403
    # Another origin is refused, and that does not burn the token.
    assert await _refused(ws_url, {"Origin": "http://evil.example"}) == 403
    host = server.url.split("//")[1]
    async with websockets.connect(ws_url, additional_headers={"Origin": f"http://{host}"}) as ws:
        # The client offered permessage-deflate; audio does not compress, so it was declined.
        assert ws.protocol.extensions == []
        # A message over MAX_MESSAGE_BYTES is dropped with an error; the socket stays up.
        from pipecat.frames.protobufs import frames_pb2

        f = frames_pb2.Frame()
        f.audio.audio, f.audio.sample_rate, f.audio.num_channels = (
            b"\x00" * (settings.max_message_bytes + 2),
            16000,
            1,
        )
        await ws.send(f.SerializeToString())
        said = []
        async with asyncio.timeout(10):
            while not any("byte limit" in s for s in said):
                raw = await ws.recv()
                g = frames_pb2.Frame.FromString(raw)
                if g.WhichOneof("frame") == "message":
                    said.append(g.message.data)
        # Single use: the same token again is refused while the first socket is open...
        assert await _refused(ws_url) == 403
    # ...and after it closed.
    assert await _refused(ws_url) == 403
    # An expired token is refused.
    info2 = (await _start(server.url)).json()
    server.app.state.sessions.pending[info2["token"]].expires = 0
    assert await _refused(f"{info2['wsUrl']}?token={info2['token']}") == 403
    # /start from another origin is refused; oversized and malformed bodies get clear 4xx.
    assert (await _start(server.url, headers={"Origin": "http://evil.example"})).status_code == 403
    async with httpx.AsyncClient(timeout=10) as http:
        big = json.dumps({"body": {"resume": "x" * (MAX_START_BYTES + 10)}})
        assert (await http.post(f"{server.url}/start", content=big)).status_code == 413
        assert (await http.post(f"{server.url}/start", content=b"\xff{")).status_code == 400
        assert (await http.post(f"{server.url}/start", json=[1])).status_code == 400
        assert (
            await http.post(f"{server.url}/start", json={"body": {"mode": "nope"}})
        ).status_code == 400
        assert (
            await http.post(f"{server.url}/start", json={"body": {"mode": ["x"]}})
        ).status_code == 400
    # Long page text is cut before it reaches the interview.
    r = await _start(server.url, {"name": "N" * 5000, "resume": "R" * 50_000})
    pending = server.app.state.sessions.pending[r.json()["token"]]
    assert (
        len(pending.candidate.name) <= 80
        and len(pending.candidate.resume) <= CandidateContext.MAX_FIELD
    )
    for token in list(server.app.state.sessions.pending):  # give back the slots this test reserved
        server.app.state.sessions.pending[token].expires = 0


@pytest.mark.slow
async def test_no_secret_reaches_the_browser_or_the_logs(settings, models):
    from candidate.session_client import CandidateSession
    from interviewer.audio import synthesize
    from tests.standins.openai_server import OpenAIStandIn
    from web.cli import LocalServer

    standin = await OpenAIStandIn().start()
    captured: list[str] = []
    sink = logger.add(lambda m: captured.append(str(m)), level="TRACE")
    std = logging.getLogger()
    handler = logging.Handler(level=logging.DEBUG)
    handler.emit = lambda record: captured.append(f"{record.getMessage()} {record.args!r}")
    old_level = std.level
    std.addHandler(handler)
    std.setLevel(logging.DEBUG)
    seen: list[str] = []
    try:
        llm = settings.model_copy(
            update={"llm": "auto", "openai_api_key": SECRET, "openai_base_url": standin.url}
        )
        async with LocalServer(llm, models=models) as srv:
            async with httpx.AsyncClient(timeout=10) as http:
                for path in ("/status", "/api/modes", "/"):
                    seen.append((await http.get(f"{srv.url}{path}")).text)
                index = seen[-1]
                assets = re.findall(r'(?:src|href)="\.?(/assets/[^"]+)"', index)
                assert assets or "not built" in index
                for asset in assets:
                    seen.append((await http.get(f"{srv.url}{asset}")).text)
                seen.append(
                    (await http.post(f"{srv.url}/start", json={"body": {"mode": "nope"}})).text
                )
            async with CandidateSession(srv.url, "technical", {"name": "Ada"}) as s:
                await s.hear_greeting()
                await s.answer(
                    synthesize(models.piper_voice, "I built a compiler for a small language.")
                )
            seen.append(json.dumps(s.log.events, default=str))
    finally:
        logger.remove(sink)
        std.removeHandler(handler)
        std.setLevel(old_level)
        await standin.stop()
    assert (
        standin.requests and standin.requests[0]["auth"] == f"Bearer {SECRET}"
    )  # the key was in use
    assert s.log.bot_audio_ms > 1000
    print(f"checked {len(seen)} answers to the browser and {len(captured)} log lines")
    assert len(captured) > 100
    assert not [x for x in seen if SECRET in x or "sk-secret" in x]
    leaked = [line for line in captured if SECRET in line or "sk-secret" in line]
    assert not leaked, leaked[:3]


def test_uvicorn_log_lines_hide_session_tokens():
    """The filter on uvicorn's loggers, through uvicorn's own handshake-line format."""
    from uvicorn.protocols.utils import get_path_with_query_string

    from web.server import create_app, uvicorn_config

    settings = load_settings(_env_file=None)
    uvicorn_config(create_app(settings), settings, log_level="info")
    captured: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: captured.append(record.getMessage())
    log = logging.getLogger("uvicorn.error")
    log.addHandler(handler)
    try:
        scope = {
            "path": "/ws-client",
            "raw_path": b"/ws-client",  # uvicorn >= 0.55 reads the raw path
            "query_string": b"token=Abc-123_secret&x=1",
        }
        log.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:5", get_path_with_query_string(scope))
        log.info("plain token=Xyz-9 in the message")
    finally:
        log.removeHandler(handler)
    assert captured == [
        '127.0.0.1:5 - "WebSocket /ws-client?token=…&x=1" [accepted]',
        "plain token=… in the message",
    ]


@pytest.mark.slow
async def test_a_real_handshake_line_shows_no_session_token(settings, models):
    """A session's WebSocket handshake, logged by uvicorn at info, names no token."""
    from candidate.session_client import CandidateSession
    from web.cli import LocalServer

    captured: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: captured.append(record.getMessage())
    log = logging.getLogger("uvicorn.error")
    async with LocalServer(settings, models=models) as srv:
        old_level = log.level
        log.setLevel(logging.INFO)  # LocalServer logs at warning; a deployment logs at info
        log.addHandler(handler)
        try:
            async with CandidateSession(srv.url, "technical", {"name": "Ada"}) as s:
                await s.hear_greeting()
        finally:
            log.removeHandler(handler)
            log.setLevel(old_level)
    handshakes = [line for line in captured if '"WebSocket /ws-client' in line]
    print(handshakes)
    assert handshakes, captured
    assert all("token=…" in line for line in handshakes)
    assert not [line for line in captured if re.search(r"token=[A-Za-z0-9_-]{8,}", line)]


@pytest.mark.slow
async def test_report_page_escapes_candidate_text(server):
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    store = server.app.state.store
    _, token = await asyncio.to_thread(
        store.create_interview,
        "technical",
        {"name": evil, "role": evil, "job_description": "", "resume": ""},
        "scripted",
    )
    async with httpx.AsyncClient(timeout=10) as http:
        page = (await http.get(f"{server.url}/report/{token}")).text
        assert (await http.get(f"{server.url}/report/not-a-real-token")).status_code == 404
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page
