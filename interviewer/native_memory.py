"""How many malloc arenas the server's native threads share (glibc).

glibc gives each new thread an arena of its own, up to 8 per core, and keeps what a freed
block leaves in each one. The server's native libraries (ONNX Runtime for Silero, smart-turn,
Piper and Moonshine, CTranslate2 for Whisper, llama.cpp) run many threads, so every interview
leaves a little in several arenas: the resident memory crept up interview after interview.
Two arenas keep that in check at no measurable cost in speed (README, "Memory over time").
"""

from __future__ import annotations

import ctypes
import ctypes.util

from loguru import logger

M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


def limit_malloc_arenas(arenas: int) -> bool:
    """Let threads share at most ``arenas`` malloc arenas from now on (0: glibc's default).

    Call it before the threads that allocate start: a thread keeps the arena it was given.
    Returns whether the limit is in force; elsewhere than glibc (musl, macOS) it is not, and
    that is logged: memory then behaves as that allocator does.
    """
    if arenas <= 0:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        applied = bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError) as e:
        logger.info(f"malloc arenas not limited ({type(e).__name__}: not glibc)")
        return False
    if not applied:
        logger.info("malloc arenas not limited (mallopt refused)")
    return applied
