"""Benchmark coverage from a county to the whole country, through HTTP, in one run.

    make bench-national          # or: python -m bench.national --help

All of China loaded as `yizhan regions load --all` loads it (app.regions.loader: the 2,891 counties of seed/china
with their census figures and modelled population, their cities and provinces made from them, the root 100000) with
the generated national register (~200,000 sites by census population, as `make bench` makes it), legal aid:
1. the national table (`100000/children`: the provinces, from every county) cold, and the server process's CPU;
2. the same table warm (the register unchanged);
3. after one site moves (written from another process, this one's own connection), the table again;
4. the national table cold again (another date) while nearest is asked continuously at a few connections: its
   p50/p99 during the computation beside the same without it;
5. Shandong's counties cold (`370000/children`: its cities, from its 136 counties), beside the naive single
   statement (one ST_Union of every buffer, intersected with the province, area only) on the same data.
Targets: ≤ 60 s, ≤ 1 s, ≤ 3 s, nearest keeps answering, ≤ 2× the naive statement.
"""

import argparse
import asyncio
import datetime as dt
import random
import statistics
import threading
import time

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table

from app.database.connections import create_engine
from app.regions import loader
from bench.database import db_url, fresh_demo_database
from bench.nearest import load_register
from bench.server import Server, cpu_seconds, running

DB_NAME = "yizhan_bench_national"
COUNTRY = loader.COUNTRY["adcode"]
PORT = 8107
KIND = "legal_aid"
NEAREST_CONNECTIONS = 4
console = Console(width=150)


async def prepare(n_sites: int) -> None:
    engine = create_engine(await fresh_demo_database(DB_NAME))
    started = time.perf_counter()
    try:
        async with engine.begin() as conn:
            await loader.load(conn, loader.select_counties())
    finally:
        await engine.dispose()
    console.print(f"regions of China loaded in {time.perf_counter() - started:.0f} s")
    await load_register(n_sites, DB_NAME)


class NearestLoad:
    """Nearest asked from random points at a few connections, in a thread of its own, latencies recorded."""

    def __init__(self, base: str) -> None:
        self.base, self.latencies, self._stop = base, [], threading.Event()
        self._threads = [threading.Thread(target=self._ask) for _ in range(NEAREST_CONNECTIONS)]

    def _ask(self) -> None:
        rng = random.Random()
        with httpx.Client(base_url=self.base, timeout=60) as client:
            while not self._stop.is_set():
                lon, lat = 110 + rng.random() * 12, 22 + rng.random() * 18
                t = time.perf_counter()
                client.get("/v1/sites/nearest", params={"lat": lat, "lon": lon}).raise_for_status()
                self.latencies.append(time.perf_counter() - t)

    def __enter__(self) -> "NearestLoad":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def figures(self) -> str:
        ms = sorted(1000 * t for t in self.latencies)
        p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
        return f"{len(ms)} requests, p50 {statistics.median(ms):.0f} ms, p99 {p99:.0f} ms"


def table_seconds(client: httpx.Client, adcode: str, **params: str) -> tuple[float, int]:
    t = time.perf_counter()
    response = client.get(f"/v1/coverage/regions/{adcode}/children", params={"kind": KIND, **params})
    response.raise_for_status()
    return time.perf_counter() - t, len(response.json()["items"])


async def move_one_site() -> str:
    """Moves a legal-aid point of 济宁市任城区 by ~100 m, as another process would; the county's adcode."""
    conn = await asyncpg.connect(db_url(DB_NAME))
    adcode = "370811"
    await conn.execute(
        "UPDATE sites SET location = ST_Project(location, 100, radians(90)) "
        "WHERE id = (SELECT min(id) FROM sites WHERE kind = $1 AND region_adcode = $2)",
        KIND,
        adcode,
    )
    await conn.close()
    return adcode


async def naive_shandong() -> tuple[float, int]:
    """The naive single statement on Shandong's legal-aid points: seconds, points."""
    conn = await asyncpg.connect(db_url(DB_NAME))
    points = await conn.fetchval("SELECT count(*) FROM sites WHERE kind = $1 AND region_adcode LIKE '37%'", KIND)
    sql = """
        SELECT ST_Area(ST_Intersection(r.boundary, u.g)::geography)
        FROM regions r, (SELECT ST_Union(ST_Buffer(s.location, 7500)::geometry) AS g
                         FROM sites s WHERE s.kind = $1 AND s.region_adcode LIKE '37%') u
        WHERE r.adcode = '370000'
    """
    t = time.perf_counter()
    await conn.fetchval(sql, KIND)
    elapsed = time.perf_counter() - t
    await conn.close()
    return elapsed, int(points)


