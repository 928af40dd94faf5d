"""Prometheus metrics (prometheus-client), served at GET /metrics.

With several uvicorn workers, set PROMETHEUS_MULTIPROC_DIR to an empty folder shared by them (before they start):
each worker writes its figures there and /metrics adds them up, whichever worker answers the scrape.
"""

import collections
import os
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

REQUESTS = Counter(
    "yizhan_http_requests", "HTTP requests answered", ["route", "method", "status"]
)  # status: its class, 2xx … 5xx
LATENCY = Histogram(
    "yizhan_http_request_duration_seconds",
    "Time to answer, by route template",
    ["route", "method"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
IN_FLIGHT_GAUGE = Gauge("yizhan_http_requests_in_flight", "Requests being answered", multiprocess_mode="livesum")


class InFlight:
    """Requests being answered: a plain count on the request's path (a gauge's inc() and dec() take a lock each,
    on every request). In one process the gauge reads it when scraped; with several workers publish() writes it to
    the shared gauge (app.observability.requests's recorder does, with every batch)."""

    def __init__(self) -> None:
        self.count = 0
        if not MULTIPROCESS:
            IN_FLIGHT_GAUGE.set_function(lambda: self.count)

    def publish(self) -> None:
        if MULTIPROCESS:
            IN_FLIGHT_GAUGE.set(self.count)


IN_FLIGHT = InFlight()
READ_POOL = Gauge(
    "yizhan_read_pool_connections",
    "Read pool connections: its size, those in use, requests waiting for one",
    ["state"],
    multiprocess_mode="livesum",
)
DATABASE_ERRORS = Counter(
    "yizhan_database_errors", "Database failures answered as errors", ["kind"]
)  # unreachable (503), pool_exhausted (503), data (422), constraint (409/422)
NEAREST_FALLBACKS = Counter(
    "yizhan_nearest_fallbacks",
    "Nearest searches whose over-fetch could not prove the answer (took every site in range)",
)
RATE_LIMITED = Counter("yizhan_rate_limited", "Requests refused with 429", ["kind"])  # reads, writes, coverage
BULK_ROWS = Counter("yizhan_bulk_rows", "Bulk import rows by outcome", ["outcome"])
STANDBY_LAG = Gauge(
    "yizhan_standby_lag_seconds",
    "The read standby's replay lag when it last answered",
    multiprocess_mode="max",
)
STANDBY_SERVING = Gauge(
    "yizhan_standby_serving", "1 while reads go to the standby, 0 while they go to the primary", multiprocess_mode="min"
)
STANDBY_FALLBACKS = Counter("yizhan_standby_fallbacks", "Reads the standby failed, answered by the primary")
KEPT_ENTRIES = Gauge(
    "yizhan_kept_answers", "Answers kept for reuse (app.compute.kept), by store", ["store"], multiprocess_mode="livesum"
)
KEPT_BYTES = Gauge(
    "yizhan_kept_bytes",
    "Estimated memory of the answers kept (app.compute.kept), by store",
    ["store"],
    multiprocess_mode="livesum",
)
REQUESTS_ABANDONED = Counter(
    "yizhan_requests_abandoned",
    "Requests whose work was stopped: over their time budget (answered 503) or their client left",
    ["reason"],  # over_budget, client_left
)
VISIT_RETENTION_RUNS = Counter(
    "yizhan_visit_retention_runs", "Scheduled runs of the raw visits' retention", ["outcome"]
)  # done, skipped (another process ran it), failed
REDIS_UNAVAILABLE = Counter("yizhan_rate_limit_redis_failures", "Rate-limit checks passed because Redis failed")


# Called before a scrape is answered: whatever records requests lazily records what it holds.
BEFORE_SCRAPE: list[Callable[[], None]] = []


def status_class(status: int) -> str:
    return f"{status // 100}xx"


class RequestMetrics:
    """Counts answered requests in REQUESTS and LATENCY, a batch at a time (app.observability.requests.Recorder)."""

    def __init__(self) -> None:
        # Metric children by labels, found once (prometheus-client's labels() takes a lock and builds a key).
        self._counted: dict[tuple[str, str, str], Any] = {}
        self._timed: dict[tuple[str, str], Any] = {}

    def count(self, answers: Iterable[tuple[str | None, str, int, float]]) -> None:
        """Count (route template or None, method, status, seconds) of each answer."""
        tally: collections.Counter[tuple[str, str, int]] = collections.Counter()
        for matched, method, status, seconds in answers:
            route = matched or "unmatched"
            tally[route, method, status] += 1
            timed = self._timed.get((route, method))
            if timed is None:
                timed = self._timed[route, method] = LATENCY.labels(route, method)
            timed.observe(seconds)
        for (route, method, status), n in tally.items():
            labels = (route, method, status_class(status))
            counted = self._counted.get(labels)
            if counted is None:
                counted = self._counted[labels] = REQUESTS.labels(*labels)
            counted.inc(n)


async def metrics(request: Request) -> Response:
    """The metrics in Prometheus' text format (all workers' with PROMETHEUS_MULTIPROC_DIR)."""
    for record_pending in BEFORE_SCRAPE:
        record_pending()
    db = getattr(request.app.state, "db", None)
    if db is not None:
        for state, value in db.reader.gauges().items():
            READ_POOL.labels(state).set(value)
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
