"""Keep serving: capacity counts running interviews, slots come back at once, idle and stuck
clients are let go, a burst leaves no memory behind, and /start floods get 429."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import struct
import time

import httpx
import pytest
import websockets

from candidate.protocol import audio_msg, client_ready, decode, message_of
from candidate.session_client import BOT_AUDIO_DBFS, CandidateSession
from interviewer.audio import rms_dbfs, synthesize
from interviewer.plan import CandidateContext
from interviewer.rate import TokenBucket
from processors.client_audio_watch import IDLE_GOODBYE, IDLE_NUDGE
from web.sessions import AtCapacity, SessionRegistry

CHUNK = bytes(640)  # 20 ms of 16 kHz silence
TCP_ESTABLISHED, TCP_CLOSE, TCP_CLOSE_WAIT = 1, 7, 8  # Linux's TCP states
TCP_STATES = {
    1: "established",
    4: "fin-wait-1",
    5: "fin-wait-2",
    6: "time-wait",
    7: "closed",
    8: "close-wait",
}
DROP_MARGIN_S = 5.0  # beyond a configured timeout, for a slow, shared machine


# --- fast ----------------------------------------------------------------------------


def test_tokens_hold_no_slot_and_the_oldest_unused_one_goes_first():
    reg = SessionRegistry(ttl_s=60, max_sessions=2, max_pending=3)
    tokens = [reg.grant("technical", CandidateContext()) for _ in range(5)]
    assert list(reg.pending) == tokens[2:] and reg.evicted == 2  # the two oldest were dropped
    assert reg.claim(tokens[0]) is None  # evicted
    assert reg.claim(tokens[2]) is not None and reg.claim(tokens[3]) is not None
    assert reg.counts() == {"running": 2, "pending": 1, "free": 0}
    with pytest.raises(AtCapacity):
        reg.claim(tokens[4])  # the cap is checked when the session connects
    with pytest.raises(AtCapacity):
        reg.grant("technical", CandidateContext())
    reg.release(tokens[2])
    reg.release(tokens[2])  # twice is harmless
    assert reg.counts() == {"running": 1, "pending": 0, "free": 1}
    assert reg.claim(reg.grant("technical", CandidateContext())) is not None


def test_start_rate_serves_normal_use_and_stops_floods():
    now = [0.0]
    bucket = TokenBucket(rate=10, burst=30, clock=lambda: now[0])
    # 100 candidates behind one proxy address, one after another within a minute: all served.
    served = 0
    for _ in range(100):
        now[0] += 0.55
        served += bucket.take()
    assert served == 100
    # A flood of 500 in one second: what was saved up and a second's refill, no more.
    flood = 0
    for _ in range(500):
        now[0] += 0.002
        flood += bucket.take()
    assert 30 <= flood <= 40
    assert 0 < bucket.wait_s() <= 0.1
    now[0] += bucket.wait_s()
    assert bucket.take()


async def test_a_write_to_a_client_that_reads_nothing_gives_up_once():
    from starlette.websockets import WebSocket

    from transports.websocket import bound_writes

    sent: list[dict] = []
    blocked = asyncio.Event()

    async def receive():
        return {"type": "websocket.connect"}

    async def asgi_send(message):  # the socket's buffers are full: a write never returns
        sent.append(message)
        if message["type"] == "websocket.send":
            blocked.set()
            await asyncio.Event().wait()

    ws = WebSocket({"type": "websocket", "path": "/ws-client", "headers": []}, receive, asgi_send)
    await ws.accept()
    stuck = []

    async def on_stuck():
        stuck.append(time.monotonic())

    bound_writes(ws, 0.2, on_stuck)
    t0 = time.monotonic()
    await ws.send_bytes(b"audio")
    assert blocked.is_set() and len(stuck) == 1 and 0.2 <= stuck[0] - t0 < 2
    t1 = time.monotonic()
    await ws.send_bytes(b"more audio")
    await ws.send_text("a message")
    assert time.monotonic() - t1 < 0.05 and len(stuck) == 1  # dropped at once from then on
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send"]


# --- with the real server --------------------------------------------------------------


async def _start(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(f"{url}/start", json={"body": {"mode": "technical"}})


async def _status(url: str) -> dict:
    async with httpx.AsyncClient(timeout=10) as http:
        return (await http.get(f"{url}/status")).json()


async def _until(check, timeout_s: float, every_s: float = 0.02) -> float | None:
    """Seconds until ``await check()`` is true, None when ``timeout_s`` passes first."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if await check():
            return time.monotonic() - t0
        await asyncio.sleep(every_s)
    return None


