"""The ``interviewer`` command: serve, run one mode, replay audio files as a candidate."""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys

from loguru import logger

from interviewer.audio import AudioFileError, load_pcm16
from interviewer.config import Settings, SettingsError, load_settings


def serve_mode(mode_id: str | None = None) -> None:
    """Serve the browser client and sessions (one mode preselected, or all)."""
    from web.server import serve

    settings = load_settings()
    if mode_id:
        logger.info(
            f"Serving the {mode_id} mode: open http://{settings.host}:{settings.port}/?mode={mode_id}"
        )
    serve(settings)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """The real server in this process, on a free loopback port (for replays and tests)."""

    def __init__(self, settings: Settings | None = None, models=None):
        import uvicorn

        from web.server import create_app, uvicorn_config

        port = _free_port()
        self.settings = (settings or load_settings()).model_copy(
            update={"host": "127.0.0.1", "port": port}
        )
        self.app = create_app(self.settings, models=models)
        self.url = f"http://127.0.0.1:{port}"
        self._server = uvicorn.Server(uvicorn_config(self.app, self.settings, log_level="warning"))
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> LocalServer:
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.05)
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.should_exit = True
        if self._task:
            await self._task


async def replay(
    mode: str, files: list[str], url: str | None = None, settings: Settings | None = None
) -> dict:
    """Hold one interview with ``files`` as the candidate's microphone; return the transcript."""
    from candidate.session_client import CandidateSession

    audio = [load_pcm16(f) for f in files]  # fail fast, before connecting

    async def run(base_url: str) -> dict:
        async with CandidateSession(base_url, mode) as session:
            await session.interview(audio)
        started = next((m for m in session.log.server_messages if m.get("type") == "interview"), {})
        return {
            "mode": mode,
            "interview_id": started.get("interview_id"),
            "report_url": f"{base_url}{started['report_url']}"
            if started.get("report_url")
            else None,
            "turns": [t.as_dict() for t in session.log.turns],
        }

    if url:
        return await run(url)
    async with LocalServer(settings) as server:
        return await run(server.url)


def _print_stored(args, settings: Settings) -> int:
    """``interviewer report ID`` and ``interviewer list``: read from DATABASE_URL."""
    from bots import get_mode
    from interviewer.report import build_report, to_markdown
    from interviewer.store import Store

    store = Store(settings.database_url)
    if args.command == "list":
        for row in store.list():
            print(
                f"{row['id']}  {row['started_at'][:19]}  {row['mode']:<14} {row['status']:<8} {row['turns']:>3} turns  {row['candidate']}"
            )
        return 0
    interview = store.get(args.interview_id)
    if interview is None:
        print(
            f"error: no interview {args.interview_id!r} in {settings.database_url}", file=sys.stderr
        )
        return 2
    report = interview.report or build_report(interview, get_mode(interview.mode))
    if args.json:
        print(
            json.dumps(
                {
                    "interview_id": interview.id,
                    "status": interview.status,
                    "transcript": report["transcript"],
                    "report": report,
                },
                indent=2,
            )
        )
    else:
        print(to_markdown(report))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``interviewer`` console script."""
    parser = argparse.ArgumentParser(
        prog="interviewer", description="Offline voice AI job interviewer"
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="serve every mode with the browser client (default)")
    run_p = sub.add_parser("run", help="serve one mode")
    run_p.add_argument("mode")
    rp = sub.add_parser("replay", help="replay audio files as the candidate, in real time")
    rp.add_argument("--mode", default="technical")
    rp.add_argument("--url", help="replay against a running server instead of an in-process one")
    rp.add_argument("--json", action="store_true", help="print the transcript as JSON")
    rp.add_argument("files", nargs="+")
    rep = sub.add_parser("report", help="print an interview's stored transcript and report")
    rep.add_argument("interview_id")
    rep.add_argument("--json", action="store_true", help="JSON instead of Markdown")
    sub.add_parser("list", help="list recent interviews in the database")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
        if args.command in (None, "serve"):
            serve_mode(None)
            return 0
        if args.command == "run":
            from bots import get_mode

            get_mode(args.mode)
            serve_mode(args.mode)
            return 0
        if args.command in ("report", "list"):
            return _print_stored(args, settings)
        if args.json:  # stdout is the JSON, stderr one line per problem (not pipecat's banner)
            logger.remove()
            logger.add(sys.stderr, level="WARNING")
        from bots import MODES

        if args.mode not in MODES:
            print(
                f"error: unknown mode {args.mode!r}; choose one of {', '.join(sorted(MODES))}",
                file=sys.stderr,
            )
            return 2
        for f in args.files:
            load_pcm16(f)
        if not args.json:
            logger.info("Replaying...")
        result = asyncio.run(replay(args.mode, args.files, url=args.url, settings=settings))
    except AudioFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (SettingsError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for t in result["turns"]:
            lat = f"  ({t['latency_ms']} ms)" if t["latency_ms"] is not None else ""
            print(f"[{t['start_ms']:>6} ms] {t['role']:>11}: {t['text']}{lat}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
