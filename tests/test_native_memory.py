"""The server's threads share few malloc arenas (glibc): what each interview frees is reused.

Each case runs in a fresh interpreter, as the limit must be set before threads allocate: eight
threads allocate at once and glibc's ``malloc_stats`` (on stderr) lists the arenas they got.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PROGRAM = textwrap.dedent(
    """
    import ctypes, sys, threading
    from interviewer.native_memory import limit_malloc_arenas

    print(limit_malloc_arenas(int(sys.argv[1])), flush=True)
    ready = threading.Barrier(8)

    def work():
        held = [bytes(4000) for _ in range(200)]  # past pymalloc: glibc's malloc
        ready.wait()  # all alive at once: no thread reuses another's arena
        held += [bytes(4000) for _ in range(200)]

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ctypes.CDLL("libc.so.6").malloc_stats()
    """
)


def arenas_with(limit: int) -> tuple[str, int]:
    run = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(limit)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    arenas = sum(line.startswith("Arena ") for line in run.stderr.splitlines())
    return run.stdout.strip(), arenas


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_threads_share_at_most_the_arenas_allowed():
    applied, arenas = arenas_with(2)
    assert applied == "True"
    assert 1 <= arenas <= 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_without_a_limit_glibc_gives_threads_arenas_of_their_own():
    """The control: the same program, glibc's default, gets more (so the check above can fail)."""
    applied, arenas = arenas_with(0)
    assert applied == "False"
    assert arenas > 2
