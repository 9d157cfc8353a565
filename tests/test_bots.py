"""Each bot file writes its pipeline out; the registry finds it; a data-only mode gets the stages."""

import pytest
from pipecat.processors.filters.identity_filter import IdentityFilter

import bots
from interviewer.plan import InterviewMode, Question

ORDER = [
    "input", "client_watch", "interim_words", "stt", "answer_prefill", "user_turn", "conductor", "brain", "fallback",
    "avatar", "tts", "output", "recorder", "assistant_turn", "closer",
]  # fmt: skip


class RecordingStages:
    """Stands in for bots.pipeline.InterviewStages: each stage is a named pass-through."""

    def __init__(self):
        self.called: list[str] = []
        outer = self

        class Transport:
            def input(self):
                return outer._stage("input")

            def output(self):
                return outer._stage("output")

        self.transport = Transport()

    def _stage(self, name):
        self.called.append(name)
        return IdentityFilter(name=name)

    def __getattr__(self, name):
        if name in ("interim_words", "answer_prefill", "recorder"):  # may be absent: lists
            return lambda: [self._stage(name)]
        return lambda: self._stage(name)


@pytest.mark.parametrize("mode_id", sorted(bots.MODES))
def test_every_bot_lists_its_stages_in_pipeline_order(mode_id):
    stages = RecordingStages()
    pipeline = bots.pipeline_for(mode_id)(stages)
    assert stages.called == ORDER
    assert [p.name for p in pipeline.processors[1:-1]] == ORDER  # between pipecat's source and sink


def test_the_registry_knows_the_modes_and_refuses_others(monkeypatch):
    with pytest.raises(KeyError, match="unknown mode 'nope'"):
        bots.pipeline_for("nope")
    data_only = InterviewMode("data_only", "Data", "Dee", "p", "i", (Question("q?", "c"),), "bye")
    monkeypatch.setitem(bots.MODES, "data_only", data_only)
    assert bots.pipeline_for("data_only") is bots.technical.pipeline
