"""Voice-to-voice latency, ours against a stock pipecat pipeline, and concurrency. ``make bench``.

Each server runs in its own process; a candidate client streams real speech (../shared/audio)
and the scenarios' synthesized answers over the real WebSocket in real time, like a
microphone, and timestamps the first audible bot audio it receives. Latency of a reply =
that moment minus the end of the candidate's voice as the page measures it
(:mod:`candidate.voice`: the last 20 ms chunk of voice sent; a click or breath after the
last word is not voice).
The breakdown comes from pipecat's UserBotLatencyObserver (sent by each server as an RTVI
message); CPU time and peak memory are read from /proc for each server process. With
``BENCH_SERVER_LOG=path`` the servers' logs are appended there (each turn's decision, say).

The last line is for scripts:
``RESULT p50_ms=N p95_ms=N stock_p50_ms=N ratio=R max_sessions=N``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from candidate.scenario import Scenario, all_scenarios  # noqa: E402
from candidate.session_client import CandidateSession  # noqa: E402
from interviewer.audio import load_pcm16, synthesize  # noqa: E402

AUDIO = ROOT.parent / "shared" / "audio"
REAL = ["beckett.wav", "hotwords.mp3", "endgame_nagg_nell.wav", "two_cities.wav"]
STAGGER_CYCLE_S = 10.0  # one answer (about 5 s) and the reply to it
MODEL_LINES_SHARE = 0.8  # with LLM=local, a step holds only if the model wrote this share of lines
CONCURRENT_ANSWERS = [
    "I have spent six years building backend systems, most recently leading a small payments team.",
    "We disagreed about a database migration, so we ran a small experiment and let the numbers decide.",
    "A launch slipped by two weeks because we skipped load testing, and now we test before every release.",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_log():
    """Where the servers' logs go: the file ``BENCH_SERVER_LOG`` names (appended), else nowhere."""
    path = os.environ.get("BENCH_SERVER_LOG")
    return open(path, "a") if path else subprocess.DEVNULL  # the child process keeps it open


class ServerProcess:
    """A server in its own process, with CPU and memory read from /proc."""

    def __init__(self, cmd: list[str], env: dict | None = None):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, "PORT": str(self.port), "HOST": "127.0.0.1", **(env or {})}
        self.proc = subprocess.Popen(
            [*cmd, "--port", str(self.port)],
            cwd=ROOT,
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=_server_log(),
        )

    def wait_ready(self, timeout: float = 180) -> float:
        """Seconds until /status says ready."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            try:
                if httpx.get(f"{self.url}/status", timeout=2).json().get("ready"):
                    return time.monotonic() - t0
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server on {self.url} did not become ready")

    def cpu_s(self) -> float:
        """CPU seconds the server has used (user + system)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def mem_mb(self, key: str = "VmRSS") -> float:
        """Resident memory (``VmRSS``) or its peak (``VmHWM``), MB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024
        return 0.0

    def model_lines(self, settle_s: float = 20.0) -> tuple[int, int] | None:
        """(asked, written): lines ended sessions asked the local model for and got; None: none."""
        lines = self.line_counts(settle_s)
        return (lines["asked"], lines["written"]) if lines else None

    def line_counts(self, settle_s: float = 20.0) -> dict[str, int] | None:
        """``/status``'s ``model_lines`` (asked, written, early, early_used, late, after_deadline).

        None: no local model.

        Sessions are counted as they end: read once none is running (up to ``settle_s``).
        """
        deadline = time.monotonic() + settle_s
        while True:
            try:
                status = httpx.get(f"{self.url}/status", timeout=5).json()
            except (httpx.HTTPError, ValueError):
                return None
            if not status.get("running") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        return status.get("model_lines")

    def stop(self) -> None:
        """Terminate the server (kill after 15 s)."""
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _workload(voice) -> list[tuple[str, str, list[bytes]]]:
    """(name, mode, candidate turns) for every real recording and every scenario."""
    items = [(f"real:{name}", "technical", [load_pcm16(AUDIO / name)]) for name in REAL]
    for path in all_scenarios():
        sc = Scenario.load(path)
        turns = [t for t in sc.turns if t.barge_in_after_ms is None]
        items.append(
            (
                f"scenario:{sc.name}",
                sc.mode,
                [
                    load_pcm16(ROOT / t.audio) if t.audio else synthesize(voice, t.say)
                    for t in turns
                ],
            )
        )
    return items


async def _run_session(
    url: str, mode: str, turns: list[bytes]
) -> tuple[list[int], list[dict], int]:
    """One interview: latencies (ms) of replies the candidate let finish, breakdowns, cut-ins.

    A cut-in is a reply the candidate talked over because they had not finished: the server
    ended their turn too early. Its latency is not a reply latency (it answered half a thought).
    """
    async with CandidateSession(url, mode) as s:
        await s.interview(turns, timeout_s=90, ready_s=60)
    replies = [t for t in s.log.turns if t.role == "interviewer" and t.latency_ms is not None]
    lat = [t.latency_ms for t in replies if not t.interrupted]
    parts = [m for m in s.log.server_messages if m.get("type") == "latency"]
    return lat, parts, sum(1 for t in replies if t.interrupted)


def _pct(values: list[int], p: float) -> int:
    if not values:
        return 0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _breakdown(parts: list[dict]) -> dict[str, int]:
    """Median ms per named part of the server's latency breakdown."""
    by_label: dict[str, list[int]] = {}
    for msg in parts:
        for p in msg.get("parts", []):
            by_label.setdefault(p["label"], []).append(p["ms"])
    return {k: int(statistics.median(v)) for k, v in by_label.items()}