async def _running(url: str) -> int:
    return (await _status(url))["running"]


async def _connect(info: dict, **kwargs):
    return await websockets.connect(f"{info['wsUrl']}?token={info['token']}", **kwargs)


async def _greeted(ws, seconds: float = 30.0) -> float | None:
    """Read until the interviewer's voice is heard (audible audio, not silence): seconds taken,
    None if it never was."""
    t0 = time.monotonic()
    deadline = t0 + seconds
    while time.monotonic() < deadline:
        raw = await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
        if isinstance(raw, bytes) and _audible(decode(raw)):
            return time.monotonic() - t0
    return None


def _audible(frame) -> bool:
    return frame.WhichOneof("frame") == "audio" and rms_dbfs(frame.audio.audio) > BOT_AUDIO_DBFS


def _tcp_state(sock: socket.socket) -> int:
    """Our end's TCP state, as the kernel has it (Linux ``TCP_INFO``)."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]


def _peer_state(ours: int, theirs: int) -> int | None:
    """The TCP state of the other end (port ``theirs``) of our loopback connection from port
    ``ours``, None once that end is gone: the kernel's own table (``/proc/net/tcp``), where a
    server's socket stays until it has really let the connection go."""
    with open("/proc/net/tcp") as table:
        for row in itertools.islice(table, 1, None):
            local, remote, state = row.split()[1:4]
            if (int(local.split(":")[1], 16), int(remote.split(":")[1], 16)) == (theirs, ours):
                return int(state, 16)
    return None


class NeverReads:
    """A client that sends ``client-ready`` (and, with ``mic``, audio) and never reads.

    A tiny receive window, a client library that stops reading after one message, and no
    keepalive pings of its own: it never closes anything itself, so only the server can end
    the connection. ``probe`` is a second handle on its socket, to see the kernel's state
    after the library has let go of it.
    """

    def __init__(self, url: str, port: int, mic: bool = False):
        self.url, self.port, self.mic = url, port, mic
        self.ws = None
        self.probe: socket.socket | None = None
        self.ports = (0, port)
        self._sending: asyncio.Task | None = None

    async def connect(self) -> NeverReads:
        info = (await _start(self.url)).json()
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.probe = sock.dup()
        self.ports = sock.getsockname()[1], self.port
        self.ws = await websockets.connect(
            f"{info['wsUrl']}?token={info['token']}", sock=sock, max_queue=1, ping_interval=None
        )
        await self.ws.send(client_ready("never-reads"))
        if self.mic:
            self._sending = asyncio.create_task(self._stream())
        return self

    async def _stream(self) -> None:  # the microphone keeps streaming: the client is not idle
        with contextlib.suppress(websockets.ConnectionClosed, OSError):
            while True:
                await self.ws.send(audio_msg(CHUNK))
                await asyncio.sleep(0.02)

    async def dropped_by_server(self, timeout_s: float) -> float | None:
        """Seconds until the server ended the connection, None if it had not by ``timeout_s``.

        We close nothing, so an end that is no longer established (the server's FIN: close-wait;
        its reset: closed) is the server's doing; so is a server socket that is gone. That last
        is seen from the kernel's table, not from ours: with our tiny window the kernel can drop
        audio it had room for, and the server's reset then lands past what we took and is
        ignored, so a client that sends nothing only learns of it when it next sends
        (``learns_it_was_dropped``). A close still waiting behind unread audio (fin-wait) is
        not an end.
        """

        async def ended() -> bool:
            return _tcp_state(self.probe) in (TCP_CLOSE_WAIT, TCP_CLOSE) or _peer_state(
                *self.ports
            ) in (None, TCP_CLOSE)

        return await _until(ended, timeout_s, every_s=0.05)

    async def learns_it_was_dropped(self, timeout_s: float = 2.0) -> bool:
        """Send one byte as the client would and see the connection end (the server's kernel
        answers a socket that is gone with a reset we take)."""
        if _tcp_state(self.probe) == TCP_ESTABLISHED:
            with contextlib.suppress(OSError):
                self.probe.send(b"\x00")

        async def ended() -> bool:
            return _tcp_state(self.probe) != TCP_ESTABLISHED

        return await _until(ended, timeout_s) is not None

    def state(self) -> str:
        ours, theirs = _tcp_state(self.probe), _peer_state(*self.ports)
        server = "gone" if theirs is None else TCP_STATES.get(theirs, str(theirs))
        return f"{TCP_STATES.get(ours, str(ours))}, the server's end {server}"

    async def close(self) -> None:
        if self._sending is not None:
            self._sending.cancel()
            await asyncio.gather(self._sending, return_exceptions=True)
        if self.ws is not None:
            self.ws.transport.abort()
        if self.probe is not None:
            self.probe.close()


