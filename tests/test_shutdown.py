"""SIGTERM: the answers being worked on are finished (graceful shutdown), nothing new is taken on, the process
exits cleanly."""

import os
import signal
import subprocess
import sys
import threading
import time

import httpx

from app.config import Settings
from app.paths import PROJECT_ROOT
from tests.conftest import _free_port


def test_sigterm_finishes_what_it_started(settings: Settings) -> None:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": str(settings.database_url), "PYTHONPATH": str(PROJECT_ROOT)}
    args = [sys.executable, "-m", "uvicorn", "--factory", "app.main:app", "--port", str(port), "--no-access-log"]
    server = subprocess.Popen(args, env=env, cwd=PROJECT_ROOT, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        answer: dict[str, httpx.Response] = {}
        slow = {"region": "371600", "kind": "legal_aid", "count": 10}  # a second or so of work

        def ask() -> None:
            answer["slow"] = httpx.post(f"{base}/v1/coverage/suggest", json=slow, timeout=60)

        asking = threading.Thread(target=ask)
        asking.start()
        time.sleep(0.3)  # the request is being worked on
        server.send_signal(signal.SIGTERM)
        asking.join(60)
        assert answer["slow"].status_code == 200 and len(answer["slow"].json()["suggestions"]) == 10
        assert server.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down
        try:
            httpx.get(f"{base}/healthz", timeout=2)
            refused = False
        except httpx.TransportError:
            refused = True
        assert refused
    finally:
        if server.poll() is None:
            server.kill()
