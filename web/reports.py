"""Reports, reachable only with their interview's random token: a page, JSON and Markdown."""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse

from bots import get_mode
from interviewer.recordings import RecordingInfo, RecordingStore
from interviewer.report import build_report, to_html, to_markdown
from interviewer.store import Store

router = APIRouter()


def _interview_or_404(store: Store, token: str):
    found = store.get_by_token(token)
    if found is None:
        raise HTTPException(404, "No interview with that link")
    return found


def _report(store: Store, token: str) -> dict:
    found = _interview_or_404(store, token)
    return found.report or build_report(found, get_mode(found.mode))


@router.get("/report/{token}.json")
async def report_json(token: str, request: Request):
    """The report as JSON."""
    return await asyncio.to_thread(_report, request.app.state.store, token)


@router.get("/report/{token}.md", response_class=PlainTextResponse)
async def report_md(token: str, request: Request):
    """The report as Markdown."""
    return to_markdown(await asyncio.to_thread(_report, request.app.state.store, token))


def _recording(request: Request, token: str) -> RecordingInfo:
    interview = _interview_or_404(request.app.state.store, token)
    recordings = RecordingStore(request.app.state.store, request.app.state.settings.recordings_dir)
    found = recordings.for_interview(interview.id)
    if found is None:
        raise HTTPException(404, "This interview has no recording")
    return found


@router.get("/report/{token}/recording")
async def report_recording(token: str, request: Request):
    """The interview's audio (Ogg/Opus; candidate left, interviewer right), with Range support."""
    found = await asyncio.to_thread(_recording, request, token)
    return FileResponse(
        found.path,
        media_type=found.media_type,
        headers={"Cache-Control": "private, no-store"},  # the link is the credential
    )


def _player(request: Request, token: str, report: dict) -> dict | None:
    """The recording for the report page: its URL and where each turn starts in it (seconds)."""
    try:
        found = _recording(request, token)
    except HTTPException:
        return None
    return {
        "url": f"/report/{token}/recording",
        "duration_s": found.duration_s,
        "starts": [
            round(found.offset_s(datetime.fromisoformat(t["started_at"])), 2)
            for t in report["transcript"]
        ],
    }


@router.get("/report/{token}", response_class=HTMLResponse)
async def report_page(token: str, request: Request):
    """The report page (with the recording, the transcript following it, when there is one)."""
    report = await asyncio.to_thread(_report, request.app.state.store, token)
    player = await asyncio.to_thread(_player, request, token, report)
    return to_html(report, token, player)
