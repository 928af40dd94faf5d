"""GET /metrics: Prometheus text that promtool accepts, labelled by route template, and counts that add up
across several uvicorn workers (multiprocess mode)."""

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings
from app.keys import service as keys
from tests.tools import start_server


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        found = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if found and all(f'{k}="{v}"' in found.group(1) for k, v in labels.items()):
            total += float(found.group(2))
    return total


async def test_promtool_accepts_the_metrics(client: httpx.AsyncClient) -> None:
    await client.get("/v1/sites/nearest", params={"lat": 37.38, "lon": 117.97})
    body = (await client.get("/metrics")).text
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: Debian's prometheus package (.ci/run installs it)"
    checked = await asyncio.to_thread(
        subprocess.run, [promtool, "check", "metrics"], input=body, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_requests_are_counted_by_route_template(
    client: httpx.AsyncClient, conn: asyncpg.Connection, sa_conn: AsyncConnection
) -> None:
    site = await conn.fetchval("SELECT max(id) FROM sites")
    before = (await client.get("/metrics")).text
    for _ in range(3):
        await client.get(f"/v1/sites/{site}")
    await client.get("/v1/sites/999999999")
    after = (await client.get("/metrics")).text
    route = "/v1/sites/{site_id}"
    name = "yizhan_http_requests_total"
    assert sample(after, name, route=route, status="2xx") - sample(before, name, route=route, status="2xx") == 3
    assert sample(after, name, route=route, status="4xx") - sample(before, name, route=route, status="4xx") == 1
    assert f'/v1/sites/{site}"' not in after  # never the raw path
    assert sample(after, "yizhan_read_pool_connections", state="size") >= 1  # the pool's minimum, and present
    key = await keys.create(sa_conn, "计数", ["write"], None)
    rows = [{"external_id": "M-1", "kind": "legal_aid", "name": "计数站", "lat": 37.4, "lon": 118.0}]
    await client.post("/v1/sites/bulk", json=rows, headers={"Authorization": f"Bearer {key}"})
    bulk = (await client.get("/metrics")).text
    assert (
        sample(bulk, "yizhan_bulk_rows_total", outcome="created")
        - sample(after, "yizhan_bulk_rows_total", outcome="created")
        == 1
    )


def test_two_workers_add_up(settings: Settings) -> None:
    with tempfile.TemporaryDirectory(prefix="yizhan-metrics-") as folder:
        server, base = start_server(
            settings, "--workers", "2", PROMETHEUS_MULTIPROC_DIR=folder, RATE_LIMIT_READS_PER_MINUTE="0"
        )
        try:
            time.sleep(1)  # both workers up
            for _ in range(40):  # a connection each, so that both workers answer
                with httpx.Client(base_url=base) as http:
                    assert http.get("/v1/vocabularies").status_code == 200
            # The worker that answers the scrape counts what it has answered; the other's figures are at most
            # Settings.request_record_seconds old.
            for _ in range(50):
                text = httpx.get(f"{base}/metrics").text
                if sample(text, "yizhan_http_requests_total", route="/v1/vocabularies") >= 40:
                    break
                time.sleep(settings.request_record_seconds)
            assert sample(text, "yizhan_http_requests_total", route="/v1/vocabularies") == 40
            counting = {m.group(1) for f in os.listdir(folder) if (m := re.match(r"counter_(\d+)\.db$", f))}
            # Both workers counted (and the scrape added their figures up); uvicorn's supervisor answers nothing.
            children = set(Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split())
            assert len(children & counting) == 2, (children, counting)
        finally:
            server.terminate()
            server.wait(20)
