"""A tripwire for an upgrade: every private piece of pipecat (and the page's client SDK) we rely on.

pipecat has no public hook for these, so processors/local_services.py (shared models, the
Cartesia retry, the VAD run inline on a shared session), processors/patient_turn_stop.py and
processors/scored_turn_stop.py reach into its internals (the list below is all of it). When a
new pipecat renames or reshapes one, this fails first, naming it, instead of an interview
misbehaving later. Bump the pin in pyproject.toml only with this green.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_pipecat_is_the_pinned_version():
    from importlib.metadata import version

    pinned = next(
        line.split("==")[1].split('"')[0]
        for line in (ROOT / "pyproject.toml").read_text().splitlines()
        if line.strip().startswith('"pipecat-ai[')
    )
    assert version("pipecat-ai") == pinned


@pytest.mark.parametrize(
    "owner,attribute,why",
    [
        (
            "pipecat.services.whisper.stt:WhisperSTTService",
            "_load",
            "SharedWhisperSTTService replaces the model load",
        ),
        (
            "pipecat.services.moonshine.stt:MoonshineSTTService",
            "_load",
            "SharedMoonshineSTTService hands it the process's transcriber",
        ),
        (
            "pipecat.services.piper.tts:PiperTTSService",
            "run_tts",
            "SharedPiperTTSService keeps pipecat's synthesis",
        ),
        (
            "pipecat.services.websocket_service:WebsocketService",
            "_websocket_connect",
            "RetryingCartesiaTTSService wraps the socket it opens to retry a failed context",
        ),
        (
            "pipecat.audio.turn.smart_turn.local_smart_turn_v3:LocalSmartTurnAnalyzerV3",
            "_predict_endpoint",
            "SharedSmartTurnAnalyzer runs pipecat's inference on a shared session",
        ),
        (
            "pipecat.turns.user_stop:TurnAnalyzerUserTurnStopStrategy",
            "_reset",
            "PatientTurnStopStrategy",
        ),
        (
            "pipecat.turns.user_stop:TurnAnalyzerUserTurnStopStrategy",
            "_discard_pending_end_of_turn",
            "PatientTurnStopStrategy",
        ),
        (
            "pipecat.turns.user_stop:TurnAnalyzerUserTurnStopStrategy",
            "_handle_vad_user_started_speaking",
            "PatientTurnStopStrategy",
        ),
        (
            "pipecat.turns.user_stop:TurnAnalyzerUserTurnStopStrategy",
            "_handle_vad_user_stopped_speaking",
            "PatientTurnStopStrategy",
        ),
        (
            "pipecat.turns.user_stop:TurnAnalyzerUserTurnStopStrategy",
            "_handle_transcription",
            "PatientTurnStopStrategy",
        ),
        (
            "pipecat.turns.user_stop:TurnAnalyzerUserTurnStopStrategy",
            "_handle_prediction_result",
            "ScoredTurnStopStrategy reads smart-turn's probability",
        ),
        (
            "pipecat.audio.vad.vad_analyzer:VADAnalyzer",
            "_run_analyzer",
            "InlineSileroVADAnalyzer runs pipecat's analysis without its thread hop",
        ),
        (
            "pipecat.audio.vad.vad_analyzer:VADAnalyzer",
            "_get_smoothed_volume",
            "InlineSileroVADAnalyzer measures the volume before the model, to skip it when quiet",
        ),
        (
            "pipecat.audio.vad.silero:SileroVADAnalyzer",
            "_maybe_reset_model",
            "InlineSileroVADAnalyzer counts pipecat's resets for the windows the model skipped",
        ),
    ],
)
def test_the_private_methods_we_override_still_exist(owner, attribute, why):
    import importlib

    module, cls = owner.split(":")
    klass = getattr(importlib.import_module(module), cls)
    assert callable(getattr(klass, attribute, None)), f"{owner}.{attribute} is gone ({why})"


def test_the_private_fields_we_read_are_still_set_by_pipecat():
    """Fields of the stop strategy that PatientTurnStopStrategy reads, and the Piper/smart-turn ones it sets."""
    from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
    from pipecat.services.piper.tts import PiperTTSService
    from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy

    strategy = inspect.getsource(TurnAnalyzerUserTurnStopStrategy)
    for field in (
        "_text",
        "_turn_complete",
        "_vad_user_speaking",
        "_vad_stopped",
        "_timeout_expired",
    ):
        assert f"self.{field} =" in strategy, f"TurnAnalyzerUserTurnStopStrategy.{field} is gone"
    assert "self._voice" in inspect.getsource(PiperTTSService), (
        "PiperTTSService no longer keeps its voice in _voice"
    )
    smart_turn = inspect.getsource(LocalSmartTurnAnalyzerV3)
    assert "self._session" in smart_turn and "self._log_data" in smart_turn
    from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn

    # SharedSmartTurnAnalyzer calls BaseSmartTurn.__init__(params=...) to skip the model load.
    assert "params" in inspect.signature(BaseSmartTurn.__init__).parameters
    # _TellsStretches writes a transcript Whisper heard as pipecat's segmented STT does, for the
    # user of the latest audio.
    from pipecat.services.stt_service import SegmentedSTTService

    assert "self._user_id =" in inspect.getsource(SegmentedSTTService.process_audio_frame)
    # InlineSileroVADAnalyzer sets the count of voiced frames that starts speech (while the
    # candidate has the floor), computed as pipecat's set_params does, from _vad_frames.
    from pipecat.audio.vad.vad_analyzer import VADAnalyzer

    set_params = inspect.getsource(VADAnalyzer.set_params)
    assert "self._vad_frames = self.num_frames_required()" in set_params
    assert (
        "self._vad_start_frames = round(self._params.start_secs / vad_frames_per_sec)" in set_params
    )
    assert "self._vad_starting_count >= self._vad_start_frames" in inspect.getsource(
        VADAnalyzer._run_analyzer
    )
    # InlineSileroVADAnalyzer measures each window's smoothed volume in voice_confidence, before
    # pipecat does, and hands pipecat that measure for the same window: pipecat must ask for the
    # confidence first, then the volume of the same bytes, and need both for speech.
    run = inspect.getsource(VADAnalyzer._run_analyzer)
    confidence = run.index("confidence = self.voice_confidence(audio_frames)")
    volume = run.index("volume = self._get_smoothed_volume(audio_frames)")
    assert confidence < volume
    assert (
        "speaking = confidence >= self._params.confidence and volume >= self._params.min_volume"
        in run
    )
    # It sends the waiting windows to a thread once the smoothed volume could reach min_volume
    # with the next window: pipecat smooths it by _smoothing_factor, from _prev_volume.
    from pipecat.audio.utils import exp_smoothing

    assert "self._prev_volume = volume" in run
    assert (
        "exp_smoothing(self._volume_tracker.volume, self._prev_volume, self._smoothing_factor)"
        in (inspect.getsource(VADAnalyzer._get_smoothed_volume))
    )
    assert exp_smoothing(1.0, 0.5, 0.2) == pytest.approx(0.6)
    assert "self._smoothing_factor = 0.2" in inspect.getsource(VADAnalyzer.__init__)
    # It counts the skipped windows with pipecat's reset rule, which reads the VAD's state and
    # resets through the model's reset_states, and replays them with that state as it was.
    from pipecat.audio.vad.silero import SileroVADAnalyzer

    reset = inspect.getsource(SileroVADAnalyzer._maybe_reset_model)
    for piece in (
        "self._windows_since_reset += 1",
        "self._low_confidence_windows += 1",
        "self._vad_state == VADState.QUIET",
        "self._model.reset_states()",
        "self._windows_since_reset = 0",
    ):
        assert piece in reset, piece
    assert "self._maybe_reset_model(" in inspect.getsource(SileroVADAnalyzer.voice_confidence)


def test_silero_still_keeps_its_model_where_the_shared_session_replaces_it():
    """InlineSileroVADAnalyzer runs pipecat's __init__ less the model load; SharedSileroModel
    runs SileroOnnxModel's less the session. A field pipecat adds to either is one they miss."""
    import ast
    import textwrap

    from pipecat.audio.vad.silero import SileroOnnxModel, SileroVADAnalyzer
    from pipecat.audio.vad.vad_analyzer import VADAnalyzer

    def fields_set(init) -> set[str]:
        tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
        return {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
        }

    assert fields_set(SileroVADAnalyzer.__init__) == {
        "_model",
        "_windows_since_reset",
        "_low_confidence_windows",
    }
    assert fields_set(SileroOnnxModel.__init__) == {"session", "sample_rates"}
    assert "self.reset_states()" in inspect.getsource(SileroOnnxModel.__init__)
    assert list(inspect.signature(VADAnalyzer.__init__).parameters) == [
        "self",
        "sample_rate",
        "params",
    ]
    # load_silero_session opens the model pipecat packages, with pipecat's session options.
    source = inspect.getsource(SileroVADAnalyzer.__init__) + inspect.getsource(
        SileroOnnxModel.__init__
    )
    for piece in ('"silero_vad.onnx"', '"pipecat.audio.vad.data"', "inter_op_num_threads = 1"):
        assert piece in source, piece


