"""The last message of an LLM context: whose it is and what it says."""

from __future__ import annotations

from pipecat.frames.frames import LLMContextFrame


def last_message(frame: LLMContextFrame) -> dict:
    """The context's last message ({} when it has none, or it is not a plain message)."""
    messages = frame.context.get_messages()
    last = messages[-1] if messages else None
    return last if isinstance(last, dict) else {}


def last_role(frame: LLMContextFrame) -> str | None:
    """The role of the context's last message (None when it has none)."""
    return last_message(frame).get("role")


def last_text(frame: LLMContextFrame) -> str:
    """The words of the context's last message (plain, or its text parts)."""
    content = last_message(frame).get("content") or ""
    if isinstance(content, str):
        return content
    return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
