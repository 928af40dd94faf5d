"""No request stalls the service: CPU-heavy work runs in worker processes, each request has a time budget (503 with
Retry-After past it), and work stops when the client leaves. Against `yizhan serve` in a process of its own."""

import asyncio
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import numpy as np
import pytest

from app.config import Settings
from app.database.connections import create_engine
from app.keys import service as keys
from tests.tools import start_server

pytestmark = pytest.mark.alone  # light requests timed beside the heaviest

BUDGET_S = 3.0
# The heaviest question of each kind: a what-if tile of counties asking five sites within 100 km of every place (refused
# at once: too many overlaps), a province's tile and a city's coverage with cross coverage at 35 km (seconds of
# overlays), siting with 10,000 given candidates, and a bulk import of 150,000 rows (below).
rng = np.random.default_rng(7)
CANDIDATES = {
    "type": "FeatureCollection",
    "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [lon, lat]}}
        for lon, lat in zip(rng.uniform(117.3, 118.3, 10_000), rng.uniform(36.9, 38.1, 10_000), strict=True)
    ],
}
HEAVY: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "what-if tile of 滨州市's counties": (
        "GET",
        "/v1/tiles/regions/7/105/49.mvt?kind=outdoor_station&min_sites=5&radius_m=99999.31",
        None,
    ),
    "what-if tile over Shandong, cross coverage at 35 km": (
        "GET",
        "/v1/tiles/regions/5/26/12.mvt?kind=legal_aid&min_sites=2&radius_m=35001",
        None,
    ),
    "city cross coverage at 35 km": (
        "GET",
        "/v1/coverage/regions/371600?kind=legal_aid&min_sites=2&radius_m=35000",
        None,
    ),
    "siting, 10,000 candidates": (
        "POST",
        "/v1/coverage/suggest",
        {"region": "371600", "kind": "outdoor_station", "count": 50, "candidates": CANDIDATES},
    ),
}


