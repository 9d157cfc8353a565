"""How native threads share the two cores: work that can wait yields to work that cannot."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from loguru import logger

# libgomp (GCC's OpenMP) reads this once, as the library loads.
SPIN_VARIABLE = "GOMP_SPINCOUNT"
# Spins before sleeping, for llama.cpp's threads (LLM_BARRIER_SPINS); measured in
# benchmarks/llm_contention.py: as fast as libgomp's 300,000 on idle cores, 16 times faster
# when another thread holds a core.
OPENMP_SPINS = 3000


def lower_this_thread(nice: int, what: str) -> None:
    """Run the calling thread (and the threads it starts from now on) at ``nice``.

    Linux keeps a nice value per thread, and new threads inherit their creator's: native
    libraries' worker threads started after this run at the same priority. A failure is
    logged, and ``what`` then runs at normal priority.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except OSError as e:
        logger.warning(f"{what} runs at normal CPU priority: {e}")


def libgomp_loaded() -> bool:
    """Whether the system's libgomp is already mapped into this process (Linux; else False)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return False
    return "/libgomp.so.1" in maps


@contextmanager
def openmp_spins(spins: int) -> Iterator[None]:
    """OpenMP threads of libraries loaded in this block spin ``spins`` times at a barrier, then sleep.

    That is libgomp's ``GOMP_SPINCOUNT``.

    llama.cpp's threads meet at a barrier after every step of a token. libgomp's default lets a
    thread spin 300,000 times there, so when one thread loses its core to another thread (a
    transcript, the other session's voice), its partner spins on the other core and the model
    nearly stops: 2.6 s a token instead of 0.07 (``benchmarks/llm_contention.py``). A short spin
    lets the waiting thread sleep and the scheduler move the other onto the free core.

    libgomp reads the variable once, when it loads, so only a library first loaded in this block
    follows it (a warning says when libgomp was loaded before); the environment is restored
    afterwards. A ``GOMP_SPINCOUNT`` already in the environment is the user's and wins.
    """
    before = os.environ.get(SPIN_VARIABLE)
    if before is not None:
        logger.info(f"OpenMP threads spin as {SPIN_VARIABLE}={before} (from the environment)")
        yield
        return
    if libgomp_loaded():
        logger.warning(
            f"libgomp is already loaded: its threads keep its own spin count, not {spins}"
        )
    os.environ[SPIN_VARIABLE] = str(spins)
    try:
        yield
    finally:
        os.environ.pop(SPIN_VARIABLE, None)
