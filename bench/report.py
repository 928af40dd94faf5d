"""Benchmark the monthly report of a city: Binzhou (7 counties), the report of the last month ended with its twelve
months of progress, as PDF and as XLSX, through HTTP on a server of its own.

    make bench-report           # or: python -m bench.report

Cold: the first report after the server started (no coverage answer kept: twelve month-ends of seven counties
computed); after a correction: the register changed (a site added), so every kept answer is stale again (the XLSX
after one is the gathering alone, nearly: its file takes milliseconds); warm: the same report asked again (median of
5). The limit is 3 s (issue 23); each figure is printed with its ratio to it, and the load average beside: on a
machine shared with other work the seconds stretch with it.
"""

import asyncio
import datetime as dt
import os
import statistics
import time

import httpx
from rich.console import Console
from rich.table import Table

from app import china_time
from app.database.connections import create_engine
from app.keys import service as keys
from bench.database import db_url, fresh_demo_database
from bench.server import running

DB_NAME = "yizhan_bench_report"
PORT = 8107
CITY = "371600"
LIMIT_S = 3.0
console = Console()


async def _keys(name: str) -> tuple[str, str]:
    settings = await fresh_demo_database(name)
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            return (
                await keys.create(conn, "bench planner", ["plan"], None),
                await keys.create(conn, "bench register", ["write"], None),
            )
    finally:
        await engine.dispose()


def last_ended_month() -> str:
    first = china_time.today().replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


def timed(http: httpx.Client, path: str, **params: str) -> tuple[float, int]:
    started = time.perf_counter()
    r = http.get(path, params=params)
    elapsed = time.perf_counter() - started
    r.raise_for_status()
    return elapsed, len(r.content)


def main() -> None:
    plan, write = asyncio.run(_keys(DB_NAME))
    month = last_ended_month()
    due = (china_time.today() + dt.timedelta(days=365)).isoformat()
    rows: list[tuple[str, float, int]] = []
    with (
        running("app.main:app", PORT, db_url(DB_NAME)) as server,
        httpx.Client(base_url=server.base, timeout=120) as http,
    ):
        children = http.get(f"/v1/regions?parent={CITY}").json()["items"]
        for region in [CITY, *(c["adcode"] for c in children)]:
            body = {"region": region, "kind": "legal_aid", "measure": "area_share", "value": 0.95, "due_on": due}
            http.post("/v1/targets", json=body, headers={"X-API-Key": plan}).raise_for_status()
        report = {"kind": "legal_aid", "month": month}
        seconds, size = timed(http, f"/v1/progress/{CITY}/report", **report, f="pdf")
        rows.append(("PDF, cold (nothing kept)", seconds, size))
        for n, answer_in in enumerate(("pdf", "xlsx")):
            # A correction of the register: every answer kept for the kind is stale.
            site = {"kind": "legal_aid", "name": f"基准测试法律援助站{n}", "lat": 37.38, "lon": 117.97 + n / 100}
            added = http.post("/v1/sites", json={**site, "opened_on": "2026-01-15"}, headers={"X-API-Key": write})
            added.raise_for_status()
            seconds, size = timed(http, f"/v1/progress/{CITY}/report", **report, f=answer_in)
            rows.append((f"{answer_in.upper()}, after a correction of the register", seconds, size))
        warm = [timed(http, f"/v1/progress/{CITY}/report", **report, f="pdf") for _ in range(5)]
        rows.append(("PDF, warm (median of 5)", statistics.median(s for s, _ in warm), warm[0][1]))
        warm = [timed(http, f"/v1/progress/{CITY}/report", **report, f="xlsx") for _ in range(5)]
        rows.append(("XLSX, warm (median of 5)", statistics.median(s for s, _ in warm), warm[0][1]))
        seconds, size = timed(http, f"/v1/progress/{CITY}/report", **report, f="xlsx", lang="en")
        rows.append(("XLSX, English", seconds, size))
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    title = f"Monthly report of {CITY} (7 counties), {month}, 12 months of progress; limit {LIMIT_S} s"
    table = Table(title=f"{title}\n(load average at the end: {load}, on {os.cpu_count()} cores)")
    for column in ("report", "seconds", "ratio to the limit", "bytes"):
        table.add_column(column)
    for name, seconds, size in rows:
        table.add_row(name, f"{seconds:.2f}", f"{seconds / LIMIT_S:.2f}", f"{size:,}")
    console.print(table)


if __name__ == "__main__":
    main()
