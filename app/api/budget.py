"""Every request's time budget, and the end of its work when its client leaves.

A request still working when its budget runs out is cancelled and answered 503 (problem+json, Retry-After): its
database query is cancelled on the server (asyncpg does so for a cancelled task) and its CPU-heavy step's worker
process is terminated (app.compute.offload). A request whose client disconnects is cancelled the same way, with
nobody left to answer. Without this a what-if over a whole country kept a core busy for minutes after the planner
gave up.

The nearest query and the health checks are outside it: their work is bounded by their parameters (an index search
of at most 100 sites; a ping), and the two tasks this costs would be a few per cent of the phone's request.
"""

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import Request

from app.observability import metrics
from app.problems import OverBudget
from app.problems.http import answer, client_left

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNBUDGETED_PATHS = frozenset({"/v1/sites/nearest", "/healthz", "/readyz", "/metrics"})


def _log_failure(watcher: "asyncio.Future[None]") -> None:
    if not watcher.cancelled() and (error := watcher.exception()) is not None:
        log.error("watching for the client leaving failed", exc_info=error)


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"", b"0")):
            return True
    return False


class RequestBudget:
    """ASGI middleware: the app runs as a task that is cancelled when `budget_s` (or, for paths starting with one
    of `long_paths`, `long_budget_s`: bulk imports) has passed or the client has gone."""

    def __init__(self, app: ASGIApp, budget_s: float, long_budget_s: float, long_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.budget_s = budget_s
        self.long_budget_s = long_budget_s
        self.long_paths = long_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNBUDGETED_PATHS:
            await self.app(scope, receive, send)
            return
        budget = self.long_budget_s if scope["path"].startswith(self.long_paths) else self.budget_s
        answer_started = answer_done = False
        client_gone = asyncio.Event()
        body_read = asyncio.Event()
        # A request without a body is handed its empty body here; the server's own empty message goes to the watcher.
        empty_body_owed = not _has_body(scope)
        if empty_body_owed:
            body_read.set()

        async def app_receive() -> Message:
            nonlocal empty_body_owed
            # While the app reads its body it reads from the server; after that only the watcher does (two readers
            # at once could each take the other's message).
            if not body_read.is_set():
                message = await receive()
                if message["type"] == "http.disconnect":
                    client_gone.set()
                elif not message.get("more_body", False):
                    body_read.set()
                return message
            if empty_body_owed:
                empty_body_owed = False
                return {"type": "http.request", "body": b"", "more_body": False}
            await client_gone.wait()
            return {"type": "http.disconnect"}

        async def app_send(message: Message) -> None:
            nonlocal answer_started, answer_done
            answer_started = True
            answer_done = message["type"] == "http.response.body" and not message.get("more_body", False)
            await send(message)

        async def watch() -> None:
            """Until the client disconnects. (uvicorn also says "disconnect" once the answer is complete: the app may
            still be finishing then, and nobody has left.)"""
            await body_read.wait()
            while (await receive())["type"] != "http.disconnect":
                pass  # a body-less request's empty body, handed to the app already
            if not answer_done:
                client_gone.set()

        work = asyncio.ensure_future(self.app(scope, app_receive, app_send))
        watcher = asyncio.ensure_future(watch())
        watcher.add_done_callback(_log_failure)
        gone = asyncio.ensure_future(client_gone.wait())
        try:
            done, _ = await asyncio.wait({work, gone}, timeout=budget, return_when=asyncio.FIRST_COMPLETED)
            if work in done:
                work.result()  # the app's own error, if any, goes on up
                return
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
            if client_gone.is_set():
                metrics.REQUESTS_ABANDONED.labels("client_left").inc()
                if not answer_started:
                    await client_left("the client left before the answer")(scope, receive, send)
                return
            metrics.REQUESTS_ABANDONED.labels("over_budget").inc()
            log.warning("%s %s stopped after its budget of %g s", scope["method"], scope["path"], budget)
            if not answer_started:
                retry_after = str(math.ceil(budget))
                detail = (
                    f"the request needed more than its {budget:g} s; ask a narrower question (a smaller region, "
                    "radius or count) or retry later"
                )
                response = answer(OverBudget(detail, headers={"Retry-After": retry_after}), Request(scope))
                await response(scope, receive, send)
        finally:
            for task in (work, watcher, gone):
                task.cancel()
