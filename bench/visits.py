"""Benchmark the station in use: POST /v1/visits beside GET nearest in the same run, then usage questions over a
year of generated visits.

    make bench-visits        # or: python -m bench.visits --sites 200000 --visits 50000000 --duration 20

1. Loads the generated national register (as bench/nearest.py) into its own database `yizhan_bench_visits`, gives
   every site a door token, serves the app with 1 worker and drives it with wrk (32 connections): visits at random
   doors from random new clients, and the plain nearest query, round by round in turn. Prints requests/s, p50, p99,
   the ratio of visits to nearest within each round, and whether anything was lost: the visits the database counted
   against the 201 answers wrk saw (a request in flight when wrk stops is counted by the server but not seen by wrk:
   at most one per connection).
2. Generates `--visits` raw visits over the last 12 months at the Binzhou sites and the generated sites in Shandong's
   box (a large province), with their daily counts, and times a city's usage table for a month
   (GET /v1/coverage/regions/371600/usage) and one site's daily series for a year (GET /v1/sites/{id}/usage), each
   asked repeatedly; prints the database's size.
Needs wrk (Debian package `wrk`).
"""

import argparse
import asyncio
import datetime as dt
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
from alembic import command
from pydantic import PostgresDsn
from rich.console import Console
from rich.table import Table

from app.cli import alembic_config
from app.config import Settings
from bench.database import db_url
from bench.nearest import UNLIMITED_READS, parse_ms, prepare
from bench.server import Server, cpu_seconds, running

DB_NAME = "yizhan_bench_visits"
console = Console(width=150)
SHANDONG_BOX = (114.8, 34.4, 122.7, 38.4)
GROUPS = (
    "ARRAY['sanitation', 'courier', 'delivery_rider', 'taxi_driver', 'truck_driver', 'traffic_auxiliary', "
    "'construction', 'other', NULL]"
)
# A year of visits, generated a window of days per statement: a month's share keeps each transaction and its sort
# moderate.
DAYS = 365
WINDOW_DAYS = 31


async def give_doors(database: str) -> list[str]:
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(
            "INSERT INTO site_door_tokens (site_id, token) "
            "SELECT id, substr(replace(gen_random_uuid()::text, '-', ''), 1, 22) FROM sites "
            "WHERE deleted_at IS NULL ON CONFLICT (site_id) DO NOTHING"
        )
        tokens = [r["token"] for r in await conn.fetch("SELECT token FROM site_door_tokens")]
    finally:
        await conn.close()
    return tokens


def wrk(server: Server, seconds: int, connections: int, script: str, **env: str) -> dict[str, float]:
    """Requests/s, p50, p99, non-2xx, visits counted (201) and CPU µs a request of server and PostgreSQL."""
    path = str(Path(__file__).with_name(script))
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", path, server.base]
    environment = {**os.environ, **env}
    server_before, database_before = cpu_seconds(server.pid)
    out = subprocess.run(command, env=environment, capture_output=True, text=True, check=True).stdout
    server_after, database_after = cpu_seconds(server.pid)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    counted = re.search(r"counted: (\d+)", out)
    return {
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": parse_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "p99": parse_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "errors": float(non_2xx.group(1)) if non_2xx else 0.0,
        "counted": float(counted.group(1)) if counted else 0.0,
        "cpu_us": ((server_after - server_before) + (database_after - database_before)) * 1e6 / requests,
    }


async def raw_visits(database: str) -> int:
    conn = await asyncpg.connect(database)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM site_visits"))
    finally:
        await conn.close()