async def mid_answer_pauses(workload) -> dict[str, int]:
    """Per kind of speech: the pauses inside answers of up to BOUND_PAUSE_SECS (Silero VAD)."""
    from benchmarks.turn_decisions import BOUND_PAUSE_SECS, vad_pauses
    from interviewer.config import load_settings

    settings = load_settings()
    counts = {"real": 0, "synthesized": 0}
    for name, _mode, turns in workload:
        for pcm in turns:
            gaps = await vad_pauses(pcm, settings)
            counts[_kind(name)] += sum(g <= BOUND_PAUSE_SECS for g in gaps)
    return counts


def _kind(name: str) -> str:
    return "real" if name.startswith("real:") else "synthesized"


async def bench_server(
    label: str, server: ServerProcess, workload, pauses: dict[str, int]
) -> dict[str, list[int]]:
    """Latencies per kind of speech ("real", "synthesized"), with cut-ins and the breakdown."""
    print(f"\n== {label} ==")
    lat_by: dict[str, list[int]] = {"real": [], "synthesized": []}
    cuts_by = {"real": 0, "synthesized": 0}
    all_parts: list[dict] = []
    cpu0 = server.cpu_s()
    lines0 = server.line_counts()
    for name, mode, turns in workload:
        lat, parts, cuts = await _run_session(server.url, mode, turns)
        lat_by[_kind(name)] += lat
        cuts_by[_kind(name)] += cuts
        all_parts += parts
        print(f"  {name:<34} replies {len(lat):>2}  cut-ins {cuts}  latency ms {lat}")
    for kind, lat in lat_by.items():
        n = pauses.get(kind, 0)
        rate = f"{20 * cuts_by[kind] / n:.1f} per 20" if n else "n/a"
        print(
            f"  {kind:<11} voice-to-voice ms: p50 {_pct(lat, 50)}  p95 {_pct(lat, 95)}  "
            f"max {max(lat, default=0)}  (n={len(lat)}); cut-ins {cuts_by[kind]} "
            f"over {n} mid-answer pauses up to 1.5 s ({rate})"
        )
    print(
        "  breakdown (median ms): "
        + ", ".join(f"{k} {v}" for k, v in _breakdown(all_parts).items())
    )
    print(f"  server CPU {server.cpu_s() - cpu0:.1f} s, peak RSS {server.mem_mb('VmHWM'):.0f} MB")
    lines = server.line_counts()
    if lines0 and lines:
        n = {
            k: lines.get(k, 0) - lines0.get(k, 0)
            for k in ("asked", "written", "early", "early_used", "late", "after_deadline")
        }
        print(
            f"  model lines: written {n['written']} of {n['asked']} ({n['after_deadline']} after "
            f"the deadline; {n['late']} late); started in a pause {n['early']}, of them the "
            f"turn's line {n['early_used']}"
        )
    return lat_by


