"""The VAD run inline, on the process's one Silero session, hears real speech exactly as pipecat's
threaded Silero VAD (with a session of its own) does."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams, VADState

from interviewer.models import load_silero_session
from processors.local_services import InlineSileroVADAnalyzer

SPEECH = Path(__file__).resolve().parents[2] / "shared" / "audio" / "beckett.wav"
CHUNK = 640  # 20 ms of 16 kHz 16-bit mono, as the page sends it


@pytest.fixture(scope="module")
def session():
    return load_silero_session()


async def states(vad, pcm: bytes) -> list[VADState]:
    vad.set_sample_rate(16_000)
    return [await vad.analyze_audio(pcm[i : i + CHUNK]) for i in range(0, len(pcm), CHUNK)]


async def test_inline_vad_matches_pipecats_threaded_vad_on_real_speech(session):
    from interviewer.audio import load_pcm16

    pcm = load_pcm16(SPEECH)
    params = VADParams(stop_secs=0.2, start_secs=0.2)
    inline = await states(InlineSileroVADAnalyzer(session=session, params=params), pcm)
    threaded = await states(SileroVADAnalyzer(params=params), pcm)
    assert inline == threaded
    # Real speech with pauses: it starts and stops more than once.
    starts = sum(1 for a, b in zip(inline, inline[1:], strict=False) if b == VADState.SPEAKING != a)
    assert starts >= 2, starts


ENDGAME = SPEECH.with_name("endgame_nagg_nell.wav")


def _starts(states_: list[VADState]) -> int:
    return sum(1 for a, b in zip(states_, states_[1:], strict=False) if b == VADState.SPEAKING != a)


async def test_a_bare_no_starts_speech_while_the_candidate_has_the_floor(session):
    # The last word of endgame_nagg_nell.wav, "No.", holds about 0.2 s of voice: pipecat's VAD
    # with a 0.2 s start never hears it, and the word was lost. With the floor, 0.1 s starts it.
    from interviewer.audio import load_pcm16, silence

    pcm = load_pcm16(ENDGAME)
    no = silence(0.5) + pcm[-int(0.6 * 16_000) * 2 :] + silence(0.6)
    params = VADParams(stop_secs=0.2, start_secs=0.2)

    floor = InlineSileroVADAnalyzer(session=session, params=params, listening_start_secs=0.1)
    floor.listening = True  # before set_sample_rate too: applied once the rate is known
    assert _starts(await states(floor, no)) == 1

    speaking = InlineSileroVADAnalyzer(session=session, params=params, listening_start_secs=0.1)
    assert _starts(await states(speaking, no)) == 0  # the interviewer has the floor: 0.2 s
    assert _starts(await states(SileroVADAnalyzer(params=params), no)) == 0  # as pipecat's

    # Handed the floor mid-stream (no reset of pipecat's counts), the next "No." is heard.
    speaking.listening = True
    assert _starts(await states(speaking, no)) == 1
    # Each start is reported with the start that held (pipecat reads it from the params).
    assert speaking.params.start_secs == 0.1
    speaking.listening = False
    assert speaking.params.start_secs == 0.2


async def test_candidates_on_one_session_each_hear_their_own_speech(session):
    # Two interviews at once, their 20 ms frames interleaved on the one ONNX session: each VAD
    # keeps its own recurrent state, so each hears its speech as a VAD with a session of its
    # own does. (Were the state shared, the frames of one would colour the other's verdicts.)
    from interviewer.audio import load_pcm16

    one = load_pcm16(SPEECH)
    two = load_pcm16(ENDGAME)[: len(one)]
    params = VADParams(stop_secs=0.2, start_secs=0.2)
    a = InlineSileroVADAnalyzer(session=session, params=params)
    b = InlineSileroVADAnalyzer(session=session, params=params)
    assert a._model.session is b._model.session is session  # no session built per interview
    a.set_sample_rate(16_000)
    b.set_sample_rate(16_000)
    heard_a, heard_b = [], []
    for i in range(0, len(one), CHUNK):
        heard_a.append(await a.analyze_audio(one[i : i + CHUNK]))
        heard_b.append(await b.analyze_audio(two[i : i + CHUNK]))
    assert heard_a == await states(SileroVADAnalyzer(params=params), one)
    assert heard_b == await states(SileroVADAnalyzer(params=params), two)
    assert heard_a != heard_b and _starts(heard_a) >= 2 and _starts(heard_b) >= 2


async def test_the_vad_says_it_hears_voice_from_its_first_voiced_chunk_to_its_stop(session):
    # A turn's release asks this before ending the turn: the start frame pipecat sends for the
    # same audio waits in a queue behind it, and comes only once the start is confirmed.
    from interviewer.audio import load_pcm16, silence

    pcm = silence(0.5) + load_pcm16(SPEECH)
    vad = InlineSileroVADAnalyzer(session=session, params=VADParams(stop_secs=0.2, start_secs=0.2))
    vad.set_sample_rate(16_000)
    heard: list[tuple[VADState, bool]] = []
    for i in range(0, len(pcm), CHUNK):
        heard.append((await vad.analyze_audio(pcm[i : i + CHUNK]), vad.hears_voice))
    assert not heard[0][1]  # silence
    assert all(hears == (state != VADState.QUIET) for state, hears in heard)
    first_voice = next(i for i, (_, hears) in enumerate(heard) if hears)
    first_start = next(i for i, (state, _) in enumerate(heard) if state == VADState.SPEAKING)
    assert first_voice < first_start  # heard before pipecat reports it
    assert any(not hears for _, hears in heard[first_start:])  # and quiet again at its pauses
    again = InlineSileroVADAnalyzer(
        session=session, params=VADParams(stop_secs=0.2, start_secs=0.2)
    )
    again.set_sample_rate(16_000)
    for i in range(0, (first_start + 1) * CHUNK, CHUNK):
        await again.analyze_audio(pcm[i : i + CHUNK])
    assert again.hears_voice
    again.set_params(VADParams(stop_secs=0.2, start_secs=0.2))  # pipecat's counts start again
    assert not again.hears_voice


class CountingSession:
    """The Silero ONNX session, counting each run of the model and the thread it ran in."""

    def __init__(self, session):
        self.session = session
        self.threads: list[int] = []

    def run(self, *args, **kwargs):
        import threading

        self.threads.append(threading.get_ident())
        return self.session.run(*args, **kwargs)


def with_floor(pcm: bytes, dbfs: float | None) -> bytes:
    """``pcm`` with a steady noise floor at ``dbfs`` RMS (a quiet room's microphone)."""
    from interviewer.audio import with_noise_floor

    return pcm if dbfs is None else with_noise_floor(pcm, dbfs, seed=7)


@pytest.mark.parametrize(
    "name,floor,start",
    [
        ("beckett", None, 0.2),
        ("beckett", -65.0, 0.1),
        ("endgame_nagg_nell", None, 0.1),
        ("endgame_nagg_nell", -70.0, 0.2),
    ],
)
async def test_the_model_skips_quiet_windows_yet_the_vad_hears_as_pipecats(
    session, name, floor, start
):
    # Real speech with 3 s of quiet before, between and after its halves (a candidate waiting
    # while the interviewer speaks), on digital silence or a quiet room's noise floor. Windows
    # too quiet for speech wait for the model instead of running it; whatever the model hears
    # late, each 20 ms the VAD says what pipecat's own Silero VAD says, resets and all.
    from interviewer.audio import load_pcm16, silence

    pcm = load_pcm16(SPEECH.with_name(f"{name}.wav"))
    half = len(pcm) // 2
    audio = with_floor(silence(3) + pcm[:half] + silence(3) + pcm[half:] + silence(3), floor)
    params = VADParams(stop_secs=0.2, start_secs=start)
    counting = CountingSession(session)
    heard = await states(InlineSileroVADAnalyzer(session=counting, params=params), audio)
    assert heard == await states(SileroVADAnalyzer(params=params), audio)
    assert _starts(heard) >= 2
    windows = len(audio) // 1024
    assert len(counting.threads) < 0.9 * windows, (len(counting.threads), windows)


async def test_a_silent_candidate_costs_no_model_run_and_the_voice_after_is_heard(session):
    from interviewer.audio import load_pcm16, silence

    counting = CountingSession(session)
    params = VADParams(stop_secs=0.2, start_secs=0.2)
    vad = InlineSileroVADAnalyzer(session=counting, params=params)
    quiet = with_floor(silence(10), -70.0)
    assert set(await states(vad, quiet)) == {VADState.QUIET}
    assert counting.threads == []  # 10 s, 312 windows: none needed the model
    speech = load_pcm16(SPEECH)
    after = await states(vad, speech)
    assert after == (await states(SileroVADAnalyzer(params=params), quiet + speech))[-len(after) :]


async def test_the_model_hears_a_long_wait_off_the_event_loop(session):
    # At the voice's onset the model catches up on the quiet windows since its last reset (up
    # to 80, 25 ms): in a worker thread, so no other interview's audio waits on it.
    import threading

    from interviewer.audio import load_pcm16, silence

    counting = CountingSession(session)
    vad = InlineSileroVADAnalyzer(session=counting, params=VADParams(stop_secs=0.2, start_secs=0.2))
    vad.set_sample_rate(16_000)
    loop_thread = threading.get_ident()
    pcm = silence(3) + load_pcm16(SPEECH)
    most_on_loop = 0
    for i in range(0, len(pcm), CHUNK):
        before = len(counting.threads)
        await vad.analyze_audio(pcm[i : i + CHUNK])
        on_loop = sum(1 for t in counting.threads[before:] if t == loop_thread)
        most_on_loop = max(most_on_loop, on_loop)
    assert most_on_loop <= InlineSileroVADAnalyzer.HEAR_AHEAD_WINDOWS
    off_loop = [t for t in counting.threads if t != loop_thread]
    assert len(off_loop) >= 30, len(off_loop)  # the wait since the model's last reset