def _large_csv(rows: int) -> bytes:
    """A county register of `rows` sites as a partner uploads it: every row valid."""
    lines = ["external_id,name,kind,lat,lon,opening_hours"]
    for i in range(rows):
        lat, lon = 37.3 + (i % 997) * 1e-4, 117.9 + (i // 997) * 1e-4
        lines.append(f"load-{i},压力测试驿站{i},outdoor_station,{lat:.6f},{lon:.6f},Mo-Su 08:00-20:00")
    return "\n".join(lines).encode()


LIGHT = ["/healthz", "/v1/sites/nearest?lat=37.38&lon=117.97&kind=legal_aid&limit=3"]


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    limits = {f"RATE_LIMIT_{what}_PER_MINUTE": "0" for what in ("READS", "WRITES", "COVERAGE")}
    process, base = start_server(settings, REQUEST_BUDGET_S=str(BUDGET_S), IMPORT_BUDGET_S=str(BUDGET_S), **limits)
    try:
        yield process, base
    finally:
        process.terminate()
        process.wait(30)


@pytest.fixture(scope="module")
def write_key(settings: Settings) -> Iterator[str]:
    async def create() -> str:
        engine = create_engine(settings)
        try:
            async with engine.begin() as conn:
                return await keys.create(conn, "负载", ["write"], None)
        finally:
            await engine.dispose()

    yield asyncio.run(create())


def _light_latencies(base: str, until: threading.Event) -> list[float]:
    """Seconds each light request took, asked in turn every 20 ms until `until` is set."""
    took: list[float] = []
    with httpx.Client(base_url=base, timeout=30) as http:
        while not until.is_set():
            for path in LIGHT:
                started = time.perf_counter()
                assert http.get(path).status_code == 200
                took.append(time.perf_counter() - started)
            time.sleep(0.02)
    return took


BULK = {"bulk import, 150,000 CSV rows": 150_000, "bulk import, 10,000 CSV rows (within the budget)": 10_000}


@pytest.mark.parametrize("name", [*HEAVY, *BULK])
def test_light_requests_are_answered_while_the_heaviest_runs_and_it_ends_within_its_budget(
    server: tuple[subprocess.Popen[bytes], str], write_key: str, name: str
) -> None:
    _, base = server
    if name in HEAVY:
        method, path, body = HEAVY[name]
        request = {"json": body}
    else:
        method, path = "POST", "/v1/sites/bulk?source=load-test&dry_run=true"
        headers = {"Authorization": f"Bearer {write_key}", "Content-Type": "text/csv; charset=utf-8"}
        request = {"content": _large_csv(BULK[name]), "headers": headers}
    # The same light requests on the idle server just before, as the machine is now: the bounds below are the
    # larger of a fixed one and a multiple of this, so a machine busy with other work does not fail the test while
    # an event loop held for a CPU-heavy step (seconds) still does.
    idle_done = threading.Event()
    threading.Timer(1.0, idle_done.set).start()
    idle = _light_latencies(base, idle_done)
    idle_p99, idle_slowest = float(np.percentile(idle, 99)), max(idle)
    done = threading.Event()
    latencies: list[float] = []
    poller = threading.Thread(target=lambda: latencies.extend(_light_latencies(base, done)))
    poller.start()
    try:
        time.sleep(0.2)
        started = time.perf_counter()
        answer = httpx.request(method, base + path, timeout=60, **request)
        took = time.perf_counter() - started
    finally:
        done.set()
        poller.join()
    print(f"{name}: {answer.status_code} in {took:.1f} s")
    assert took <= BUDGET_S + 1.5, f"{name} took {took:.1f} s"
    assert answer.status_code in (200, 204, 422, 503), answer.text
    if answer.status_code == 503:
        assert answer.headers["content-type"] == "application/problem+json"
        assert int(answer.headers["retry-after"]) >= 1
        assert answer.json()["type"] == "/problems/over-budget"
    assert len(latencies) >= 10
    p99 = float(np.percentile(latencies, 99))
    print(
        f"  light requests: {len(latencies)}, p99 {p99 * 1000:.0f} ms, slowest {max(latencies) * 1000:.0f} ms "
        f"(idle: p99 {idle_p99 * 1000:.0f} ms, slowest {idle_slowest * 1000:.0f} ms)"
    )
    assert p99 <= max(0.1, 5 * idle_p99), f"light requests' p99 {p99 * 1000:.0f} ms while {name} ran"
    # A stall of the loop shows in one or two answers only, which the p99 of a few hundred leaves out.
    slowest_allowed = max(0.25, 5 * idle_slowest)
    assert max(latencies) <= slowest_allowed, f"a light request took {max(latencies) * 1000:.0f} ms while {name} ran"


def _cpu_seconds(pid: int) -> float:
    """CPU time of a process and all its descendants (the worker processes), from /proc."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if _descends_from(int(entry.name), pid):
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def _descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            pid = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            return False
    return False


def _active_queries(settings: Settings) -> list[str]:
    """The service's queries running in PostgreSQL now: how long each has run, what it waits for, its text."""
    sql = """
        SELECT coalesce(array_agg(format('%s s, waiting for %s: %s', round(extract(epoch FROM now() - query_start)),
                                         coalesce(wait_event_type || '/' || wait_event, 'nothing'), left(query, 500))),
                        '{}')
        FROM pg_stat_activity WHERE application_name = 'yizhan' AND state = 'active'"""
    return list(asyncio.run(_fetchval(str(settings.database_url), sql)))


async def _fetchval(dsn: str, sql: str) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def _answered(base: str, route: str, status_class: str) -> float:
    """How many requests to `route` (POST) were answered with a status of the class, by /metrics."""
    line = f'yizhan_http_requests_total{{method="POST",route="{route}",status="{status_class}"}} '
    found = [row for row in httpx.get(base + "/metrics").text.splitlines() if row.startswith(line)]
    return float(found[0].removeprefix(line)) if found else 0.0


def test_work_stops_when_the_client_leaves(
    server: tuple[subprocess.Popen[bytes], str], settings: Settings, write_key: str
) -> None:
    process, base = server
    route = "/v1/sites/bulk"
    failed_before, refused_before = _answered(base, route, "5xx"), _answered(base, route, "4xx")
    headers = {"Authorization": f"Bearer {write_key}", "Content-Type": "text/csv; charset=utf-8"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{base}{route}?source=load-test&dry_run=true",
            content=_large_csv(150_000),
            headers=headers,
            timeout=httpx.Timeout(30, read=1.0),
        )
    # The worker that ran the import is terminated and a fresh one started in its place (app.compute.offload): the
    # window opens once that start-up is over.
    time.sleep(1.5)
    before = _cpu_seconds(process.pid)
    time.sleep(1.0)
    spent = _cpu_seconds(process.pid) - before
    assert spent < 0.2, f"the server and its workers spent {spent:.2f} s of CPU after the client left"
    assert not (active := _active_queries(settings)), active
    metrics = httpx.get(base + "/metrics").text
    assert 'yizhan_requests_abandoned_total{reason="client_left"}' in metrics
    # Counted as the client's leaving (499), not as the server's failure.
    assert _answered(base, route, "5xx") == failed_before
    assert _answered(base, route, "4xx") == refused_before + 1


@pytest.mark.parametrize(
    "query",
    [
        "kind=outdoor_station&min_sites=2&radius_m=40001",
        "kind=outdoor_station&min_sites=5&radius_m=99999",
        "kind=legal_aid&min_sites=3&radius_m=60000",
    ],
)
def test_cross_coverage_over_too_many_overlaps_is_refused_at_once(
    server: tuple[subprocess.Popen[bytes], str], query: str
) -> None:
    _, base = server
    started = time.perf_counter()
    answer = httpx.get(f"{base}/v1/coverage/regions/371602?{query}", timeout=60)
    assert time.perf_counter() - started < BUDGET_S
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == ["min_sites"]


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", "/v1/coverage/suggest", {}),
        ("POST", "/v1/sites/1/reports", {"Content-Length": "0"}),
        ("PATCH", "/v1/reports/1", {}),
        ("DELETE", "/v1/sites/1", {}),
    ],
)
def test_a_request_without_a_body_is_answered(
    server: tuple[subprocess.Popen[bytes], str], method: str, path: str, headers: dict[str, str]
) -> None:
    _, base = server
    answer = httpx.request(method, base + path, headers=headers, timeout=5)
    assert 400 <= answer.status_code < 500
    assert answer.headers["content-type"] == "application/problem+json"
