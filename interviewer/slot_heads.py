"""A prompt's head read once by the local model and shared by every session's slot.

With ``LLM=local`` each session holds a slot of its own on the llama.cpp server, so its prompt
stays read between turns. A new slot is empty, though: the session's first prompt reads its
mode's whole system message again (157 tokens with the first question), 2.2-2.6 s of both cores
on a quiet machine, during the greeting of every session. llama.cpp can save a slot's state to
a file and restore it into another slot: the first session's slot is saved once it has read its
first prompt (3.6 MB, a few ms) and every later slot of that mode starts from that file (about
1 ms), leaving it only the words after the shared part to read (1 token at the same first
question, 42 at another). The head is the mode's part of the system message
(:func:`interviewer.lines.system_head`): the candidate's role comes after it, so candidates for
any role share it. The files live in a private directory that goes with the server.
"""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

import httpx
from loguru import logger


class SlotHeads:
    """Saved slot states on one llama.cpp server, one per prompt head (a mode's system message)."""

    def __init__(self, address: str, api_key: str, directory: Path, tls: ssl.SSLContext):
        self._address = address.rstrip("/")
        self._tls = tls  # the server's (see interviewer.local_llm.loopback_tls)
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self.directory = directory

    @staticmethod
    def filename(head: str) -> str:
        """The file a head's slot state is saved in (llama.cpp takes plain names only)."""
        return hashlib.sha256(head.encode()).hexdigest()[:24] + ".bin"

    def saved(self, head: str) -> bool:
        """Whether a slot that read ``head`` has been saved."""
        return (self.directory / self.filename(head)).is_file()

    async def restore(self, slot: int, head: str) -> bool:
        """Start ``slot`` from the saved state for ``head``; False when there is none (or it failed)."""
        if not self.saved(head):
            return False
        return await self._action(slot, "restore", head)

    async def save(self, slot: int, head: str) -> bool:
        """Save ``slot`` (which has read ``head``) for later slots, unless one is saved already."""
        if self.saved(head):
            return True
        return await self._action(slot, "save", head)

    async def _action(self, slot: int, action: str, head: str) -> bool:
        try:
            async with httpx.AsyncClient(timeout=10, verify=self._tls) as client:
                r = await client.post(
                    f"{self._address}/slots/{slot}",
                    params={"action": action},
                    json={"filename": self.filename(head)},
                    headers=self._headers,
                )
            r.raise_for_status()
            return True
        except (httpx.HTTPError, OSError) as e:  # only time is lost: the slot reads the head
            logger.debug(f"Slot {slot}: {action} of the shared prompt head failed: {e!r}")
            return False