def test_moonshine_still_transcribes_on_the_transcriber_its_load_returns():
    """SharedMoonshineSTTService's ``_load`` returns the shared transcriber (a MoonshineLoad,
    which runs one decode at a time): pipecat must keep what ``_load`` returns and decode on it
    with ``transcribe_without_streaming``."""
    from pipecat.services.moonshine.stt import MoonshineSTTService

    assert "self._transcriber = self._load()" in inspect.getsource(MoonshineSTTService.__init__)
    assert "self._transcriber.transcribe_without_streaming" in inspect.getsource(
        MoonshineSTTService.run_stt
    )


def test_cartesia_still_talks_through_the_socket_it_opens():
    """RetryingCartesiaTTSService wraps the socket from ``_websocket_connect``: pipecat's Cartesia
    must still open it there, keep it in ``_websocket`` and read and write every message on it."""
    from pipecat.services.cartesia.tts import CartesiaTTSService

    assert "self._websocket = await self._websocket_connect(" in inspect.getsource(
        CartesiaTTSService._connect_websocket
    )
    assert "self._get_websocket()" in inspect.getsource(CartesiaTTSService._process_messages)
    assert "return self._websocket" in inspect.getsource(CartesiaTTSService._get_websocket)
    # A context's failure arrives as an "error" message naming the context.
    assert 'msg["type"] == "error"' in inspect.getsource(CartesiaTTSService._process_messages)


def test_the_page_reaches_only_the_client_internals_listed_here():
    """web/client: the websocket transport's player and the client's callbacks (no public hook to
    flush queued bot audio at once on an interruption). Any other private name is a new reach."""
    import re

    known = {"_wavStreamPlayer", "_callbacks", "interruptedTrackIds"}
    src = "\n".join(p.read_text() for p in (ROOT / "web" / "client" / "src").glob("*.ts"))
    # Private names reached on another object (our own classes' `this._x` fields are ours).
    reached = set(re.findall(r"(?<!this)(?<!this\?)\.(_[A-Za-z]\w*)", src))
    reached |= {"interruptedTrackIds"} & set(re.findall(r"\w+", src))
    assert reached <= known, f"new reach into the client SDK's internals: {sorted(reached - known)}"
    sdk = ROOT / "web" / "client" / "node_modules" / "@pipecat-ai" / "websocket-transport" / "dist"
    if sdk.exists():  # built by `make client` (always before `make test`)
        bundle = "\n".join(p.read_text(errors="ignore") for p in sdk.glob("*.js"))
        for name in ("_wavStreamPlayer", "interruptedTrackIds"):
            assert name in bundle, f"@pipecat-ai/websocket-transport no longer has {name}"
