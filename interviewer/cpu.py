"""CPU priority per thread: work that can wait yields the two cores to work that cannot."""

from __future__ import annotations

import os
import threading

from loguru import logger


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