@pytest.mark.slow
async def test_unused_tokens_never_lock_candidates_out(settings, models):
    from web.cli import LocalServer

    local = settings.model_copy(
        update={"max_sessions": 2, "start_rate_per_s": 1000.0, "start_burst": 1000}
    )
    async with LocalServer(local, models=models) as srv:
        # A page calls /start 200 times and never connects.
        starts = [await _start(srv.url) for _ in range(200)]
        assert all(r.status_code == 200 for r in starts)
        status = await _status(srv.url)
        assert status["running"] == 0 and status["pending"] == local.max_pending_starts
        assert status["free"] == 2
        # A candidate is still served at once.
        async with CandidateSession(srv.url, "technical") as candidate:
            assert await candidate.hear_greeting()
            assert candidate.log.bot_audio_ms > 1000


@pytest.mark.slow
async def test_the_cap_is_checked_when_the_session_connects(settings, models):
    from web.cli import LocalServer

    async with LocalServer(settings.model_copy(update={"max_sessions": 1}), models=models) as srv:
        first, second = (await _start(srv.url)).json(), (await _start(srv.url)).json()
        ws = await _connect(first)
        await ws.send(client_ready("test"))
        assert await _until(lambda: _running_is(srv.url, 1), 10) is not None
        # A third /start is refused while the slot runs, with a time to come back.
        refused = await _start(srv.url)
        assert refused.status_code == 503 and int(refused.headers["retry-after"]) > 0
        # A token granted earlier meets a clear RTVI error and a "try again later" close.
        late = await _connect(second)
        error = message_of(decode(await late.recv()))
        assert error["type"] == "error" and error["data"]["fatal"] is True
        assert "capacity" in error["data"]["error"]
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await late.recv()
        assert closed.value.rcvd.code == 1013
        assert (await _status(srv.url))["running"] == 1
        await ws.close()


async def _running_is(url: str, n: int) -> bool:
    return await _running(url) == n


def _ms(seconds: float | None) -> str:
    return "never (not within the wait)" if seconds is None else f"{seconds * 1000:.0f} ms"


async def _rst(ws) -> None:
    """Reset the connection (TCP RST, as when a network drops it), without a close frame."""
    sock = ws.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ws.transport.abort()


@pytest.mark.slow
@pytest.mark.parametrize("how", ["close", "reset"])
async def test_a_slot_is_free_within_a_second_of_the_client_leaving(server, how):
    before = await _running(server.url)
    ws = await _connect((await _start(server.url)).json())
    await ws.send(client_ready("test"))
    assert await _greeted(ws) is not None  # mid-greeting: the interviewer is heard talking
    assert await _running(server.url) == before + 1
    t0 = time.monotonic()
    if how == "close":
        await ws.close()
    else:
        await _rst(ws)
    freed = await _until(lambda: _running_is(server.url, before), 5)
    print(f"\nslot freed {_ms(freed)} after the client's {how}")
    assert freed is not None and time.monotonic() - t0 < 1.0


