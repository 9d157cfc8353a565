"""Stopping a local model server while a request is in flight ends it; it never hangs the process.

xllamacpp's destructor stops the model loop, then joins the HTTP threads holding the GIL; a
request still queued for a slot never got its result and the process hung (a CI run sat in a
test server's teardown). Three requests on the one slot of the end-of-turn model's server
reproduce it: before the fix this child hung every time (2 of 2). Run in a child process with a deadline, so a hang fails this test instead
of the whole run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHILD = textwrap.dedent(
    """
    import json, sys, threading, time, urllib.request
    from interviewer.config import load_settings
    from interviewer.eot import serve_eot_model

    server, _ = serve_eot_model(load_settings(_env_file=None).model_cache_dir, slots=1)
    address = server.base_url.rsplit("/v1", 1)[0]
    auth = {"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"}

    def complete():
        body = json.dumps({"model": server.model, "prompt": "word " * 900, "max_tokens": 1})
        req = urllib.request.Request(f"{server.base_url}/completions", body.encode(), auth)
        try:
            urllib.request.urlopen(req, timeout=60).read()
            print("answered", flush=True)
        except Exception as e:
            print("request ended:", type(e).__name__, flush=True)

    for _ in range(3):  # one in the slot, two queued behind it
        threading.Thread(target=complete, daemon=True).start()
    slots = urllib.request.Request(f"{address}/slots", headers=auth)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # until the request is in its slot
        with urllib.request.urlopen(slots, timeout=2) as r:
            if any(s.get("is_processing") for s in json.loads(r.read())):
                break
        time.sleep(0.01)
    else:
        sys.exit("the request never reached a slot")
    print("processing", flush=True)
    server.stop()
    print("stopped", flush=True)
    """
)


@pytest.mark.slow
def test_stopping_with_a_request_in_flight_does_not_hang():
    try:
        out = subprocess.run(
            [sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, timeout=90
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the process hung stopping its model server: {e.stdout!r}")
    assert "processing" in out.stdout, out.stdout + out.stderr[-2000:]
    assert "stopped" in out.stdout, out.stdout + out.stderr[-2000:]
    assert out.stdout.count("answered") == 3, out.stdout  # every request got its answer