def national(client: httpx.Client, server: Server, table: Table) -> None:
    """Measures 1–4 of the module's docstring into `table`."""
    with NearestLoad(server.base) as quiet:
        time.sleep(10)
    # The server's CPU only: PostgreSQL's is every postgres process on the machine, other clusters' too.
    server_cpu = cpu_seconds(server.pid)[0]
    cold, rows = table_seconds(client, COUNTRY)
    cores = f"server process: {(cpu_seconds(server.pid)[0] - server_cpu) / cold:.2f} cores"
    table.add_row(f"national table cold ({rows} rows)", f"{cold:.1f}", "≤ 60", cores)
    warm = statistics.median(table_seconds(client, COUNTRY)[0] for _ in range(3))
    table.add_row("national table warm", f"{warm:.3f}", "≤ 1", "median of 3")
    county = asyncio.run(move_one_site())
    again, _ = table_seconds(client, COUNTRY)
    table.add_row("national table after one site moved", f"{again:.3f}", "≤ 3", f"in {county}, by SQL")
    # Cold again on another date the register stood the same on (the generated sites have no opening date).
    with NearestLoad(server.base) as during:
        loaded, _ = table_seconds(client, COUNTRY, as_of="2025-06-01")
    table.add_row(f"national table cold with nearest at {NEAREST_CONNECTIONS} connections", f"{loaded:.1f}", "",
                  "both compete for the 2 cores")  # fmt: skip
    table.add_row("  nearest meanwhile", "", "keeps answering", during.figures())
    table.add_row("  nearest alone, 10 s", "", "", quiet.figures())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=200_000)
    parser.add_argument("--shandong-runs", type=int, default=3)
    parser.add_argument("--skip-load", action="store_true", help=f"reuse the {DB_NAME} database")
    parser.add_argument("--only-shandong", action="store_true", help="measure only Shandong beside the naive statement")
    parser.add_argument("--port", type=int, default=PORT, help="the server's (another bench may hold the default)")
    args = parser.parse_args()
    if not args.skip_load:
        asyncio.run(prepare(args.sites))
    table = Table(title=f"coverage of {KIND} at every level through HTTP, all of China")
    for column in ("question", "seconds", "target", "notes"):
        table.add_column(column)
    limits_off = {"RATE_LIMIT_READS_PER_MINUTE": "1000000000", "RATE_LIMIT_COVERAGE_PER_MINUTE": "0"}
    # A country's cold table takes longer than a request's default budget of 30 s (a request past it is answered
    # 503, the rows computed so far kept for the next one).
    limits_off["REQUEST_BUDGET_S"] = "600"
    with (
        running("app.main:app", args.port, db_url(DB_NAME), **limits_off) as server,
        httpx.Client(base_url=server.base, timeout=600) as client,
    ):
        if not args.only_shandong:
            national(client, server, table)
        # Cold for each run: another date again.
        shandong = []
        for run in range(args.shandong_runs):
            seconds, _ = table_seconds(client, "370000", as_of=(dt.date(2025, 1, 1) + dt.timedelta(run)).isoformat())
            naive, points = asyncio.run(naive_shandong())
            shandong.append((seconds, naive))
        ours, naive = (statistics.median(s) for s in zip(*shandong, strict=True))
        ratio = statistics.median(s / n for s, n in shandong)
        table.add_row("Shandong's 136 counties cold (370000/children)", f"{ours:.2f}", "≤ 2× naive",
                      f"{ratio:.2f}× the naive statement (median of {args.shandong_runs} runs)")  # fmt: skip
        table.add_row(f"naive: one ST_Union of {points:,} buffers ∩ province", f"{naive:.2f}", "reference", "")
        runs = ", ".join(f"{s:.2f}/{n:.2f}" for s, n in shandong)
        table.add_row("  each run (ours/naive, s)", "", "", runs)
    console.print(table)


if __name__ == "__main__":
    main()
