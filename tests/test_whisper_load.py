"""The shared Whisper model gives way: live (optional) decodes start only while no decode runs."""

from __future__ import annotations

import threading

from interviewer.whisper_load import WhisperLoad


class GatedModel:
    """A stand-in for faster-whisper's model whose decode waits until the test lets it finish.

    Like faster-whisper, ``transcribe`` returns a lazy generator: its segments are decoded
    while the caller iterates.
    """

    def __init__(self):
        self.started = threading.Event()
        self.finish = threading.Event()

    def transcribe(self, audio, **kwargs):
        def segments():
            self.started.set()
            self.finish.wait(5)
            yield "words"

        return segments(), {"language": "en"}


def test_an_optional_decode_waits_for_a_running_decode():
    model = GatedModel()
    load = WhisperLoad(model)
    assert load.claim_optional()  # idle: the live words may decode
    load.release_optional()

    result: list = []
    final = threading.Thread(target=lambda: result.append(load.transcribe(b"", language="en")))
    final.start()
    assert model.started.wait(5)
    assert load.running == 1
    assert not load.claim_optional(), "a live decode must not queue behind a final one"
    model.finish.set()
    final.join(5)
    # The segments were decoded in the caller's thread, not left lazy.
    assert result == [(["words"], {"language": "en"})]
    assert load.running == 0 and load.idle
    assert load.claim_optional()
    assert not load.idle


def test_one_optional_decode_at_a_time_across_sessions():
    load = WhisperLoad(GatedModel())
    assert load.claim_optional()
    assert not load.claim_optional()  # another session's live words wait their turn
    load.release_optional()
    assert load.claim_optional()


def test_a_failed_decode_is_not_counted_as_running():
    class Broken:
        def transcribe(self, audio, **kwargs):
            raise RuntimeError("bad audio")

    load = WhisperLoad(Broken())
    try:
        load.transcribe(b"")
    except RuntimeError:
        pass
    assert load.running == 0 and load.claim_optional()