class LiveMemory:
    """A process's resident memory while sessions are live: its peak over a baseline.

    Taken around one concurrency step: the baseline is read on entry (just before the step's
    sessions start), then the RSS is sampled every ``interval_s`` until exit. Each session
    runs inside :meth:`session`, which counts the sessions live at once; the peak is read
    while they are live, so :attr:`per_session_mb` is what one live session costs, not
    growth left behind after the sessions ended.
    """

    def __init__(self, read_mb: Callable[[], float], interval_s: float = 0.2):
        self._read_mb = read_mb
        self._interval_s = interval_s
        self.base_mb = 0.0
        self.peak_mb = 0.0
        self.live = 0
        self.max_live = 0
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> LiveMemory:
        self.base_mb = self.peak_mb = self._read_mb()
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass

    async def _sample(self) -> None:
        while True:
            if self.live:
                self.peak_mb = max(self.peak_mb, self._read_mb())
            await asyncio.sleep(self._interval_s)

    @asynccontextmanager
    async def session(self):
        """Count a session as live while the block runs (RSS read as it starts and ends)."""
        self.live += 1
        self.max_live = max(self.max_live, self.live)
        self.peak_mb = max(self.peak_mb, self._read_mb())
        try:
            yield
        finally:
            self.peak_mb = max(self.peak_mb, self._read_mb())
            self.live -= 1

    @property
    def per_session_mb(self) -> float:
        """Peak growth over the baseline while live, per session live at the most."""
        return (self.peak_mb - self.base_mb) / max(1, self.max_live)


async def _staggered(url: str, turns: list[bytes], delay_s: float, memory: LiveMemory):
    await asyncio.sleep(delay_s)
    async with memory.session():
        return await _run_session(url, "behavioral", turns)


async def concurrency(server: ServerProcess, turns: list[bytes], limit_ms: int, max_n: int) -> int:
    """Largest number of simultaneous interviews whose p95 voice-to-voice stays within a limit.

    The limit is ``limit_ms`` or, when more, one interview's p95 + 300 ms: the turn's
    deliberate silence is in every latency, and sharing the CPU may add at most 300 ms to it.
    Independent candidates do not speak in step: the N sessions start spread evenly over
    one answer-and-reply cycle (``STAGGER_CYCLE_S``), all running at once after that.
    Memory per session: the server's peak RSS while the step's sessions are live, over its
    RSS just before the step (:class:`LiveMemory`). With the local model (``LLM=local``) a step
    holds only if the model wrote at least ``MODEL_LINES_SHARE`` of the lines asked of it: past
    that the interviewer keeps time by speaking its scripted lines, which is no AI interview.
    """
    print(
        f"\n== concurrency (ours; N sessions started {STAGGER_CYCLE_S:.0f} s/N apart, then all at once) =="
    )
    best = 0
    for n in range(1, max_n + 1):
        lines0 = server.model_lines()
        async with LiveMemory(server.mem_mb) as memory:  # baseline: just before this step
            results = await asyncio.gather(
                *[_staggered(server.url, turns, i * STAGGER_CYCLE_S / n, memory) for i in range(n)]
            )
        lat = [x for r, _, _ in results for x in r]
        p95 = _pct(lat, 95)
        lines = _lines_between(lines0, server.model_lines())
        print(
            f"  {n} sessions: p95 {p95} ms  p50 {_pct(lat, 50)} ms  "
            f"RSS {memory.base_mb:.0f} MB before, peak {memory.peak_mb:.0f} MB with "
            f"{memory.max_live} live (+{memory.per_session_mb:.0f} MB per live session)"
            + (f"; the model's lines {lines[1]} of {lines[0]}" if lines else "")
        )
        if n == 1:
            limit_ms = max(limit_ms, p95 + 300)
            print(
                f"  (limit: p95 <= {limit_ms} ms"
                + (
                    f", and at least {MODEL_LINES_SHARE:.0%} of the lines the model's)"
                    if lines
                    else ")"
                )
            )
        if p95 > limit_ms or not lat:
            break
        if lines and lines[1] < MODEL_LINES_SHARE * lines[0]:
            break  # the interviewer kept time by reading its script: not an AI interview
        best = n
    return best


