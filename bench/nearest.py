"""Benchmark GET /v1/sites/nearest against a minimal asyncpg reference, in one run on one machine.

    make bench                      # or: python -m bench.nearest --sites 200000 --duration 20

Loads a national-scale register (generated, ~200k sites over China by census population, plus the Binzhou demo
data) into its own database `yizhan_bench`, serves the real app and bench/reference_app.py with the same uvicorn
settings, drives each with wrk (32 connections, random points) and prints requests/s, p50, p99 and the ratios.
Needs wrk (Debian package `wrk`) and the reference data in ../shared/data (YIZHAN_SHARED_DATA to override).
"""

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import asyncpg
from alembic import command
from pydantic import PostgresDsn
from rich.console import Console
from rich.table import Table

from app import demo, geo
from app.cli import alembic_config
from app.config import Settings
from app.db import create_engine
from bench import national_register
from bench.server import Server, cpu_seconds, running

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("YIZHAN_SHARED_DATA", ROOT.parent / "shared" / "data"))
ADMIN_URL = os.environ.get("BENCH_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:54329/postgres")
DB_NAME = "yizhan_bench"
console = Console(width=150)


def db_url(name: str) -> str:
    return ADMIN_URL.rpartition("/")[0] + "/" + name


async def prepare(n_sites: int) -> int:
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    await admin.execute(f"CREATE DATABASE {DB_NAME}")
    await admin.close()
    settings = Settings(database_url=PostgresDsn(db_url(DB_NAME)))
    await asyncio.to_thread(command.upgrade, alembic_config(settings), "head")
    engine = create_engine(settings)
    await demo.load(engine)
    await engine.dispose()
    started = time.perf_counter()
    # Each with its GCJ-02 twin, as the service's own write paths store it (Site.gcj02_lon).
    rows = [
        (*row, *geo.from_wgs84(row[2], row[3], geo.CoordSys.gcj02))
        for row in national_register.generate_full(SHARED, n_sites)
    ]
    conn = await asyncpg.connect(db_url(DB_NAME))
    # Binary COPY has no geography encoder: stage lon/lat, then build the points in SQL.
    await conn.execute(
        "CREATE TEMP TABLE staged (kind text, name text, lon float8, lat float8, amenities text[], "
        "opening_hours text, verified_days_ago int, gcj02_lon float8, gcj02_lat float8)"
    )
    await conn.copy_records_to_table("staged", records=rows)
    await conn.execute(
        "INSERT INTO sites (kind, name, location, gcj02_lon, gcj02_lat, amenities, source, external_id, "
        "opening_hours, last_verified_at, verified_by) "
        "SELECT kind, name, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography, gcj02_lon, gcj02_lat, amenities, "
        "'bench-national', name, opening_hours, now() - make_interval(days => verified_days_ago), 'inspection' "
        "FROM staged"
    )
    await conn.execute("VACUUM ANALYZE sites")
    total = await conn.fetchval("SELECT count(*) FROM sites")
    await conn.close()
    console.print(f"loaded {len(rows):,} generated sites (+447 Binzhou) in {time.perf_counter() - started:.1f} s")
    return int(total)


def parse_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url_template: str, server: Server, seconds: int, connections: int) -> dict[str, float]:
    """Requests/s, p50, p99, non-2xx, and CPU µs per request of the server and of PostgreSQL."""
    env = {**os.environ, "PATH_TEMPLATE": url_template}
    script = str(Path(__file__).with_name("random_points.lua"))
    # Warm-up: fill caches and pools so the measured run sees a steady state.
    subprocess.run(
        ["wrk", "-t2", f"-c{connections}", "-d3s", "-s", script, server.base],
        env=env,
        capture_output=True,
        check=True,
    )
    server_before, database_before = cpu_seconds(server.pid)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, server.base],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    server_after, database_after = cpu_seconds(server.pid)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "server_cpu_us": (server_after - server_before) * 1e6 / requests,
        "database_cpu_us": (database_after - database_before) * 1e6 / requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": parse_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "p99": parse_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "errors": float(non_2xx.group(1)) if non_2xx else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=200_000)
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk run (≥ 20 for the record)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers, the same for both servers")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternate real/reference this many times; the best run of each counts"
    )
    parser.add_argument("--skip-load", action="store_true", help="reuse the yizhan_bench database")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    total = asyncio.run(prepare(args.sites)) if not args.skip_load else None
    if total:
        console.print(f"register: {total:,} sites")
    real_port, ref_port = 8101, 8102
    # wrk is one client address at thousands of requests a second: a limit it never reaches keeps the limiter's
    # cost in the measurement without turning answers into 429s.
    database = db_url(DB_NAME)
    # Trust ranking is always on; open_now filters by each site's hours at the moment of the request.
    variants = {
        "real": "/v1/sites/nearest?lat=%f&lon=%f",
        "real, open_now=true": "/v1/sites/nearest?lat=%f&lon=%f&open_now=true",
        "reference": "/nearest?lat=%f&lon=%f",
    }
    results: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    with (
        running(
            "app.main:app", real_port, database, workers=args.workers, RATE_LIMIT_READS_PER_MINUTE="1000000000"
        ) as real,
        running("bench.reference_app:app", ref_port, database, factory=False, workers=args.workers) as reference,
    ):
        for _ in range(args.rounds):
            for name, template in variants.items():
                server = reference if name == "reference" else real
                results[name].append(wrk(template, server, args.duration, args.connections))

    def best(name: str) -> dict[str, float]:
        return max(results[name], key=lambda r: r["rps"])

    def cpu_us(name: str) -> tuple[float, float]:
        """Median over the rounds: CPU per request barely moves when the machine's speed does."""
        runs = results[name]
        return (
            statistics.median(r["server_cpu_us"] for r in runs),
            statistics.median(r["database_cpu_us"] for r in runs),
        )

    ref, ref_cpu = best("reference"), sum(cpu_us("reference"))
    table = Table(title=f"GET nearest, {args.connections} connections, {args.duration} s, {args.workers} worker(s)")
    columns = ("server", "requests/s", "p50 ms", "p99 ms", "non-2xx", "ratio to reference")
    for column in (*columns, "CPU µs/request, server + PostgreSQL", "CPU ratio"):
        table.add_column(column, justify="right")
    for name in variants:
        r = best(name)
        server_us, database_us = cpu_us(name)
        table.add_row(
            name,
            f"{r['rps']:.0f}",
            f"{r['p50']:.2f}",
            f"{r['p99']:.2f}",
            f"{r['errors']:.0f}",
            f"{r['rps'] / ref['rps']:.2f}x",
            f"{server_us:.0f} + {database_us:.0f}",
            f"{ref_cpu / (server_us + database_us):.2f}x",
        )
    console.print(table)
    console.print("targets: ratio >= 0.90x, p99 <= 25 ms")
    console.print("CPU ratio: the reference's CPU per request over this one's (medians over the rounds)")


if __name__ == "__main__":
    main()