def throughput(database: str, tokens_file: Path, args: argparse.Namespace) -> None:
    results: dict[str, list[dict[str, float]]] = {"visits": [], "nearest": []}
    lost: list[tuple[float, float]] = []
    with running(
        "app.main:app",
        8111,
        database,
        workers=1,
        RATE_LIMIT_READS_PER_MINUTE=UNLIMITED_READS,
        RATE_LIMIT_WRITES_PER_MINUTE=UNLIMITED_READS,
    ) as server:
        visits_env = {"TOKENS_FILE": str(tokens_file)}
        nearest_env = {"PATH_TEMPLATE": "/v1/sites/nearest?lat=%f&lon=%f"}
        # Warm both paths (pools, prepared statements, partitions, the day's salt).
        wrk(server, 3, args.connections, "random_visits.lua", **visits_env)
        wrk(server, 3, args.connections, "random_points.lua", **nearest_env)
        for round_ in range(args.rounds):
            order = ["visits", "nearest"] if round_ % 2 == 0 else ["nearest", "visits"]
            for name in order:
                if name == "visits":
                    before = asyncio.run(raw_visits(database))
                    run = wrk(server, args.duration, args.connections, "random_visits.lua", **visits_env)
                    time.sleep(1)  # let the requests in flight when wrk stopped finish
                    lost.append((asyncio.run(raw_visits(database)) - before, run["counted"]))
                else:
                    run = wrk(server, args.duration, args.connections, "random_points.lua", **nearest_env)
                results[name].append(run)
    table = Table(title=f"{args.connections} connections, {args.duration} s × {args.rounds} rounds, 1 worker")
    for column in ("request", "requests/s", "p50 ms", "p99 ms", "non-2xx", "CPU µs/req (server + PostgreSQL)"):
        table.add_column(column, justify="right")
    for name, runs in results.items():
        table.add_row(
            name,
            f"{statistics.median(r['rps'] for r in runs):.0f}",
            f"{statistics.median(r['p50'] for r in runs):.2f}",
            f"{statistics.median(r['p99'] for r in runs):.2f}",
            f"{sum(r['errors'] for r in runs):.0f}",
            f"{statistics.median(r['cpu_us'] for r in runs):.0f}",
        )
    console.print(table)
    ratios = sorted(v["rps"] / n["rps"] for v, n in zip(results["visits"], results["nearest"], strict=True))
    console.print(
        f"visits / nearest requests/s, per round: median {statistics.median(ratios):.2f}x "
        f"({ratios[0]:.2f}–{ratios[-1]:.2f}); targets: visits >= 1,500 req/s, p99 <= 50 ms"
    )
    for stored, seen in lost:
        console.print(
            f"counted in the database {stored:,.0f}, 201 answers seen by wrk {seen:,.0f}: "
            f"{'nothing lost' if stored >= seen else 'LOST ' + str(seen - stored)}"
            f" ({stored - seen:,.0f} answered after wrk stopped; at most {args.connections})"
        )


