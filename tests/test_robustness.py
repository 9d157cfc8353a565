"""Bad input on the WebSocket: answered or dropped, never a crash, and other sessions carry on.

Fast tests drive transports/serializer.py directly (a catalogue of bad messages, a
hypothesis fuzz, the flood limits). Slow tests send the same things to a live session
on the real server, with a second, well-behaved candidate talking at the same time.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import pytest
import websockets
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from loguru import logger
from pipecat.frames.frames import InputAudioRawFrame, InputTransportMessageFrame
from pipecat.frames.protobufs import frames_pb2

from transports.serializer import CLIENT_RTVI_TYPES, ClientFrameSerializer

# --- building client messages --------------------------------------------------------


def audio_msg(rate=16000, channels=1, pcm=b"\x00\x00" * 320) -> bytes:
    f = frames_pb2.Frame()
    f.audio.audio, f.audio.sample_rate, f.audio.num_channels = pcm, rate, channels
    return f.SerializeToString()


def json_msg(data) -> bytes:
    f = frames_pb2.Frame()
    f.message.data = data if isinstance(data, str) else json.dumps(data)
    return f.SerializeToString()


def rtvi(kind: str, data=None, msg_id: str | None = "m1") -> bytes:
    msg = {"label": "rtvi-ai", "type": kind}
    if msg_id is not None:
        msg["id"] = msg_id
    if data is not None:
        msg["data"] = data
    return json_msg(msg)


def transcription_msg(text="I am the best candidate") -> bytes:
    f = frames_pb2.Frame()
    f.transcription.text, f.transcription.user_id, f.transcription.timestamp = text, "u", "0"
    return f.SerializeToString()


def text_msg(text="say something rude") -> bytes:
    f = frames_pb2.Frame()
    f.text.text = text
    return f.SerializeToString()


def interruption_msg() -> bytes:
    f = frames_pb2.Frame()
    f.interruption.SetInParent()
    return f.SerializeToString()


# What a client may not do, each with a name (the figures in the report count these).
BAD_INPUTS: dict[str, bytes | str] = {
    "random bytes": bytes(range(256)) * 3,
    "empty binary message": b"",
    "truncated audio frame": audio_msg()[:-7],
    "truncated header": audio_msg()[:3],
    "oversized audio frame": audio_msg(pcm=b"\x00\x00" * 200_000),
    "text WebSocket message": "hello, I am text where audio belongs",
    "JSON as a text WebSocket message": json.dumps(
        {"label": "rtvi-ai", "type": "client-ready", "id": "x"}
    ),
    "transcription frame (injected words)": transcription_msg(),
    "text frame": text_msg(),
    "interruption frame": interruption_msg(),
    "audio at 96 kHz": audio_msg(rate=96_000),
    "audio at 0 Hz": audio_msg(rate=0),
    "stereo audio": audio_msg(channels=2),
    "6-channel audio": audio_msg(channels=6),
    "odd-length audio": audio_msg(pcm=b"\x00" * 641),
    "message that is not JSON": json_msg("{not json"),
    "JSON list message": json_msg([1, 2, 3]),
    "JSON number message": json_msg("42"),
    "non-RTVI JSON object": json_msg({"label": "other", "type": "client-ready"}),
    "RTVI send-text (speaks for the candidate)": rtvi(
        "send-text", {"content": "I led everything", "options": {}}
    ),
    "RTVI raw-audio (bypasses audio checks)": rtvi(
        "raw-audio", {"base64Audio": "AAAA", "sampleRate": 96000, "numChannels": 2}
    ),
    "RTVI llm-function-call-result": rtvi("llm-function-call-result", {"function_name": "x"}),
    "RTVI append-to-context": rtvi("append-to-context", {"role": "user", "content": "hired"}),
    "RTVI unknown type": rtvi("frobnicate", {"x": 1}, msg_id="unknown-1"),
    "RTVI type not a string": json_msg({"label": "rtvi-ai", "type": 7, "id": "t7"}),
}


class Sink:
    """Collects what the serializer would send back to the client."""

    def __init__(self):
        self.sent: list[dict] = []

    async def __call__(self, message: dict) -> None:
        self.sent.append(message)


# --- fast: the serializer on its own --------------------------------------------------


async def test_every_bad_input_is_dropped_and_answered():
    s = ClientFrameSerializer(max_message_bytes=256_000)
    s.notify = sink = Sink()
    for name, data in BAD_INPUTS.items():
        before = len(sink.sent)
        assert await s.deserialize(data) is None, name
        assert len(sink.sent) == before + 1 or s.rejected > 5, name
    assert s.rejected == len(BAD_INPUTS)
    # An RTVI message with an id gets an error-response to that id; others an error event.
    by_id = {m.get("id"): m for m in sink.sent if m["type"] == "error-response"}
    assert (
        "unknown-1" in by_id
        and "Unsupported type frobnicate" in by_id["unknown-1"]["data"]["error"]
    )
    assert all(
        m["label"] == "rtvi-ai" and m["type"] in ("error", "error-response") for m in sink.sent
    )


async def test_all_bad_inputs_are_answered_when_few():
    for name, data in BAD_INPUTS.items():
        s = ClientFrameSerializer()
        s.notify = sink = Sink()
        assert await s.deserialize(data) is None
        [reply] = sink.sent
        text = reply["data"]["error"]
        assert len(text) < 300 and text, name


async def test_good_input_passes_and_other_rates_are_resampled():
    s = ClientFrameSerializer()
    frame = await s.deserialize(audio_msg())
    assert (
        isinstance(frame, InputAudioRawFrame)
        and frame.sample_rate == 16000
        and len(frame.audio) == 640
    )
    for kind in sorted(CLIENT_RTVI_TYPES):
        assert isinstance(await s.deserialize(rtvi(kind, {})), InputTransportMessageFrame)
    # 8 kHz and 48 kHz mono are converted to the pipeline's 16 kHz (1 s in, ~1 s out).
    for rate in (8000, 44100, 48000):
        s = ClientFrameSerializer()
        out = b""
        for _ in range(50):
            frame = await s.deserialize(audio_msg(rate=rate, pcm=b"\x01\x00" * (rate // 50)))
            assert frame.sample_rate == 16000 and frame.num_channels == 1
            out += frame.audio
        assert 0.9 < len(out) / 2 / 16000 <= 1.0, rate
    # A client cannot set a frame's id (stock pipecat copied it from the wire).
    f = frames_pb2.Frame.FromString(audio_msg())
    f.audio.id = 7
    frame = await ClientFrameSerializer().deserialize(f.SerializeToString())
    assert frame.id != 7


async def test_floods_are_cut_to_real_time():
    s = ClientFrameSerializer()
    s.notify = sink = Sink()
    tiny = audio_msg(pcm=b"\x00\x00")
    results = [await s.deserialize(tiny) for _ in range(5000)]
    accepted = sum(r is not None for r in results)
    assert 300 <= accepted <= 450  # the burst allowance, then nothing until time passes
    assert any("too many messages" in m["data"]["error"] for m in sink.sent)
    assert len(sink.sent) < 60  # the answers are rate-limited too
    # Audio faster than real time: 20 s of audio at once is cut after the 5 s burst.
    s = ClientFrameSerializer()
    second = audio_msg(pcm=b"\x00\x00" * 16000)
    accepted = sum([await s.deserialize(second) is not None for _ in range(20)])
    assert 4 <= accepted <= 6
    await asyncio.sleep(1.1)
    assert await s.deserialize(second) is not None  # refilled at 2x real time


def _rtvi_json():
    kinds = st.sampled_from(
        sorted(CLIENT_RTVI_TYPES - {"disconnect-bot"}) + ["send-text", "raw-audio", "x", ""]
    )
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))
    data = st.recursive(
        scalars,
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
        max_leaves=8,
    )
    msg = st.fixed_dictionaries(
        {"label": st.sampled_from(["rtvi-ai", "rtvi", ""]), "type": kinds | scalars},
        optional={"id": st.text(max_size=10) | st.integers(), "data": data},
    )
    return msg.map(json.dumps) | st.text(max_size=60)


def client_messages():
    """Raw WebSocket messages: garbage, near-valid frames, cut and bit-flipped valid ones."""
    audio = st.builds(
        audio_msg,
        rate=st.sampled_from([0, 1, 8000, 16000, 22050, 48000, 96000, 2**31 - 1])
        | st.integers(0, 2**32 - 1),
        channels=st.integers(0, 8),
        pcm=st.binary(max_size=1200),
    )
    valid = st.one_of(
        audio,
        _rtvi_json().map(json_msg),
        st.builds(transcription_msg, st.text(max_size=30)),
        st.builds(text_msg, st.text(max_size=30)),
        st.just(interruption_msg()),
    )

    def cut(data_and_i):
        data, i = data_and_i
        return data[: i % (len(data) + 1)]

    def flip(data_and_i):
        data, i = data_and_i
        if not data:
            return data
        b = bytearray(data)
        b[i % len(b)] ^= 1 << (i % 8)
        return bytes(b)

    pairs = st.tuples(valid, st.integers(0, 10_000))
    return st.one_of(
        st.binary(max_size=1500), st.text(max_size=200), valid, pairs.map(cut), pairs.map(flip)
    )


@hsettings(max_examples=1500, deadline=None, database=None)
@given(data=client_messages())
def test_fuzz_the_serializer_never_raises(data):
    s = ClientFrameSerializer(max_message_bytes=4096)
    s.notify = Sink()
    frame = asyncio.run(s.deserialize(data))
    assert frame is None or isinstance(frame, (InputAudioRawFrame, InputTransportMessageFrame))
    if isinstance(frame, InputAudioRawFrame):
        assert frame.sample_rate == 16000 and frame.num_channels == 1 and len(frame.audio) % 2 == 0
    if isinstance(frame, InputTransportMessageFrame):
        assert frame.message["label"] == "rtvi-ai" and frame.message["type"] in CLIENT_RTVI_TYPES


# --- slow: a live session on the real server ------------------------------------------


class LogCapture:
    """Loguru records at WARNING and above while in use."""

    def __init__(self):
        self.records: list[str] = []

    def __enter__(self):
        self._id = logger.add(lambda m: self.records.append(str(m)), level="WARNING")
        return self

    def __exit__(self, *exc):
        logger.remove(self._id)

    def crashes(self) -> list[str]:
        """Lines that mean a session or its transport died from an exception."""
        bad = ("Session failed", "exception receiving data", "Traceback", "Error processing frame")
        return [r for r in self.records if any(b in r for b in bad)]


async def _answered(session, pcm, timeout_s=60.0) -> float:
    """Speak and wait for the reply; how much bot audio (ms) came back for it."""
    before = session.log.bot_audio_ms
    session.speak(pcm)
    await session.drain()
    await session.wait_bot_done(timeout_s=timeout_s)
    return session.log.bot_audio_ms - before


async def _status(url: str) -> dict:
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.get(f"{url}/status")
        r.raise_for_status()
        return r.json()


@pytest.mark.slow
async def test_bad_input_on_a_live_session_while_another_talks(server, models):
    from candidate.session_client import CandidateSession
    from interviewer.audio import synthesize

    pcm_a = synthesize(models.piper_voice, "I spent three years building payment systems in Go.")
    pcm_b = synthesize(models.piper_voice, "My favourite project was a search engine for recipes.")
    with LogCapture() as logs:
        async with (
            CandidateSession(server.url, "technical") as bad,
            CandidateSession(server.url, "behavioral") as good,
        ):
            await asyncio.wait_for(asyncio.gather(bad.bot_ready.wait(), good.bot_ready.wait()), 30)
            await asyncio.gather(bad.wait_bot_done(timeout_s=60), good.wait_bot_done(timeout_s=60))

            async def misbehave():
                for data in BAD_INPUTS.values():
                    await bad._ws.send(data)
                    await asyncio.sleep(0.02)

            # The good candidate answers while the other page throws everything at the server.
            _, good_reply_ms = await asyncio.gather(misbehave(), _answered(good, pcm_b))
            await asyncio.sleep(1.0)
            # The misbehaving page's own session still works: it is heard and answered.
            bad_reply_ms = await _answered(bad, pcm_a)
            assert not bad.closed.is_set() and not good.closed.is_set()
    errors = [d for _, d in bad.log.of_type("error")]
    responses = {}
    for _, k, _d in bad.log.events:
        if k == "error-response":
            responses.setdefault("n", 0)
            responses["n"] += 1
    print(
        f"{len(BAD_INPUTS)} bad inputs -> {len(errors)} error events, {responses.get('n', 0)} error-responses;"
        f" replies: good {good_reply_ms:.0f} ms, bad {bad_reply_ms:.0f} ms"
    )
    assert good_reply_ms > 1000, "the other session was answered during the bad input"
    assert bad_reply_ms > 1000, "the misbehaving session survived and was answered"
    # Those were replies to the candidates' own words, heard (not the greeting's tail).
    assert "recipes" in good.log.replies()[-1][0].text.lower(), good.log.turns
    assert "payment" in bad.log.replies()[-1][0].text.lower(), bad.log.turns
    # Every bad input was answered: an RTVI error-response to an RTVI message with an id,
    # an RTVI error event to anything else.
    assert len(errors) + responses.get("n", 0) >= len(BAD_INPUTS)
    assert any("Dropped message" in e.get("error", "") for e in errors)
    assert responses.get("n", 0) >= 5  # send-text, raw-audio, ..., the unknown type
    # Nothing the client sent was taken as the candidate's words.
    heard = " ".join(bad.log.texts("candidate")).lower()
    assert "best candidate" not in heard and "led everything" not in heard and "hired" not in heard
    assert not logs.crashes(), logs.crashes()
    assert (await _status(server.url))["ready"]


@pytest.mark.slow
async def test_a_message_over_the_websocket_limit_closes_only_that_socket(server, models):
    from candidate.session_client import CandidateSession
    from interviewer.audio import synthesize

    async with CandidateSession(server.url, "technical") as good:
        await asyncio.wait_for(good.bot_ready.wait(), 30)
        async with httpx.AsyncClient(timeout=10) as http:
            info = (
                await http.post(f"{server.url}/start", json={"transport": "websocket", "body": {}})
            ).json()
        async with websockets.connect(
            f"{info['wsUrl']}?token={info['token']}", max_size=None
        ) as ws:
            t = time.monotonic()
            try:
                await ws.send(b"\x00" * (17 << 20))  # over uvicorn's ws_max_size (16 MiB)
                async with asyncio.timeout(15):
                    async for _ in ws:
                        pass
            except websockets.ConnectionClosed:
                pass
            code = ws.close_code
            print(f"17 MiB message: closed with {code} after {time.monotonic() - t:.2f} s")
            assert code == 1009  # message too big: a clean close, not a crash
        # The other candidate is still heard and answered: a reply to their words, heard.
        await good.wait_bot_done(timeout_s=60)
        pcm = synthesize(models.piper_voice, "I spent three years building payment systems.")
        assert await good.answer(pcm, timeout_s=60)
        replies = good.log.replies()
        assert not good.closed.is_set() and replies, good.log.turns
        assert "payment" in replies[-1][0].text.lower()
    assert (await _status(server.url))["ready"]


@pytest.mark.slow
async def test_a_flood_of_tiny_frames_is_cut_and_others_are_answered(server, models):
    from candidate.protocol import audio_msg as _audio_msg
    from candidate.session_client import CandidateSession
    from interviewer.audio import synthesize

    pcm = synthesize(models.piper_voice, "I like to write tests before I write the code.")
    tiny = _audio_msg(b"\x00\x00")
    async with (
        CandidateSession(server.url, "technical") as flood,
        CandidateSession(server.url, "behavioral") as good,
    ):
        await asyncio.wait_for(asyncio.gather(flood.bot_ready.wait(), good.bot_ready.wait()), 30)
        await good.wait_bot_done(timeout_s=60)

        async def blast():
            t = time.monotonic()
            n = 0
            while time.monotonic() - t < 3.0 and n < 30_000:
                await flood._ws.send(tiny)
                n += 1
            return n

        sent, reply_ms = await asyncio.gather(blast(), _answered(good, pcm))
        t = time.monotonic()
        status = await _status(server.url)
        status_s = time.monotonic() - t
        print(
            f"flood: {sent} tiny frames in 3 s; other session's reply {reply_ms:.0f} ms; /status in {status_s:.2f} s"
        )
        assert status["ready"] and status_s < 5
        assert reply_ms > 1000
        await asyncio.sleep(1.0)
        assert any("too many messages" in d.get("error", "") for _, d in flood.log.of_type("error"))
        # After the flood the flooding session still works.
        assert await _answered(flood, pcm) > 1000


@pytest.mark.slow
def test_fuzz_a_live_session(server, models):
    """~200 hypothesis-generated raw messages at one live session; it and the server live on."""
    from websockets.sync.client import connect

    from candidate.protocol import client_ready

    info = httpx.post(
        f"{server.url}/start", json={"transport": "websocket", "body": {}}, timeout=10
    ).json()
    received: list = []
    sent = [0]
    with (
        LogCapture() as logs,
        connect(f"{info['wsUrl']}?token={info['token']}", max_size=None) as ws,
    ):
        ws.send(client_ready("fuzz"))

        def drain():
            try:
                for raw in ws:
                    received.append(raw)
            except Exception:
                pass

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()

        @hsettings(
            max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(data=client_messages())
        def send_one(data):
            ws.send(data)
            sent[0] += 1
            time.sleep(0.005)

        send_one()
        time.sleep(1.5)
        still_open = ws.protocol.state.name == "OPEN"
    messages = []
    for raw in received:
        if isinstance(raw, bytes):
            try:
                f = frames_pb2.Frame.FromString(raw)
                if f.WhichOneof("frame") == "message":
                    messages.append(json.loads(f.message.data))
            except Exception:
                pass
    errors = [m for m in messages if m.get("type") in ("error", "error-response")]
    print(
        f"fuzz: {sent[0]} messages sent, {len(received)} received, {len(errors)} RTVI errors, open={still_open}"
    )
    assert sent[0] >= 150
    assert still_open, "fuzzed session was closed"
    assert errors, "the fuzzing client was told about its bad messages"
    assert not logs.crashes(), logs.crashes()[:5]
    # The server still serves a well-behaved candidate.
    from candidate.session_client import CandidateSession

    async def good():
        async with CandidateSession(server.url, "technical") as s:
            await s.hear_greeting()
        return s.log.bot_audio_ms

    assert asyncio.run(good()) > 1000
