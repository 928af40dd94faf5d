"""Every request gets an id, one structured log line and its metrics (app.metrics).

`X-Request-ID` is taken from the request when it is a plausible id (so a trace crosses the load balancer and the
partner's system), made otherwise, returned on every response and given as `instance` in problem+json.
The line is JSON on stderr: time, request id, method, route template (never the raw path, which carries ids and
coordinates), status, duration, the calling key's *name* (never the key) and bytes sent. Lines are written by a
thread of their own (LineWriter): a request never waits for the terminal or the log collector.
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
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime
from typing import IO, Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import metrics

PLAUSIBLE_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
HEADER = b"x-request-id"
# Made ids: this process's random prefix and a count (unique without a system call per request).
_PREFIX = os.urandom(8).hex()
_COUNT = itertools.count()


def request_id(scope: MutableMapping[str, Any]) -> str | None:
    """The id of the request being answered (set by RequestObserver)."""
    state = scope.get("state") or {}
    found = state.get("request_id")
    return str(found) if found is not None else None


def note_key_name(scope: MutableMapping[str, Any], name: str) -> None:
    """Record which key's holder is calling, for the request's log line."""
    scope.setdefault("state", {})["key_name"] = name


# How often the writer thread wakes to write what has come: waking it for every line (a thread switch and a GIL
# hand-over each) would cost the requests more than the line itself.
FLUSH_SECONDS = 0.1


class LineWriter:
    """Writes request lines as JSON, one a line, every FLUSH_SECONDS from a thread of its own."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._lines: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._write, name="request-log", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def put(self, line: dict[str, Any]) -> None:
        self._lines.put(line)

    def _write(self) -> None:
        while not self._closing.wait(FLUSH_SECONDS):
            self._flush()
        self._flush()

    def _flush(self) -> None:
        batch = []
        with contextlib.suppress(queue.Empty):
            while True:
                batch.append(self._lines.get_nowait())
        if not batch:
            return
        for line in batch:
            line["time"] = _iso_time(line["time"])
        # ValueError: the stream was closed under us (at exit, by whoever owned it); the lines have nowhere to go.
        with contextlib.suppress(ValueError):
            self._stream.write(b"".join(orjson.dumps(line) + b"\n" for line in batch))
            self._stream.flush()

    def close(self) -> None:
        """Write what is left and stop (at exit, and by tests)."""
        self._closing.set()
        self._thread.join(5)


_second: tuple[int, str] = (-1, "")


def _iso_time(at: float) -> str:
    """`at` (seconds since the epoch) as ISO 8601 in UTC to the millisecond; the second's text made once."""
    global _second
    whole = int(at)
    if _second[0] != whole:
        _second = (whole, datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{_second[1]}.{int((at - whole) * 1000):03d}+00:00"


_writer: LineWriter | None = None
# Where request lines go (tests put a list's append here).
sink: Callable[[dict[str, Any]], None] | None = None


def configure() -> None:
    global _writer, sink
    if _writer is None:
        _writer = LineWriter(sys.stderr.buffer)
        sink = _writer.put


class RequestObserver:
    """ASGI middleware: the request id in and out; the request's log line and metrics when its answer is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Metric children by labels, found once (prometheus-client's labels() takes a lock and builds a key).
        self._counted: dict[tuple[str, str, int], Any] = {}
        self._timed: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = next((value for name, value in scope["headers"] if name == HEADER), None)
        rid = given.decode() if given is not None and PLAUSIBLE_ID.match(given) else f"{_PREFIX}{next(_COUNT):016x}"
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        status, sent = 500, 0

        async def send_with_id(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (HEADER, rid.encode())]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        metrics.IN_FLIGHT.enter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            metrics.IN_FLIGHT.leave()
            elapsed = time.perf_counter() - started
            template = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            counted = self._counted.get((template, method, status // 100))
            if counted is None:
                counted = metrics.REQUESTS.labels(template, method, metrics.status_class(status))
                self._counted[template, method, status // 100] = counted
            counted.inc()
            timed = self._timed.get((template, method))
            if timed is None:
                timed = self._timed[template, method] = metrics.LATENCY.labels(template, method)
            timed.observe(elapsed)
            if sink is not None:
                sink(
                    {
                        "time": time.time(),
                        "request_id": rid,
                        "method": method,
                        "route": None if template == "unmatched" else template,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                        "key": state.get("key_name"),
                        "bytes": sent,
                    }
                )
