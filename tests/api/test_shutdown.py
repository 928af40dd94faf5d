"""SIGTERM: the answers being worked on are finished (graceful shutdown), nothing new is taken on, the process
exits cleanly."""

import signal
import threading
import time

import httpx

from app.config import Settings
from tests.tools import start_server


def test_sigterm_finishes_what_it_started(settings: Settings) -> None:
    server, base = start_server(settings)
    try:
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