def _lines_between(before: tuple[int, int] | None, after: tuple[int, int] | None):
    """(asked, written) model lines between two readings of /status; None without the local model."""
    if before is None or after is None or after[0] == before[0]:
        return None
    return after[0] - before[0], after[1] - before[1]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-sessions", type=int, default=12)
    parser.add_argument("--skip-stock", action="store_true")
    parser.add_argument(
        "--concurrency-only", action="store_true", help="only the simultaneous-interviews search"
    )
    parser.add_argument(
        "--latency-only", action="store_true", help="our server's latency runs, nothing else"
    )
    args = parser.parse_args()

    from piper import PiperVoice

    from interviewer.config import load_settings
    from interviewer.models import piper_voice_path

    voice = PiperVoice.load(str(piper_voice_path(load_settings())))
    # The latency runs' speech (and its pauses); the concurrency search needs neither.
    workload = [] if args.concurrency_only else _workload(voice)
    pauses = await mid_answer_pauses(workload)
    db = f"sqlite:////tmp/interviewer-bench-{os.getpid()}.db"

    t0 = time.monotonic()
    ours = ServerProcess(
        [sys.executable, "-m", "web.server"], {"DATABASE_URL": db, "MAX_SESSIONS": "32"}
    )
    print(
        f"our server ready in {ours.wait_ready():.1f} s (models loaded once, before the first session)"
    )
    try:
        our = (
            {"real": [], "synthesized": []}
            if args.concurrency_only
            else await bench_server("ours", ours, workload, pauses)
        )
        max_sessions = (
            0
            if args.latency_only
            else await concurrency(
                ours, [synthesize(voice, a) for a in CONCURRENT_ANSWERS], 1500, args.max_sessions
            )
        )
    finally:
        ours.stop()

    stock: dict[str, list[int]] = {"real": [], "synthesized": []}
    if not (args.skip_stock or args.concurrency_only or args.latency_only):
        server = ServerProcess([sys.executable, "benchmarks/stock_server.py"])
        try:
            server.wait_ready()
            stock = await bench_server(
                "stock pipecat (default parameters, same models)", server, workload, pauses
            )
        except Exception as e:  # the comparison failed: ours' figures still stand
            print(f"stock pipecat run failed ({type(e).__name__}: {e}); no comparison")
            stock = {"real": [], "synthesized": []}
        finally:
            server.stop()

    print()
    for kind in ("real", "synthesized"):
        p50, stock_p50 = _pct(our[kind], 50), _pct(stock[kind], 50)
        ratio = f"{p50 / stock_p50:.2f}" if stock_p50 else "n/a"
        print(
            f"{kind:<11} ours p50 {p50} ms, p95 {_pct(our[kind], 95)} ms; "
            f"stock p50 {stock_p50} ms; ratio {ratio}"
        )
    our_lat = our["real"] + our["synthesized"]
    stock_lat = stock["real"] + stock["synthesized"]
    p50, p95 = _pct(our_lat, 50), _pct(our_lat, 95)
    stock_p50 = _pct(stock_lat, 50)
    ratio = p50 / stock_p50 if stock_p50 else 0.0
    print(
        f"all         ours p50 {p50} ms, p95 {p95} ms; stock p50 {stock_p50} ms; ratio {ratio:.2f}; "
        f"max sessions (p95 ≤ 1.5 s or ≤ one session's + 300 ms): {max_sessions}; total {time.monotonic() - t0:.0f} s"
    )
    print(
        f"RESULT p50_ms={p50} p95_ms={p95} real_p50_ms={_pct(our['real'], 50)} "
        f"stock_p50_ms={stock_p50} ratio={ratio:.2f} max_sessions={max_sessions}"
    )


if __name__ == "__main__":
    asyncio.run(main())
