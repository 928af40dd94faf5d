"""Rate limits per API key, or per client address when no key is sent (429 with Retry-After).

Fixed one-minute windows. Counters live in Redis when REDIS_URL is set, so every worker and instance shares
them; otherwise in this process (a single-process deployment, or development). If Redis fails, requests are let
through and the failure logged: an outage of the limiter should not become an outage of the service.
"""

import logging
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol
from urllib.parse import parse_qsl

import redis.asyncio as redis

from app.config import Settings
from app.observability import metrics
from app.problems import RateLimited
from app.problems.http import answer

log = logging.getLogger(__name__)
WINDOW_S = 60
now = time.time  # the clock the windows are cut from (tests pin it, so a window never turns mid-test)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LIMITED_PREFIXES = ("/v1/", "/ogc")
# Coverage questions: each computes coverage (progress: at every period's end; the monthly report besides a PDF).
COVERAGE_PREFIXES = ("/v1/coverage/", "/v1/progress/")
TILES_PREFIX = "/v1/tiles/"
# A tile asked with these is a coverage question computed afresh (a what-if), not a read of kept figures.
WHAT_IF_PARAMETERS = frozenset({"radius_m", "min_sites"})


def _asks_what_if(query_string: bytes) -> bool:
    """Whether a query names a what-if parameter, read as the routes read it (percent-decoded: radius%5Fm too)."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    return any(name in WHAT_IF_PARAMETERS for name, _ in pairs)


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Counter(Protocol):
    async def hit(self, key: str, window: int) -> int:
        """Count one request for `key` in `window`; return the count so far."""
        ...


class MemoryCounter:
    def __init__(self) -> None:
        self._window = -1
        self._counts: dict[str, int] = {}

    async def hit(self, key: str, window: int) -> int:
        if window != self._window:  # a new minute: the old counts can go
            self._window, self._counts = window, {}
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        return count


# A Redis that takes longer than this is treated as down: a limiter may cost a request milliseconds, not seconds.
REDIS_TIMEOUT_S = 0.05
# After a failure the limiter lets requests through without asking Redis for this long, then tries again.
REDIS_RETRY_AFTER_S = 5.0


class RedisCounter:
    def __init__(self, url: str, prefix: str) -> None:
        self._redis = redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S)
        self._prefix = prefix

    async def hit(self, key: str, window: int) -> int:
        name = f"{self._prefix}:{window}:{key}"
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.incr(name)
            pipe.expire(name, WINDOW_S * 2)
            count, _ = await pipe.execute()
        return int(count)

    async def close(self) -> None:
        await self._redis.aclose()


def _identities(scope: Scope) -> list[str]:
    """Who to count a request against: always its client address, and its key when it sends one.

    Counting the address even when a key is sent means made-up keys cannot buy extra budget (keys are only
    verified later, by the routes that need them).
    """
    client = scope.get("client")
    identities = ["ip:" + (client[0] if client else "unknown")]
    for name, value in scope["headers"]:
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            identities.append("key:" + str(value[7:].decode(errors="replace"))[:12])  # the key's public prefix
        elif name == b"x-api-key":
            identities.append("key:" + str(value.decode(errors="replace"))[:12])
    return identities


class RateLimitMiddleware:
    """`own_limits`: the (method, path) of requests that spend only limits of their own, checked by their route
    (a scan at a station's door: workers behind one carrier's NAT share an address, and a busy station would
    refuse them on the address's write budget)."""

    def __init__(
        self, app: ASGIApp, settings: Settings, counter: Counter, own_limits: frozenset[tuple[str, str]] = frozenset()
    ) -> None:
        self.app = app
        self.own_limits = own_limits
        self.reads = settings.rate_limit_reads_per_minute
        self.writes = settings.rate_limit_writes_per_minute
        self.coverage = settings.rate_limit_coverage_per_minute
        self.counter = counter
        self._down_until = 0.0  # while Redis is failing: when to ask it again (monotonic seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not scope["path"].startswith(LIMITED_PREFIXES)
            or (scope["method"], scope["path"]) in self.own_limits
        ):
            await self.app(scope, receive, send)
            return
        # Which budget the request spends: coverage questions (a siting request is a POST, and a question; a tile
        # with a what-if is one too), writes, or reads.
        path = scope["path"]
        if path.startswith(COVERAGE_PREFIXES) or (
            path.startswith(TILES_PREFIX) and _asks_what_if(scope.get("query_string", b""))
        ):
            budget, limit, what = "c", self.coverage, "coverage questions"
        elif scope["method"] in WRITE_METHODS:
            budget, limit, what = "w", self.writes, "writes"
        else:
            budget, limit, what = "r", self.reads, "reads"
        if limit > 0:
            moment = now()
            window = int(moment // WINDOW_S)
            count = 0
            if time.monotonic() >= self._down_until:
                try:
                    for identity in _identities(scope):
                        count = max(count, await self.counter.hit(f"{budget}:{identity}", window))
                    if self._down_until:
                        log.warning("rate limiter available again")
                        self._down_until = 0.0
                except (redis.RedisError, OSError, TimeoutError) as exc:
                    # Fail open, and say so once per outage rather than once per request.
                    if not self._down_until:
                        log.warning("rate limiter unavailable, letting requests through: %s", exc)
                    self._down_until = time.monotonic() + REDIS_RETRY_AFTER_S
                    metrics.REDIS_UNAVAILABLE.inc()
                    count = 0
            if count > limit:
                metrics.RATE_LIMITED.labels(what.split()[0]).inc()
                retry_after = max(1, math.ceil((window + 1) * WINDOW_S - moment))
                detail = f"more than {limit} {what} a minute; retry in {retry_after} s"
                response = answer(RateLimited(detail, headers={"Retry-After": str(retry_after)}))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
