"""Every request gets an id, one structured log line and its metrics (app.observability.metrics).

`X-Request-ID` is taken from the request when it is a plausible id (so a trace crosses the load balancer and the
partner's system), made otherwise, returned on every response and given as `instance` in problem+json.
The line is JSON on stderr: time, request id, method, route template (never the raw path, which carries ids and
coordinates), status, duration, the calling key's *name* (never the key) and bytes sent.

On the request's own path the observer only notes what happened (one record on a queue). A thread of its own
(Recorder) counts the records in the metrics and writes their lines every REQUEST_RECORD_SECONDS (0.1 s), a batch
at a time: a request never waits for the terminal or the log collector, and each record costs a fraction of what
the same work costs between the request's own steps (bench/NOTES.md has the figures). A scrape of /metrics first
records what is queued, so it sees every request this process has answered; other workers' figures are that
interval old at most.
"""

import atexit
import contextlib
import itertools
import os
import queue
import re
import sys
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import IO, Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability import metrics

PLAUSIBLE_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
HEADER = b"x-request-id"
# Made ids: this process's random prefix and a count (unique without a system call per request).
_PREFIX = os.urandom(8).hex().encode()
_COUNT = itertools.count()


def request_id(scope: MutableMapping[str, Any]) -> str | None:
    """The id of the request being answered (set by RequestObserver)."""
    state = scope.get("state") or {}
    found = state.get("request_id")
    return found.decode() if found is not None else None


def note_key_name(scope: MutableMapping[str, Any], name: str) -> None:
    """Record which key's holder is calling, for the request's log line."""
    scope.setdefault("state", {})["key_name"] = name


# What the observer notes of one answered request, a plain tuple (a named one costs ~0.8 µs to make):
# (time, request id, method, route template or None when no route matched, status, seconds, key name, bytes sent).
Answered = tuple[float, bytes, str, str | None, int, float, str | None, int]


class Recorder:
    """Counts answered requests in the metrics and writes their log lines (JSON, one a line to `stream`), a batch
    `every` seconds from a thread of its own."""

    def __init__(self, stream: IO[bytes], every: float) -> None:
        self._stream, self._every = stream, every
        self._queue: queue.SimpleQueue[Answered] = queue.SimpleQueue()
        # The request's path calls the queue's own (C) method: no call of ours in between.
        self.put: Callable[[Answered], None] = self._queue.put
        # One batch at a time, in order: the thread's and a scrape's (flush).
        self._flushing = threading.Lock()
        self._requests = metrics.RequestMetrics()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="request-recorder", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _run(self) -> None:
        while not self._closing.wait(self._every):
            self.flush()
        self.flush()

    def flush(self) -> None:
        """Record everything queued so far."""
        with self._flushing:
            batch = []
            with contextlib.suppress(queue.Empty):
                while True:
                    batch.append(self._queue.get_nowait())
            metrics.IN_FLIGHT.publish()
            if not batch:
                return
            self._requests.count(
                (route, method, status, seconds) for _, _, method, route, status, seconds, _, _ in batch
            )
            # ValueError: the stream was closed under us (at exit, by whoever owned it); the lines have nowhere to go.
            with contextlib.suppress(ValueError):
                self._stream.write(b"".join(_line(answered) for answered in batch))
                self._stream.flush()

    def close(self) -> None:
        """Record what is left and stop (at exit, and by tests)."""
        self._closing.set()
        self._thread.join(5)


def _line(answered: Answered) -> bytes:
    at, rid, method, route, status, seconds, key, sent = answered
    line = {
        "time": _iso_time(at),
        "request_id": rid.decode(),
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": int(seconds * 100_000 + 0.5) / 100,  # round(…, 2) costs twice as much
        "key": key,
        "bytes": sent,
    }
    return orjson.dumps(line) + b"\n"


_second: tuple[int, str] = (-1, "")


def _iso_time(at: float) -> str:
    """`at` (seconds since the epoch) as ISO 8601 in UTC to the millisecond; the second's text made once."""
    global _second
    whole = int(at)
    if _second[0] != whole:
        _second = (whole, datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{_second[1]}.{int((at - whole) * 1000):03d}+00:00"


in_flight = metrics.IN_FLIGHT  # bound once: the request's path touches it twice
# The process's recorder (configure() starts it; tests put one writing to a buffer here).
recorder: Recorder | None = None


def configure(every: float) -> None:
    """Start the process's recorder, writing every `every` seconds (Settings.request_record_seconds)."""
    global recorder
    if recorder is None:
        recorder = Recorder(sys.stderr.buffer, every)
        metrics.BEFORE_SCRAPE.append(flush)


def flush() -> None:
    """Record what this process has answered so far."""
    if recorder is not None:
        recorder.flush()


class RequestObserver:
    """ASGI middleware: the request id in and out; when the answer is sent, a record of it for the Recorder."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        for name, value in scope["headers"]:
            if name == HEADER and PLAUSIBLE_ID.match(value):
                rid = value
                break
        else:
            rid = b"%s%016x" % (_PREFIX, next(_COUNT))
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        status, sent = 500, 0

        # A plain function handing back send's own awaitable: no coroutine of ours for each message.
        def send_with_id(message: Message) -> Awaitable[None]:
            nonlocal status, sent
            if message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            elif message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (HEADER, rid)]
            return send(message)

        # On the request's path only what must be: no calls of our own, no locks (the recorder does the rest).
        in_flight.count += 1
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            in_flight.count -= 1
            if recorder is not None:
                # The template as documented: /v1/sites/{site_id}, not its {site_id:int} convertor.
                route = getattr(scope.get("route"), "path_format", None)
                elapsed = time.perf_counter() - started
                recorder.put((time.time(), rid, scope["method"], route, status, elapsed, state.get("key_name"), sent))