@pytest.mark.slow
async def test_a_client_that_vanishes_frees_its_slot(server, tmp_path):
    """A client process killed mid-greeting: its kernel resets the connection."""
    import sys

    info = (await _start(server.url)).json()
    script = tmp_path / "client.py"
    script.write_text(
        "import asyncio, sys, websockets\n"
        "from candidate.protocol import client_ready, decode\n"
        "from interviewer.audio import rms_dbfs\n"
        "async def main():\n"
        "    ws = await websockets.connect(sys.argv[1])\n"
        "    await ws.send(client_ready('vanishing'))\n"
        "    print('connected', flush=True)\n"
        "    heard = False\n"
        "    while True:\n"
        "        raw = await ws.recv()\n"
        "        if heard or not isinstance(raw, bytes):\n"
        "            continue\n"
        "        frame = decode(raw)\n"
        "        if frame.WhichOneof('frame') == 'audio' and rms_dbfs(frame.audio.audio) > -60:\n"
        "            heard = True\n"
        "            print('heard', flush=True)\n"
        "asyncio.run(main())\n"
    )
    before = await _running(server.url)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        f"{info['wsUrl']}?token={info['token']}",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert (await proc.stdout.readline()).strip() == b"connected"
        assert await _until(lambda: _running_is(server.url, before + 1), 10) is not None
        # Killed mid-greeting: once the interviewer's voice has been heard.
        heard = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert heard.strip() == b"heard", heard
        proc.kill()
        t0 = time.monotonic()
        freed = await _until(lambda: _running_is(server.url, before), 5)
        print(f"\nslot freed {_ms(freed)} after the client's process was killed")
        assert freed is not None and time.monotonic() - t0 < 1.0
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


@pytest.mark.slow
async def test_a_client_that_sends_no_audio_hears_a_nudge_then_a_goodbye(settings, models):
    from web.cli import LocalServer

    local = settings.model_copy(update={"client_idle_secs": 1.5})
    async with LocalServer(local, models=models) as srv:
        ws = await _connect((await _start(srv.url)).json())
        await ws.send(client_ready("test"))  # and then not a byte of audio
        said, ended = [], None
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                frame = decode(await asyncio.wait_for(ws.recv(), 60))
                if frame.WhichOneof("frame") != "message":
                    continue
                msg = message_of(frame)
                data = msg.get("data") or {}
                if msg["type"] == "bot-output" and data.get("spoken_status") == "completed":
                    said.append(data["text"])
                if msg["type"] == "server-message" and data.get("state") == "ended":
                    ended = data
        heard = " ".join(said)
        assert IDLE_NUDGE.split(".")[0] in heard and "so I'll end the interview here" in heard
        assert heard.index("Is your microphone on?") < heard.index("end the interview here")
        assert ended is not None and ended["report_url"]
        assert await _until(lambda: _running_is(srv.url, 0), 5) is not None
    assert IDLE_GOODBYE.endswith("Goodbye.")


@pytest.mark.slow
async def test_a_client_that_sends_audio_is_never_nudged(settings, models):
    from web.cli import LocalServer

    local = settings.model_copy(update={"client_idle_secs": 1.5})
    async with LocalServer(local, models=models) as srv:
        async with CandidateSession(srv.url, "technical") as candidate:  # a mic: silence, always
            assert await candidate.hear_greeting()
            await asyncio.sleep(4)  # well past the idle limit, mic on and silent
            said = " ".join(t.text for t in candidate.log.turns if t.role == "interviewer")
            assert "microphone" not in said and not candidate.closed.is_set()


