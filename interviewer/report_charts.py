"""The report's pictures as plain geometry, drawn as SVG by ``templates/report.html``.

Pure functions of the report dict (so reports stored before the charts existed get them too):
a timeline of who spoke when, by question, with time boxes and overlaps; reply latency per
turn; competency scores. Coordinates are in the SVG's own units; the template only draws.

Where speech overlapped, from the stored turns (:func:`overlaps`). The interviewer only
replies once pipecat has called the candidate's turn over, so its replies never begin while
the candidate is audibly talking; an overlap is a reply the candidate's voice cut short
(``interrupted``), and which side cut in is told by how soon they spoke:

- *the interviewer cut in*: the reply began in a pause in the middle of the answer. The
  candidate had not finished; they went on within ``CUT_IN_WITHIN_S`` of the reply's first
  audio, too soon to be answering anything it said, and the candidate's next turn carries on
  the answer. (Also any reply stored as starting before the candidate's speech had ended.)
- *the candidate talked over the interviewer*: they let the reply be heard for longer, or it
  was not a reply to an answer (the greeting, a nudge), and then spoke over it.

Turn times are when speech was heard (see :mod:`processors.transcript_recorder`); reports
stored before that start a reply at the start of its response, a little before its audio.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

WIDTH = 760  # SVG user units; the page scales it to its column
LANE_LEFT = 92  # room for the lane labels
LANE_H = 22
QUESTION_COLOURS = ("#eef1ff", "#f3f9ef")
# A candidate who speaks again within this long of a reply's first audio was still mid-answer:
# about the least time in which a listener hears a few words and decides to talk over them.
CUT_IN_WITHIN_S = 1.0


@dataclass
class Bar:
    """A rectangle with a label for its tooltip."""

    x: float
    y: float
    w: float
    h: float
    label: str
    cls: str = ""


@dataclass
class Mark:
    """A vertical tick at ``x`` (an overlap), with what happened there."""

    x: float
    label: str
    cls: str


@dataclass
class Timeline:
    """Who spoke when: two lanes over the question bands, ticks where speech overlapped."""

    width: float
    height: float
    seconds: float
    bands: list[Bar] = field(default_factory=list)  # one per question, its time box inside
    boxes: list[Bar] = field(default_factory=list)  # the part of a question past its time box
    turns: list[Bar] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)  # x, "1:30"


@dataclass
class Latencies:
    """Reply latency per interviewer turn, with the median as a line."""

    width: float
    height: float
    bars: list[Bar]
    median_y: float | None
    median_ms: int | None
    top_ms: int
    gridlines: list[tuple[float, str]]


@dataclass
class Scores:
    """Competency scores out of 5."""

    width: float
    height: float
    bars: list[Bar]


def _t(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def overlaps(turns: list[dict]) -> list[tuple[int, str, str]]:
    """The interviewer turns that overlapped the candidate, by the rules above.

    Each as (its index in ``turns``, ``"cut-in"`` or ``"talked-over"``, what happened).
    """
    found = []
    for i, t in enumerate(turns):
        if t["role"] != "interviewer":
            continue
        before = turns[i - 1] if i > 0 and turns[i - 1]["role"] == "candidate" else None
        after = turns[i + 1] if i + 1 < len(turns) and turns[i + 1]["role"] == "candidate" else None
        start = _t(t["started_at"])
        if before is not None and start < _t(before["ended_at"]):
            found.append((i, "cut-in", "the interviewer cut in while the candidate was speaking"))
        elif t.get("interrupted"):
            went_on = (_t(after["started_at"]) - start).total_seconds() if after else None
            if before is not None and went_on is not None and went_on <= CUT_IN_WITHIN_S:
                label = (
                    f"the interviewer cut in on a pause: the candidate went on "
                    f"{max(0.0, went_on):.1f} s into the reply"
                )
                found.append((i, "cut-in", label))
            else:
                found.append((i, "talked-over", "the candidate talked over the interviewer"))
    return found


def timeline(report: dict) -> Timeline | None:
    """The interview over time: interviewer lane above the candidate's, by question."""
    turns = report.get("transcript") or []
    if not turns:
        return None
    t0 = min(_t(t["started_at"]) for t in turns)
    end = max(_t(t["ended_at"]) for t in turns)
    seconds = max(1.0, (end - t0).total_seconds())
    plot = WIDTH - LANE_LEFT - 8

    def x(at: datetime) -> float:
        return LANE_LEFT + plot * max(0.0, (at - t0).total_seconds()) / seconds

    top, lane = 18, {"interviewer": 18 + 6, "candidate": 18 + 6 + LANE_H + 8}
    height = top + 2 * LANE_H + 8 + 12 + 22
    chart = Timeline(WIDTH, height, seconds)

    by_question: dict[int, list[dict]] = {}
    for t in turns:
        if t.get("question_index") is not None:
            by_question.setdefault(t["question_index"], []).append(t)
    boxes = {q["n"] - 1: q.get("time_box_s") for q in report.get("facts", {}).get("questions", [])}
    for i, (q, qturns) in enumerate(sorted(by_question.items())):
        start = min(_t(t["started_at"]) for t in qturns)
        stop = max(_t(t["ended_at"]) for t in qturns)
        band_h = height - top - 22
        label = f"Question {q + 1}"
        chart.bands.append(
            Bar(x(start), top, max(1.0, x(stop) - x(start)), band_h, label, f"q{i % 2}")
        )
        box = boxes.get(q)
        if box and (stop - start).total_seconds() > box:
            over_from = LANE_LEFT + plot * ((start - t0).total_seconds() + box) / seconds
            over = (
                f"{label} ran {(stop - start).total_seconds() - box:.0f} s past its {box:.0f} s box"
            )
            chart.boxes.append(Bar(over_from, top, x(stop) - over_from, band_h, over, "over"))

    for t in turns:
        role = t["role"] if t["role"] in lane else "candidate"
        start, stop = _t(t["started_at"]), _t(t["ended_at"])
        words = t["text"].strip()
        label = f"{role} {_clock((start - t0).total_seconds())}: {words[:120]}"
        cls = role + (" interrupted" if t.get("interrupted") else "")
        chart.turns.append(
            Bar(x(start), lane[role], max(1.5, x(stop) - x(start)), LANE_H, label, cls)
        )
    for i, kind, label in overlaps(turns):
        at = _t(turns[i]["started_at"] if kind == "cut-in" else turns[i]["ended_at"])
        chart.marks.append(Mark(x(at), label, kind))

    step = next(s for s in (15, 30, 60, 120, 300, 600, 1200) if seconds / s <= 8)
    chart.ticks = [
        (LANE_LEFT + plot * s / seconds, _clock(s)) for s in range(0, int(seconds) + 1, step)
    ]
    return chart


