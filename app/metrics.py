"""Prometheus metrics (prometheus-client), served at GET /metrics.

With several uvicorn workers, set PROMETHEUS_MULTIPROC_DIR to an empty folder shared by them (before they start):
each worker writes its figures there and /metrics adds them up, whichever worker answers the scrape.
"""

import os

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
    """Requests being answered. In one process a count read when scraped: a gauge's inc() and dec() take a lock
    each, on every request. With several workers each writes the shared gauge."""

    def __init__(self) -> None:
        self.count = 0
        if not MULTIPROCESS:
            IN_FLIGHT_GAUGE.set_function(lambda: self.count)

    def enter(self) -> None:
        if MULTIPROCESS:
            IN_FLIGHT_GAUGE.inc()
        else:
            self.count += 1

    def leave(self) -> None:
        if MULTIPROCESS:
            IN_FLIGHT_GAUGE.dec()
        else:
            self.count -= 1


IN_FLIGHT = InFlight()
READ_POOL = Gauge(
    "yizhan_read_pool_connections",
    "Read pool connections: its size, those in use, requests waiting for one",
    ["state"],
    multiprocess_mode="livesum",
)
DATABASE_ERRORS = Counter(
    "yizhan_database_errors", "Database failures answered as errors", ["kind"]
)  # unreachable (503), data (422), constraint (409/422)
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
REDIS_UNAVAILABLE = Counter("yizhan_rate_limit_redis_failures", "Rate-limit checks passed because Redis failed")


def status_class(status: int) -> str:
    return f"{status // 100}xx"


async def metrics(request: Request) -> Response:
    """The metrics in Prometheus' text format (all workers' with PROMETHEUS_MULTIPROC_DIR)."""
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