@pytest.mark.slow
@pytest.mark.parametrize("mic", [True, False], ids=["streaming", "silent"])
async def test_a_client_that_stops_reading_is_dropped(settings, models, mic):
    """Dropped whether or not it still sends: a silent one leaves nothing unread on the
    server's side, where a close's FIN would wait behind the audio it never took."""
    from web.cli import LocalServer

    timeout_s = 1.0
    local = settings.model_copy(update={"client_write_timeout_secs": timeout_s})
    async with LocalServer(local, models=models) as srv:
        client = await NeverReads(srv.url, int(srv.url.rsplit(":", 1)[1]), mic=mic).connect()
        try:
            assert await _until(lambda: _running_is(srv.url, 1), 10) is not None
            t0 = time.monotonic()
            # The server ends the connection about when the setting says: not at once, and not
            # when something else (the idle nudge, the 600 s idle timer) would end the session.
            dropped = await client.dropped_by_server(timeout_s + DROP_MARGIN_S)
            freed = await _until(lambda: _running_is(srv.url, 0), 2, every_s=0.05)
            freed = freed and time.monotonic() - t0
            print(
                f"\na client that stopped reading (timeout {timeout_s:g} s) was dropped by the"
                f" server after {_ms(dropped)} (its end: {client.state()}), its slot free after"
                f" {_ms(freed)}"
            )
            assert dropped is not None, f"still {client.state()}: the client was never dropped"
            assert dropped >= timeout_s / 2, "dropped before it could have been late"
            assert await client.learns_it_was_dropped(), f"the client cannot tell: {client.state()}"
            assert client.ws.protocol.close_sent is None  # the client closed nothing itself
            assert freed is not None and freed <= timeout_s + DROP_MARGIN_S
        finally:
            await client.close()


@pytest.mark.slow
async def test_start_floods_get_429_with_retry_after(settings, models):
    from web.cli import LocalServer

    local = settings.model_copy(update={"start_rate_per_s": 2.0, "start_burst": 5})
    async with LocalServer(local, models=models) as srv:
        async with httpx.AsyncClient(timeout=30) as http:
            answers = await asyncio.gather(
                *[http.post(f"{srv.url}/start", json={"body": {}}) for _ in range(40)]
            )
            codes = [r.status_code for r in answers]
            assert codes.count(200) in (5, 6) and codes.count(429) == 40 - codes.count(200)
            wait = max(int(r.headers["retry-after"]) for r in answers if r.status_code == 429)
            assert 1 <= wait <= 2
            await asyncio.sleep(wait)
            assert (await http.post(f"{srv.url}/start", json={"body": {}})).status_code == 200


ANSWER = "I rebuilt our payments service so that it never loses a single order."
ANSWER_KEY = "payment"


async def _silent_client(url: str) -> dict:
    """Connects and sends no audio: what it heard, in order, and how it ended."""
    ws = await _connect((await _start(url)).json())
    await ws.send(client_ready("no-audio"))
    events: list[tuple[str, str]] = []  # ("audio", "") for audible audio, ("said", text)
    ended = None
    try:
        async for raw in ws:
            frame = decode(raw)
            if _audible(frame):
                events.append(("audio", ""))
            elif frame.WhichOneof("frame") == "message":
                msg = message_of(frame)
                data = msg.get("data") or {}
                if msg["type"] == "bot-output" and data.get("spoken_status") == "completed":
                    events.append(("said", data["text"]))
                if msg["type"] == "server-message" and data.get("state") == "ended":
                    ended = data
    except websockets.ConnectionClosed:
        pass
    # Each line it said was heard: audible audio came after the line before it was spoken.
    heard, audio = [], False
    for kind, text in events:
        if kind == "audio":
            audio = True
        elif audio:
            heard.append(text)
            audio = False
    return {
        "heard": heard,
        "ended": ended,
        # It closes nothing itself: a close it received first is the server's.
        "closed_by_server": bool(ws.protocol.close_rcvd_then_sent),
        "close_code": ws.close_code,
    }


def _nudged_then_let_go(heard: list[str]) -> bool:
    """The nudge was heard, then the goodbye, in that order."""
    said = " ".join(heard)
    nudge, goodbye = IDLE_NUDGE.split(".")[0], IDLE_GOODBYE.split(",")[0]
    return nudge in said and goodbye in said and said.index(nudge) < said.index(goodbye)


