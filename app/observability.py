"""Every request gets an id, one structured log line and its metrics (app.metrics).

`X-Request-ID` is taken from the request when it is a plausible id (so a trace crosses the load balancer and the
partner's system), generated otherwise, returned on every response and given as `instance` in problem+json.
The line (JSON, logger `yizhan.requests`): time, request id, method, route template (never the raw path, which
carries ids and coordinates), status, duration, the calling key's *name* (never the key) and bytes sent.
"""

import logging
import re
import sys
import time
import uuid
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import metrics

log = logging.getLogger("yizhan.requests")
PLAUSIBLE_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
HEADER = b"x-request-id"


def request_id(scope: MutableMapping[str, Any]) -> str | None:
    """The id of the request being answered (set by RequestLog)."""
    state = scope.get("state") or {}
    found = state.get("request_id")
    return str(found) if found is not None else None


def note_key_name(scope: MutableMapping[str, Any], name: str) -> None:
    """Record which key's holder is calling, for the request's log line."""
    scope.setdefault("state", {})["key_name"] = name


def configure() -> None:
    """One JSON object a line on stderr, as log collectors read them; nothing else is added to it."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


class RequestLog:
    """ASGI middleware: the request id in and out, and the request's log line when its answer is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = next((value for name, value in scope["headers"] if name == HEADER), None)
        rid = given.decode() if given is not None and PLAUSIBLE_ID.match(given) else uuid.uuid4().hex
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

        metrics.IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            metrics.IN_FLIGHT.dec()
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            metrics.REQUESTS.labels(template, scope["method"], metrics.status_class(status)).inc()
            metrics.LATENCY.labels(template, scope["method"]).observe(elapsed)
            if log.isEnabledFor(logging.INFO):
                line = {
                    "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "request_id": rid,
                    "method": scope["method"],
                    "route": getattr(route, "path", None),
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "key": state.get("key_name"),
                    "bytes": sent,
                }
                log.info(orjson.dumps(line).decode())
