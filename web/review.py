"""The reviewers' page: interviews newest first, filtered, opened, deleted.

Off (404) unless ``REVIEW_TOKEN`` is set; then every route asks for HTTP Basic credentials
with that token as the password (any user name) and answers 401 without them. A browser
sends saved Basic credentials with any request to this origin, even one a foreign page
starts, so the delete form also carries a token derived from the review token and the
interview, and a POST from another origin is refused.

An interview still running cannot be deleted (its session would go on writing turns and
audio for a row that is gone): its Delete button is disabled and the route answers 409.
Running means active in the database and either live in this process or heard from lately
(:data:`STALLED_AFTER`); an active interview silent for longer had its server killed (a
live one stores a turn every few minutes: silence is nudged and then moved on from, a
monologue is capped, and pipecat ends a session idle for ten minutes), and can be deleted.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from loguru import logger

from bots import MODES
from interviewer.recordings import RecordingStore
from interviewer.report import render_template
from interviewer.store import Store

router = APIRouter()
_basic = HTTPBasic(realm="Interviewer reviewers", auto_error=False)
STATUSES = ("active", "ended", "dropped", "stopped")
STALLED_AFTER = timedelta(minutes=15)
RUNNING = "This interview is still running; it can be deleted once it has ended."


def short(competency: str) -> str:
    """A competency's name as the list shows it: whole, or its first word if long."""
    return competency if len(competency) <= 15 else competency.split()[0]


def running(request: Request, status: str, token: str, last_activity: datetime | None) -> bool:
    """Whether an interview is still going on (see the module's docstring)."""
    if status != "active":
        return False
    if token in getattr(request.app.state, "live", {}):
        return True
    return last_activity is not None and datetime.now(UTC) - last_activity < STALLED_AFTER


def reviewer(
    request: Request, credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)]
) -> str:
    """The review token, once the request has proved it knows it (404 when reviews are off)."""
    token = request.app.state.settings.review_token
    if not token:
        raise HTTPException(404, "Not Found")
    given = credentials.password.encode() if credentials else b""
    if not secrets.compare_digest(given, token.encode()):
        raise HTTPException(
            401,
            "Reviewers only",
            headers={"WWW-Authenticate": 'Basic realm="Interviewer reviewers", charset="UTF-8"'},
        )
    return token


def form_token(review_token: str, interview_id: str) -> str:
    """What the delete form of one interview must carry (the page holds it; a foreign page cannot)."""
    key = hashlib.sha256(f"review-form:{review_token}".encode()).digest()
    return hmac.new(key, interview_id.encode(), hashlib.sha256).hexdigest()


def _day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, "Dates are YYYY-MM-DD") from None


@router.get("/review", response_class=HTMLResponse)
async def review_page(
    request: Request,
    review_token: Annotated[str, Depends(reviewer)],
    mode: str | None = None,
    status: str | None = None,
    since: str | None = None,
    until: str | None = None,
):
    """Interviews newest first, with filters by mode, status and start date."""
    mode = mode if mode in MODES else None
    status = status if status in STATUSES else None
    first, last = _day(since), _day(until)
    store: Store = request.app.state.store
    rows = await asyncio.to_thread(
        store.search,
        mode,
        status,
        datetime.combine(first, datetime.min.time(), UTC) if first else None,
        datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC) if last else None,
    )
    for row in rows:
        row["form_token"] = form_token(review_token, row["id"])
        row["running"] = running(request, row["status"], row["token"], row["last_activity"])
    page = render_template(
        "review.html",
        rows=rows,
        modes=sorted(MODES),
        statuses=STATUSES,
        chosen={
            "mode": mode or "",
            "status": status or "",
            "since": since or "",
            "until": until or "",
        },
        deleted=request.query_params.get("deleted") == "1",
        short=short,
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc.lower() == (request.headers.get("host") or "").lower()


@router.post("/review/{interview_id}/delete")
async def delete_interview(
    interview_id: str,
    request: Request,
    review_token: Annotated[str, Depends(reviewer)],
    form_token_: Annotated[str, Form(alias="form_token")] = "",
):
    """Delete one interview: its transcript, report and recording."""
    expected = form_token(review_token, interview_id)
    if not _same_origin(request) or not secrets.compare_digest(form_token_, expected):
        raise HTTPException(403, "This form did not come from the reviewers' page")
    store: Store = request.app.state.store
    found = await asyncio.to_thread(store.get, interview_id)
    if found is None:
        raise HTTPException(404, "No such interview")
    last = max((t.ended_at for t in found.turns), default=found.started_at)
    if running(request, found.status, found.token, last):
        raise HTTPException(409, RUNNING)
    recordings = RecordingStore(store, request.app.state.settings.recordings_dir)
    await asyncio.to_thread(recordings.delete_for_interview, interview_id)  # the file, then the row
    if not await asyncio.to_thread(store.delete, interview_id):
        raise HTTPException(404, "No such interview")
    logger.info(f"Reviewer deleted interview {interview_id}")
    return RedirectResponse("/review?deleted=1", status_code=303)