async def _speaker(url: str, answer: bytes) -> dict:
    """A candidate who is greeted, answers, and hears the reply to their words; then leaves."""
    async with CandidateSession(url, "technical") as candidate:
        greeted = await candidate.hear_greeting()
        answered = greeted and await candidate.answer(answer)
        closed = candidate.closed.is_set()
    replies = candidate.log.replies()
    return {
        "greeted": greeted,
        "answered": answered,
        "closed_early": closed,
        "said": replies[-1][0].text if replies else None,
        "reply": replies[-1][1].text if replies else None,
    }


async def _burst(url: str, port: int, answer: bytes, drop_within_s: float) -> dict:
    """What the issue saw lock a server: tokens never used, sessions opened and dropped
    mid-greeting (closed or reset), a client that never reads and one that sends no audio;
    and among them a candidate who talks and must be answered."""
    async with httpx.AsyncClient(timeout=30) as http:
        unused = [await http.post(f"{url}/start", json={"body": {}}) for _ in range(100)]

    async def dropped(i: int) -> float | None:
        ws = await _connect((await _start(url)).json())
        await ws.send(client_ready("burst"))
        heard = await _greeted(ws)  # the greeting heard, then gone mid-greeting
        await (ws.close() if i % 2 else _rst(ws))
        return heard

    async def never_reads() -> dict:
        client = await NeverReads(url, port, mic=True).connect()  # not idle: only not reading
        try:
            after = await client.dropped_by_server(drop_within_s)
            end = client.state()  # as the server left it, before we send anything
            return {
                "dropped_after_s": after and round(after, 1),
                "end": end,
                "closed_nothing": client.ws.protocol.close_sent is None,
                "learns_it": after is not None and await client.learns_it_was_dropped(),
            }
        finally:
            await client.close()

    results = await asyncio.gather(
        *(dropped(i) for i in range(DROPPED)),
        never_reads(),
        asyncio.wait_for(_silent_client(url), 60),
        asyncio.wait_for(_speaker(url, answer), 120),
    )
    return {
        "unused": [r.status_code for r in unused],
        "greeted_s": results[:DROPPED],
        "never_reads": results[DROPPED],
        "silent": results[DROPPED + 1],
        "speaker": results[DROPPED + 2],
    }


DROPPED = 5  # with the three other clients: every one of the 8 slots at once


def _python_mb() -> float:
    """Memory held by Python objects now (traced), in MiB, after a collection."""
    import gc
    import tracemalloc

    gc.collect()
    return tracemalloc.get_traced_memory()[0] / 2**20


def _rss_untraced_mb(rss_mb) -> float:
    """The process's RSS without the tracer's own bookkeeping (it grows with every block traced)."""
    import tracemalloc

    return rss_mb() - tracemalloc.get_tracemalloc_memory() / 2**20


