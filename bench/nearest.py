"""Benchmark GET /v1/sites/nearest against a minimal asyncpg reference, in one run on one machine.

    make bench                      # or: python -m bench.nearest --sites 200000 --duration 20

Loads a national-scale register (generated, ~200k sites over China by census population, plus the Binzhou demo
data) into its own database `yizhan_bench`, serves the real app and bench/reference_app.py with the same uvicorn
settings, drives each with wrk (32 connections, random points) and prints requests/s, p50, p99 and the ratios.
Then what watching costs: the service with and without its request observer (and a second observed server, the
control), in many short runs in turn.
Needs wrk (Debian package `wrk`).
"""

import argparse
import asyncio
import itertools
import os
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
from pydantic import PostgresDsn
from rich.console import Console
from rich.table import Table

from app import national_register
from app.config import Settings
from app.database.connections import create_engine
from bench.database import db_url, fresh_demo_database
from bench.server import Server, cpu_seconds, running

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("YIZHAN_SHARED_DATA", ROOT.parent / "shared" / "data"))
DB_NAME = "yizhan_bench"
# wrk is one client address at thousands of requests a second: a limit it never reaches keeps the limiter's cost in
# the measurement without turning answers into 429s.
UNLIMITED_READS = "1000000000"
console = Console(width=150)


async def prepare(n_sites: int, name: str = DB_NAME) -> int:
    await fresh_demo_database(name)
    return await load_register(n_sites, name)


async def load_register(n_sites: int, name: str) -> int:
    """The generated national register of `n_sites` into database `name`, as `yizhan seed --national-register`
    loads it; how many sites the database then holds."""
    started = time.perf_counter()
    engine = create_engine(Settings(database_url=PostgresDsn(db_url(name))))
    try:
        async with engine.begin() as conn:
            loaded = await national_register.load(conn, n_sites)
    finally:
        await engine.dispose()
    conn = await asyncpg.connect(db_url(name))
    await conn.execute("VACUUM ANALYZE sites")
    total = await conn.fetchval("SELECT count(*) FROM sites")
    await conn.close()
    console.print(f"loaded {loaded.written:,} generated sites (+447 Binzhou) in {time.perf_counter() - started:.1f} s")
    return int(total)


def parse_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url_template: str,
    server: Server,
    seconds: int,
    connections: int,
    *,
    warm_up: bool = True,
    script_name: str = "random_points.lua",
    **script_env: str,
) -> dict[str, float]:
    """Requests/s, p50, p99, non-2xx, and CPU µs per request of the server and of PostgreSQL."""
    env = {**os.environ, "PATH_TEMPLATE": url_template, **script_env}
    script = str(Path(__file__).with_name(script_name))
    if warm_up:  # fill caches and pools so the measured run sees a steady state
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


def cpu(run: dict[str, float]) -> float:
    """CPU µs a request of one wrk run, the server's and PostgreSQL's."""
    return run["server_cpu_us"] + run["database_cpu_us"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=200_000)
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk run (≥ 20 for the record)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers, the same for both servers")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every variant; ratios are taken per round")
    parser.add_argument("--skip-load", action="store_true", help="reuse the yizhan_bench database")
    parser.add_argument("--observer-cycles", type=int, default=24, help="cycles of the observer's comparison (0: none)")
    parser.add_argument("--cycle-seconds", type=int, default=3, help="seconds of each server's run within a cycle")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    total = asyncio.run(prepare(args.sites)) if not args.skip_load else None
    if total:
        console.print(f"register: {total:,} sites")
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
            "app.main:app", 8101, database, workers=args.workers, RATE_LIMIT_READS_PER_MINUTE=UNLIMITED_READS
        ) as real,
        running("bench.reference_app:app", 8102, database, factory=False, workers=args.workers) as reference,
    ):
        for round_ in range(args.rounds):
            # Each round measures every variant within a minute or so, in an order that turns from round to round, so
            # the machine's drift falls on all of them alike; ratios are taken within the round.
            names = list(variants)
            names = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in names:
                server = reference if name == "reference" else real
                results[name].append(wrk(variants[name], server, args.duration, args.connections))
    if args.rounds:
        report(results, args)
    if args.observer_cycles:
        observer_cost(database, args)


