"""llama.cpp's OpenMP threads spin briefly at a barrier, then sleep (LLM_BARRIER_SPINS).

With libgomp's default (300,000 spins) a thread of the model that loses its core to another
thread leaves its partner spinning, and the model nearly stops (benchmarks/llm_contention.py).
libgomp reads its spin count once, as it loads, so each case runs in a fresh interpreter and
asks the loaded libgomp what it read (``omp_display_env``, on stderr).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("xllamacpp")
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="libgomp (Linux)")

ROOT = Path(__file__).resolve().parent.parent

SHOW = textwrap.dedent(
    """
    import ctypes, os
    print("environment after:", os.environ.get("GOMP_SPINCOUNT"), flush=True)
    ctypes.CDLL("libgomp.so.1").omp_display_env(1)
    """
)


def run(program: str, env: dict | None = None) -> tuple[str, str | None]:
    """The spin count the process's libgomp read, and GOMP_SPINCOUNT as the program left it."""
    full_env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"} | (env or {})
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(program) + SHOW],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=full_env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    read = re.search(r"GOMP_SPINCOUNT = '(\d+)'", done.stderr)
    left = re.search(r"environment after: (\S+)", done.stdout)
    assert read and left, (done.stdout, done.stderr[-2000:])
    return read.group(1), None if left.group(1) == "None" else left.group(1)


def test_the_model_loads_with_short_spins_and_the_environment_is_restored():
    read, left = run(
        """
        from interviewer.local_llm import import_xllamacpp
        import_xllamacpp(3000)
        """
    )
    assert read == "3000"
    assert left is None  # libraries loaded later (or child processes) see what the user set


def test_without_it_libgomp_spins_300000_times():
    """The control: a plain import gets libgomp's default, so the check above can fail."""
    read, _ = run("import xllamacpp")
    assert read == "300000"


def test_a_spin_count_the_user_set_wins():
    read, left = run(
        """
        from interviewer.local_llm import import_xllamacpp
        import_xllamacpp(3000)
        """,
        env={"GOMP_SPINCOUNT": "5000"},
    )
    assert (read, left) == ("5000", "5000")


def test_the_server_module_does_not_load_libgomp_before_the_models_do():
    """Importing the server (which loads Whisper's own copy of libgomp) leaves the system's
    libgomp unloaded, so the setting reaches llama.cpp's threads when the models load."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import web.server\nfrom interviewer.cpu import libgomp_loaded\nprint(libgomp_loaded())",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.slow
def test_the_local_model_server_reads_the_setting():
    """The real path: the offline interviewer model started from the settings, as the server does."""
    read, left = run(
        """
        from interviewer.config import load_settings
        from interviewer.local_llm import LocalLLMServer
        server = LocalLLMServer.start(load_settings())
        server.stop(idle_timeout_s=0)
        """,
        env={"LLM": "local", "MAX_SESSIONS": "1", "LLM_BARRIER_SPINS": "1234"},
    )
    assert (read, left) == ("1234", None)