@pytest.mark.slow
async def test_a_second_burst_is_served_and_leaves_no_memory(settings, models):
    """Two identical bursts after a first one (which warms caches): each is served in full, no
    session outlives it, and the objects they leave behind add up to almost nothing.

    RSS alone misleads here: of what three bursts allocated, 8 MB was still allocated after them
    (memray's tracker, 2026-12-03; 3.4 MB of it Moonshine's last results), while RSS rose 117 MB
    and single bursts moved it by -3 to +80 MB, as the allocator left it (heap too fragmented
    for malloc_trim to return, ONNX Runtime's arenas). So what a leak holds is counted exactly
    (sessions' objects alive, Python memory held), and RSS keeps its 50 MiB bound per burst
    against a leak outside Python, which grows every burst: one of the two must stay within it.
    """
    import tracemalloc

    from tests.test_load import live_pipeline_objects, rss_mb
    from web.cli import LocalServer

    write_timeout_s = 2.0  # keepalive pings every 1 s: no false drops on a busy 2-core machine
    local = settings.model_copy(
        update={
            "max_sessions": DROPPED + 3,
            "start_rate_per_s": 1000.0,
            "start_burst": 1000,  # the flood limit is another test's; this one is about memory
            "client_idle_secs": 1.0,
            "client_write_timeout_secs": write_timeout_s,
        }
    )
    answer = synthesize(models.piper_voice, ANSWER)
    alive_before = live_pipeline_objects()
    async with LocalServer(local, models=models) as srv:
        port = int(srv.url.rsplit(":", 1)[1])
        rss = [_rss_untraced_mb(rss_mb)]
        bursts, statuses, alive, held = [], [], [], []
        try:
            for n in range(3):
                if n == 1:  # the first burst warmed what is kept for good (caches, pools)
                    tracemalloc.start()
                    held.append(_python_mb())
                bursts.append(await _burst(srv.url, port, answer, write_timeout_s + DROP_MARGIN_S))
                await _until(lambda: _running_is(srv.url, 0), 30, every_s=0.1)
                statuses.append(await _status(srv.url))
                await asyncio.sleep(2.0)  # a dropped session's turn is decoded again meanwhile
                alive.append(live_pipeline_objects())
                rss.append(_rss_untraced_mb(rss_mb))
                if n >= 1:
                    held.append(_python_mb())
        finally:
            tracemalloc.stop()
    growth = [round(b - a, 2) for a, b in itertools.pairwise(held)]
    rss_growth = [round(b - a) for a, b in itertools.pairwise(rss[1:])]
    print(f"\nRSS before, after bursts 1-3: {[round(r) for r in rss]} MiB (without the tracer's)")
    print(f"Python objects held, growth over bursts 2 and 3: {growth} MiB")
    print(
        f"pipeline workers and processors alive before, after each burst: {alive_before}, {alive}"
    )
    for n, (burst, status) in enumerate(zip(bursts, statuses, strict=True), 1):
        counts = {k: status[k] for k in ("running", "pending", "free")}
        print(f"burst {n}: /status after it: {counts}")
        print(f"  100 unused /start: {sorted(set(burst['unused']))}")
        print(
            f"  dropped mid-greeting, greeting heard after (s): {[g and round(g, 1) for g in burst['greeted_s']]}"
        )
        print(f"  never reads: {burst['never_reads']}")
        print(
            f"  no audio: heard last {burst['silent']['heard'][-2:]}, then closed by the server ({burst['silent']['close_code']})"
        )
        print(f"  talks: said {burst['speaker']['said']!r}, answered {burst['speaker']['reply']!r}")

    for burst, status in zip(bursts, statuses, strict=True):
        assert set(burst["unused"]) == {200}, burst["unused"]
        assert all(g is not None for g in burst["greeted_s"]), burst["greeted_s"]
        # The candidate who talked was answered: a reply to their words, heard.
        speaker = burst["speaker"]
        assert speaker["said"] and ANSWER_KEY in speaker["said"].lower(), speaker
        assert speaker["reply"] and not speaker["closed_early"], speaker
        # The client that never reads was let go by the server, in about the time set.
        never = burst["never_reads"]
        assert never["dropped_after_s"] is not None and never["closed_nothing"], never
        assert never["learns_it"], never
        # The client that sends no audio heard a nudge, then a goodbye, and was let go.
        silent = burst["silent"]
        assert _nudged_then_let_go(silent["heard"]), silent
        assert silent["ended"] and silent["ended"]["report_url"] and silent["closed_by_server"], (
            silent
        )
        # And every slot came back.
        assert status["running"] == 0 and status["free"] == local.max_sessions, status
        assert status["pending"] <= local.max_pending_starts, status
    # No interview outlives its burst: every pipeline worker and processor of it is gone.
    assert all(a <= alive_before for a in alive), (alive_before, alive)
    # What the later bursts leave held in Python objects is bookkeeping, not sessions (one
    # session's audio alone is ~0.2 MiB, its pipeline more).
    assert all(g < 1.0 for g in growth), growth
    # A leak outside Python (say a model loaded per session, never freed) grows RSS every burst.
    assert min(rss_growth) < 50, rss
    # And the two bursts together stay within the bound this test had before (as loose as ever).
    assert rss[3] - rss[1] < 200, rss
