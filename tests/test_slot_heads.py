"""A new session's slot starts from the system message another session's slot already read.

The real interviewer model (LLM=local) on its real llama.cpp server, with the sessions' real
line writers: the first session's slot reads the whole head and is saved; a later session's
slot is restored from it and reads only the words after the head; at the same prompt it writes
the very line the first slot writes.
"""

from __future__ import annotations

import tempfile
import time

import httpx
import pytest

from bots import get_mode
from interviewer.line_writer import LineWriter
from interviewer.lines import system_head, system_prompt
from interviewer.plan import CandidateContext

QUESTION = "Tell me about a system you built end to end."
NEXT_QUESTION = "How did you make sure it kept working as it grew?"
ANSWER = "I built the payments ledger at my last company, in Go on Postgres, with a small team."


@pytest.fixture(scope="module")
def llm(settings):
    from interviewer.local_llm import LocalLLMServer

    server = LocalLLMServer.start(settings.model_copy(update={"llm": "local", "max_sessions": 5}))
    yield server
    server.stop()
    assert not server.heads.directory.exists(), "the saved slot states outlive the server"


def _writer(llm, system: str, *, shared: bool, head: str | None = None) -> LineWriter:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(api_key=llm.api_key, base_url=llm.base_url, timeout=60, max_retries=0)
    return LineWriter(
        client,
        llm.model,
        system,
        slot=llm.acquire_slot(),
        heads=llm.heads if shared else None,
        head=head,
        temperature=0,
    )


async def _erase_slots(llm) -> None:
    """Empty every slot of the server (llama.cpp's erase action): no earlier test's reading stays."""
    async with httpx.AsyncClient(timeout=10) as client:
        for slot in range(llm.slots):
            r = await client.post(
                f"{llm.base_url.rsplit('/v1', 1)[0]}/slots/{slot}",
                params={"action": "erase"},
                headers={"Authorization": f"Bearer {llm.api_key}"},
            )
            r.raise_for_status()


async def _prefilled(writer: LineWriter, question: str = QUESTION) -> LineWriter:
    writer.expect_answer(question, "follow_up")
    await writer._await_prefill()
    return writer


@pytest.mark.slow
async def test_a_new_slot_starts_from_the_head_another_session_read(llm):
    system = system_prompt(get_mode("technical"), CandidateContext(role="backend engineer"))

    first = await _prefilled(_writer(llm, system, shared=True))
    assert not first.stats.head_restored  # nothing saved yet: it reads the head itself
    assert llm.heads.saved(system)
    read_all = first.stats.prefill_read[0]
    # A later session at the same first question (every session of a mode starts with it) ...
    twin = await _prefilled(_writer(llm, system, shared=True))
    # ... and at another question after the same head; and a slot that shares nothing.
    second = await _prefilled(_writer(llm, system, shared=True), NEXT_QUESTION)
    alone = await _prefilled(_writer(llm, system, shared=False), NEXT_QUESTION)
    read = [w.stats.prefill_read[0] for w in (first, twin, second, alone)]
    print(f"tokens read by the first prefill (first, twin, another question, alone): {read}")
    assert twin.stats.head_restored and second.stats.head_restored
    assert alone.stats.prefill_read[0] > 100  # a slot on its own reads the head ...
    assert twin.stats.prefill_read[0] <= 2  # ... a restored one nothing it was given ...
    assert second.stats.prefill_read[0] < read_all / 3  # ... or only the words after the head

    # The restored reading is the first slot's own: the same answer gets the same line.
    deadline = time.monotonic() + 60
    lines = [await w.write("follow_up", QUESTION, ANSWER, deadline) for w in (first, twin)]
    assert lines[0] and lines[0] == lines[1], lines
    assert await second.write("follow_up", NEXT_QUESTION, ANSWER, deadline)  # within the rules

    # Another mode's head is its own: nothing of the first is restored into it.
    other = system_prompt(get_mode("behavioral"), CandidateContext())
    third = await _prefilled(_writer(llm, other, shared=True))
    assert not third.stats.head_restored and third.stats.prefill_read[0] > 100
    for w in (first, twin, second, alone, third):
        await w.close()
        llm.session_ended(w.slot, w.stats.asked, w.stats.written)
    assert (llm.lines_asked, llm.lines_written) == (3, 3)


@pytest.mark.slow
async def test_candidates_for_other_roles_share_the_modes_head(llm):
    """The head is the mode's part of the system message: a session's role comes after it."""
    mode = get_mode("technical")
    head = system_head(mode)
    tallied = (llm.lines_asked, llm.lines_written)
    await _erase_slots(llm)
    roles = ("site reliability engineer", "data scientist", "")
    writers = [
        _writer(llm, system_prompt(mode, CandidateContext(role=r)), shared=True, head=head)
        for r in roles
    ]
    for w in writers:
        await _prefilled(w)
    read = [w.stats.prefill_read[0] for w in writers]
    print(f"tokens read by the first prefill (SRE, data scientist, no role): {read}")
    assert writers[0].stats.prefill_read[0] > 100  # the first reads the mode's head itself ...
    assert llm.heads.saved(head) and not llm.heads.saved(writers[0]._system)
    # ... later candidates of the mode, whatever their role, only the role and the question.
    assert all(w.stats.head_restored for w in writers[1:])
    assert all(n < read[0] / 2 for n in read[1:]), read  # 162 each with the role in the head
    deadline = time.monotonic() + 60
    assert await writers[1].write("follow_up", QUESTION, ANSWER, deadline)
    for w in writers:
        await w.close()
        llm.session_ended(w.slot, w.stats.asked, w.stats.written)
    assert (llm.lines_asked, llm.lines_written) == (tallied[0] + 1, tallied[1] + 1)


@pytest.mark.slow
def test_a_server_that_never_gets_healthy_leaves_no_slot_directory(settings, tmp_path, monkeypatch):
    from interviewer.local_llm import LocalLLMError, LocalLLMServer

    def unhealthy(address: str, what: str, timeout_s: float = 30.0) -> None:
        raise LocalLLMError(f"configuration error: {what}: the local server at {address} ...")

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the slot directory is made
    monkeypatch.setattr(LocalLLMServer, "_wait_healthy", staticmethod(unhealthy))
    with pytest.raises(LocalLLMError, match="LLM=local"):
        LocalLLMServer.start(settings.model_copy(update={"llm": "local", "max_sessions": 1}))
    assert list(tmp_path.iterdir()) == []