def latencies(report: dict) -> Latencies | None:
    """Each reply's latency (end of the candidate's speech to the interviewer's first audio)."""
    replies = [
        (i, t["latency_ms"])
        for i, t in enumerate(report.get("transcript") or [])
        if t["role"] == "interviewer" and t.get("latency_ms") is not None
    ]
    if not replies:
        return None
    top = max(1000, max(ms for _, ms in replies))
    top = int(-(-top // 500) * 500)  # a round 500 ms above the slowest
    height, base, left = 150, 130, 48
    plot_h, plot_w = base - 12, WIDTH - left - 8
    step = plot_w / len(replies)
    bars = []
    for n, (_, ms) in enumerate(replies, 1):
        h = plot_h * ms / top
        cls = "slow" if ms > 1500 else ""
        bars.append(
            Bar(
                left + (n - 1) * step + step * 0.15,
                base - h,
                step * 0.7,
                h,
                f"reply {n}: {ms} ms",
                cls,
            )
        )
    ordered = sorted(ms for _, ms in replies)
    median = ordered[len(ordered) // 2]
    grid = [
        (base - plot_h * v / top, f"{v / 1000:g} s")
        for v in range(0, top + 1, 500 if top <= 3000 else 1000)
    ]
    return Latencies(WIDTH, height, bars, base - plot_h * median / top, median, top, grid)


def scores(report: dict) -> Scores | None:
    """Competency scores (1-5) as bars; None when nothing was scored."""
    scored = [c for c in report.get("competencies") or [] if "score" in c]
    if not scored:
        return None
    left, row, plot_w = 170, 26, WIDTH - 170 - 40
    bars = [
        Bar(
            left,
            6 + i * row,
            plot_w * c["score"] / 5,
            row - 8,
            f"{c['name']}: {c['score']}/5",
            f"s{c['score']}",
        )
        for i, c in enumerate(scored)
    ]
    return Scores(WIDTH, 12 + len(scored) * row, bars)


def charts(report: dict) -> dict:
    """Every chart the report page draws (a missing one is None)."""
    return {"timeline": timeline(report), "latencies": latencies(report), "scores": scores(report)}
