"""The user-turn stage (pipecat's user aggregator with the real VAD and smart-turn, FloorWatch):
the candidate's audio goes no further unless the session records it. No later stage reads it,
and each of its 50 chunks a second would pass through all of them, in silence too
(benchmarks/session_cpu.py measures what that cost)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from pipecat.frames.frames import InputAudioRawFrame, UserStartedSpeakingFrame
from pipecat.tests.utils import run_test

from bots import get_mode
from bots.pipeline import InterviewStages, SessionRecord
from interviewer.audio import load_pcm16, silence
from interviewer.config import load_settings
from interviewer.models import load_silero_session, load_smart_turn_session
from interviewer.plan import CandidateContext
from interviewer.store import Store

SPEECH = Path(__file__).resolve().parents[2] / "shared" / "audio" / "beckett.wav"
CHUNK = 640  # 20 ms at 16 kHz, as the page sends it


@pytest.fixture(scope="module")
def models():
    """Only the models the user turn needs (the turn judged by rules: no text model)."""
    return SimpleNamespace(
        vad_session=load_silero_session(), smart_turn_session=load_smart_turn_session(), eot=None
    )


def _chunks() -> list[InputAudioRawFrame]:
    pcm = silence(0.5) + load_pcm16(SPEECH)[: 16000 * 2 * 3] + silence(1.0)
    return [
        InputAudioRawFrame(audio=pcm[i : i + CHUNK], sample_rate=16000, num_channels=1)
        for i in range(0, len(pcm), CHUNK)
    ]


async def _past_the_user_turn(models, tmp_path, *, record: bool) -> list:
    settings = load_settings(
        DATABASE_URL=f"sqlite:///{tmp_path}/i.db", RECORDINGS_DIR=str(tmp_path / "rec")
    )
    store = Store(settings.database_url)
    iid, token = store.create_interview("technical", {}, "scripted")
    stages = InterviewStages(
        get_mode("technical"),
        None,
        models,
        settings,
        CandidateContext(record=record),
        SessionRecord(store, iid, f"/report/{token}"),
    )
    assert stages.records_audio is record
    down, _ = await run_test(stages.user_turn(), frames_to_send=_chunks())
    return down


async def test_without_a_recording_the_candidates_audio_stops_at_the_user_turn(models, tmp_path):
    down = await _past_the_user_turn(models, tmp_path, record=False)
    names = [type(f).__name__ for f in down]
    print(f"past the user turn: {sorted(set(names))}")
    assert not any(isinstance(f, InputAudioRawFrame) for f in down)
    assert any(isinstance(f, UserStartedSpeakingFrame) for f in down)  # the stage still heard it


async def test_a_recorded_session_passes_every_chunk_on_to_the_recorder(models, tmp_path):
    down = await _past_the_user_turn(models, tmp_path, record=True)
    sent = _chunks()
    passed = [f for f in down if isinstance(f, InputAudioRawFrame)]
    assert [f.audio for f in passed] == [f.audio for f in sent]
    assert any(isinstance(f, UserStartedSpeakingFrame) for f in down)