async def generate(database: str, visits: int) -> None:
    """`visits` raw visits over the 12 months before today at Binzhou's sites and Shandong's generated ones, each
    between 06:00 and 22:00, from new clients; their daily counts as the service keeps them."""
    conn = await asyncpg.connect(database)
    try:
        await conn.execute("SET synchronous_commit = off")
        ids = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM sites WHERE deleted_at IS NULL AND (region_adcode LIKE '3716%' OR "
                "location && ST_MakeEnvelope($1, $2, $3, $4, 4326)::geography)",
                *SHANDONG_BOX,
            )
        ]
        today = dt.date.today()
        first = today - dt.timedelta(days=DAYS)
        for month in range(14):
            at = dt.datetime.combine(first, dt.time(), dt.UTC) + dt.timedelta(days=31 * month)
            await conn.execute("SELECT site_visits_make_partitions($1)", at)
        console.print(f"generating {visits:,} visits at {len(ids):,} sites over {first} – {today}")
        started = time.perf_counter()
        done = 0
        # A window of days at a time, its visits written in the primary key's order: each partition's index then
        # grows at its right edge instead of taking random pages (50 M visits in random order wrote the index's
        # pages over and over once it outgrew shared_buffers).
        for window in range(0, DAYS, WINDOW_DAYS):
            days = min(WINDOW_DAYS, DAYS - window)
            n = round(visits * (window + days) / DAYS) - done
            await conn.execute(
                f"""
                INSERT INTO site_visits (site_id, hour, client, worker_group)
                SELECT * FROM (
                    SELECT ($1::bigint[])[1 + floor(random() * cardinality($1::bigint[]))::int] AS site_id,
                           ($2::date + floor(random() * $3)::int
                               + make_interval(hours => 6 + floor(random() * 16)::int)) AT TIME ZONE 'Asia/Shanghai'
                               AS hour,
                           uuid_send(gen_random_uuid()) AS client,
                           ({GROUPS})[1 + floor(random() * 9)::int] AS worker_group
                    FROM generate_series(1, $4)
                ) generated
                ORDER BY site_id, hour, client
                ON CONFLICT DO NOTHING
                """,
                ids,
                first + dt.timedelta(days=window),
                days,
                n,
            )
            done += n
            console.print(f"  {done:,} raw visits ({time.perf_counter() - started:.0f} s)")
        await conn.execute("TRUNCATE site_visit_days")
        await conn.execute(
            "INSERT INTO site_visit_days (site_id, day, worker_group, visits) "
            "SELECT site_id, (hour AT TIME ZONE 'Asia/Shanghai')::date, worker_group, count(*) FROM site_visits "
            "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        )
        await conn.execute("VACUUM ANALYZE site_visits")
        await conn.execute("VACUUM ANALYZE site_visit_days")
        console.print(f"generated and rolled up in {time.perf_counter() - started:.0f} s")
    finally:
        await conn.close()


async def sizes(database: str) -> dict[str, str]:
    conn = await asyncpg.connect(database)
    try:
        row = await conn.fetchrow(
            """
            SELECT (SELECT count(*) FROM site_visits) AS raw,
                   (SELECT count(*) FROM site_visit_days) AS daily,
                   pg_size_pretty((SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits
                                   WHERE inhparent = 'site_visits'::regclass)) AS raw_size,
                   pg_size_pretty(pg_total_relation_size('site_visit_days')) AS daily_size,
                   pg_size_pretty(pg_database_size(current_database())) AS database_size
            """
        )
        busiest = await conn.fetchval(
            "SELECT site_id FROM site_visit_days GROUP BY 1 ORDER BY sum(visits) DESC LIMIT 1"
        )
    finally:
        await conn.close()
    return {**dict(row), "busiest": busiest}


def timed(client: httpx.Client, url: str, params: dict[str, str], times: int) -> list[float]:
    client.get(url, params=params).raise_for_status()  # warm
    found = []
    for _ in range(times):
        started = time.perf_counter()
        client.get(url, params=params).raise_for_status()
        found.append((time.perf_counter() - started) * 1000)
    return found


def usage_questions(database: str, site_id: int, times: int) -> None:
    today = dt.date.today()
    month_start = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    month_end = today.replace(day=1) - dt.timedelta(days=1)
    with (
        running(
            "app.main:app",
            8112,
            database,
            workers=1,
            RATE_LIMIT_COVERAGE_PER_MINUTE=UNLIMITED_READS,
            RATE_LIMIT_READS_PER_MINUTE=UNLIMITED_READS,
        ) as server,  # fmt: skip
        httpx.Client(base_url=server.base, timeout=60) as client,
    ):
        city_sites = client.get(
            "/v1/coverage/regions/371600/usage", params={"from": month_start.isoformat(), "to": month_end.isoformat()}
        ).json()["site_count"]
        city = timed(
            client,
            "/v1/coverage/regions/371600/usage",
            {"from": month_start.isoformat(), "to": month_end.isoformat()},
            times,
        )
        series = timed(
            client,
            f"/v1/sites/{site_id}/usage",
            {"from": (today - dt.timedelta(days=364)).isoformat(), "to": today.isoformat(), "by": "day"},
            times,
        )
    for name, found, limit in (
        (f"Binzhou's usage table for {month_start:%Y-%m} ({city_sites:,} sites)", city, 300),
        (f"site {site_id}'s daily series for a year", series, 50),
    ):
        console.print(
            f"{name}: median {statistics.median(found):.1f} ms, max {max(found):.1f} ms over {times} "
            f"(limit {limit} ms: {statistics.median(found) / limit:.2f}x of it)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=200_000)
    parser.add_argument("--visits", type=int, default=50_000_000, help="generated raw visits (a year)")
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--times", type=int, default=20, help="how often each usage question is asked")
    parser.add_argument("--skip-load", action="store_true", help="reuse the database (its register and visits)")
    parser.add_argument("--reuse-register", action="store_true", help="reuse the database's register, generate visits")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    database = db_url(DB_NAME)
    with tempfile.TemporaryDirectory() as folder:
        tokens_file = Path(folder) / "tokens.txt"
        if not args.skip_load and not args.reuse_register:
            console.print(f"register: {asyncio.run(prepare(args.sites, DB_NAME)):,} sites")
        else:  # a database kept from an earlier run: brought to this checkout's schema
            command.upgrade(alembic_config(Settings(database_url=PostgresDsn(database))), "head")
        tokens = asyncio.run(give_doors(database))
        tokens_file.write_text("\n".join(tokens) + "\n")
        console.print(f"door tokens: {len(tokens):,}")
        if not args.skip_throughput:
            throughput(database, tokens_file, args)
    if not args.skip_load and args.visits:
        asyncio.run(generate(database, args.visits))
    found = asyncio.run(sizes(database))
    console.print(
        f"raw visits {found['raw']:,} ({found['raw_size']}), daily counts {found['daily']:,} rows "
        f"({found['daily_size']}); database {found['database_size']}"
    )
    if found["busiest"] is not None:
        usage_questions(database, found["busiest"], args.times)


if __name__ == "__main__":
    main()