def observer_cost(database: str, args: argparse.Namespace) -> None:
    """Requests/s and CPU a request lost to the request observer (request id, log line, metrics).

    The effect is a few per cent on a machine that drifts by more within minutes, so the comparison is made of many
    short cycles, each running the three servers in turn (in an order that turns from cycle to cycle) and giving one
    ratio; the median of the cycles' ratios is the figure. The control is a second observed server measured the same
    way: how far apart two identical servers come out is the method's resolution.
    """
    template = "/v1/sites/nearest?lat=%f&lon=%f"
    with (
        running(
            "app.main:app", 8104, database, workers=args.workers, RATE_LIMIT_READS_PER_MINUTE=UNLIMITED_READS
        ) as observed,
        running(
            "app.main:app", 8105, database, workers=args.workers, RATE_LIMIT_READS_PER_MINUTE=UNLIMITED_READS
        ) as observed_again,
        running(
            "app.main:app",
            8106,
            database,
            workers=args.workers,
            RATE_LIMIT_READS_PER_MINUTE=UNLIMITED_READS,
            OBSERVE_REQUESTS="false",
        ) as unobserved,
    ):
        servers = {"observed": observed, "observed again": observed_again, "unobserved": unobserved}
        for server in servers.values():  # warm-up: the cycles' runs are too short to have one each
            wrk(template, server, 3, args.connections, warm_up=False)
        orders = list(itertools.permutations(servers))
        cycles: list[dict[str, dict[str, float]]] = []
        for cycle in range(args.observer_cycles):
            order = orders[cycle % len(orders)]
            run = {
                name: wrk(template, servers[name], args.cycle_seconds, args.connections, warm_up=False)
                for name in order
            }
            cycles.append(run)

    def lost(of: Callable[[dict[str, dict[str, float]]], float]) -> str:
        each = sorted(of(cycle) for cycle in cycles)
        quarter = len(each) // 4
        mean, error = statistics.fmean(each), statistics.stdev(each) / len(each) ** 0.5 if len(each) > 1 else 0.0
        return (
            f"{statistics.median(each):+.1%} (middle half {each[quarter]:+.1%} – {each[-1 - quarter]:+.1%}; "
            f"mean {mean:+.1%} ± {error:.1%})"
        )

    console.print(
        f"observer cost on nearest, {len(cycles)} cycles of {args.cycle_seconds} s a server, "
        f"{args.connections} connections: median of the cycles; "
        f"non-2xx answers: {sum(run['errors'] for cycle in cycles for run in cycle.values()):.0f}"
    )
    figures = {
        "requests/s lost": lambda c: 1 - c["observed"]["rps"] / c["unobserved"]["rps"],
        "control: the same, two observed servers": lambda c: 1 - c["observed again"]["rps"] / c["observed"]["rps"],
        "CPU a request, server + PostgreSQL": lambda c: 1 - cpu(c["unobserved"]) / cpu(c["observed"]),
        "CPU a request, server alone": lambda c: 1 - c["unobserved"]["server_cpu_us"] / c["observed"]["server_cpu_us"],
    }
    for label, of in figures.items():
        console.print(f"  {label + ':':41} {lost(of)}")
    console.print("  target: ≤ 5 % of requests/s")


def report(results: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> None:
    """Medians over the rounds; each ratio is the median of the rounds' own ratios to the reference."""
    refs = results["reference"]

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    def ratios(name: str, of: Callable[[dict[str, float], dict[str, float]], float]) -> str:
        each = sorted(of(run, ref) for run, ref in zip(results[name], refs, strict=True))
        spread = f" ({each[0]:.2f}–{each[-1]:.2f})" if len(each) > 1 else ""
        return f"{statistics.median(each):.2f}x{spread}"

    table = Table(
        title=f"GET nearest, {args.connections} connections, {args.duration} s × {args.rounds} rounds, "
        f"{args.workers} worker(s): medians"
    )
    columns = ("server", "requests/s", "p50 ms", "p99 ms", "non-2xx", "ratio to reference (range)")
    for column in (*columns, "CPU µs/request, server + PostgreSQL", "CPU ratio (range)"):
        table.add_column(column, justify="right")
    for name in results:
        table.add_row(
            name,
            f"{median(name, 'rps'):.0f}",
            f"{median(name, 'p50'):.2f}",
            f"{median(name, 'p99'):.2f}",
            f"{sum(r['errors'] for r in results[name]):.0f}",
            ratios(name, lambda run, ref: run["rps"] / ref["rps"]),
            f"{median(name, 'server_cpu_us'):.0f} + {median(name, 'database_cpu_us'):.0f}",
            ratios(name, lambda run, ref: cpu(ref) / cpu(run)),
        )
    console.print(table)
    console.print("targets: ratio >= 0.90x, p99 <= 25 ms")
    console.print("CPU ratio: the reference's CPU per request over this one's, within each round")


if __name__ == "__main__":
    main()
