"""Benchmark the vector tiles and the map page on the national-scale register (`make bench` loads it first).

1. Tiles: random sites tiles at zooms 5–14 over eastern China through HTTP (one client, tiles fetched one after
   another, warm), p50/p95 and the largest tile, beside the bare ST_AsMVT statement for the same tiles run straight
   on PostgreSQL in the same run (the floor). Also the Binzhou regions, catchments and gaps tiles. Targets: p95 ≤
   100 ms, every tile ≤ 500 KB.
2. The page: headless Chromium (Debian's) from navigation to the map's first idle with the Binzhou table filled,
   median of several loads. Target ≤ 2 s.

    python -m bench.tiles [--tiles 300] [--loads 7]
"""

import argparse
import asyncio
import math
import os
import random
import statistics
import time

import asyncpg
import httpx
from playwright.async_api import async_playwright
from rich.console import Console
from rich.table import Table

from app.tiles import repository
from app.tiles.service import CELL_PIXELS, SITE_POINTS_FROM
from bench.server import running

ADMIN_URL = os.environ.get("BENCH_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:54329/postgres")
DATABASE = "yizhan_bench"
PORT = 8766
# Eastern China: from Harbin to Guangzhou, the coast to Chongqing.
EAST = (105.0, 22.0, 122.5, 45.0)
BINZHOU = (117.3, 36.9, 118.4, 38.2)
console = Console(width=150)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def random_tiles(
    count: int, box: tuple[float, float, float, float], zooms: range, seed: int
) -> list[tuple[int, int, int]]:
    rng = random.Random(seed)
    found = []
    for _ in range(count):
        z = rng.choice(list(zooms))
        found.append((z, *tile_of(rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3]), z)))
    return found


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def floor_ms(url: str, tiles: list[tuple[int, int, int]]) -> list[float]:
    """The bare statement: the same ST_AsMVT of the same tiles, through asyncpg, without the service."""
    conn = await asyncpg.connect(url)
    today = await conn.fetchval("SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date")
    times = []
    try:
        for z, x, y in tiles:
            start = time.perf_counter()
            if z >= SITE_POINTS_FROM:
                await repository.sites(conn, (z, x, y, 0.0, 0.0), None, today, True)
            else:
                await repository.site_counts(
                    conn, (z, x, y, 0.0, 0.0), 360.0 / 2**z * CELL_PIXELS / 256, None, today, True
                )
            times.append((time.perf_counter() - start) * 1000)
    finally:
        await conn.close()
    return times


async def through_http(
    base: str, layer: str, tiles: list[tuple[int, int, int]], query: str = ""
) -> tuple[list[float], list[int]]:
    times, sizes = [], []
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        for z, x, y in tiles:
            start = time.perf_counter()
            r = await http.get(f"/v1/tiles/{layer}/{z}/{x}/{y}.mvt{query}")
            times.append((time.perf_counter() - start) * 1000)
            assert r.status_code in (200, 204), r.text
            sizes.append(len(r.content))
    return times, sizes


async def page_loads(base: str, loads: int) -> list[float]:
    times = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"],
        )
        try:
            for _ in range(loads + 1):  # the first load warms the server's caches and is not counted
                context = await browser.new_context(viewport={"width": 1600, "height": 1000})
                page = await context.new_page()
                await page.goto(f"{base}/map?region=371600&kind=legal_aid")
                await page.wait_for_function(
                    "document.body.dataset.ready === 'true' && performance.getEntriesByName('map-idle').length > 0"
                    " && document.querySelectorAll('tr[data-adcode]').length === 7",
                    timeout=60_000,
                )
                # The page marks its first idle and the table filled, in ms from navigation (app/web/static/map.js).
                marks = await page.evaluate(
                    "Object.fromEntries(performance.getEntriesByType('mark').map(m => [m.name, m.startTime]))"
                )
                times.append(max(marks["map-idle"], marks["table"]))
                await context.close()
        finally:
            await browser.close()
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiles", type=int, default=300, help="random sites tiles over eastern China")
    parser.add_argument("--loads", type=int, default=7, help="page loads (median)")
    args = parser.parse_args()
    base_url = ADMIN_URL.rpartition("/")[0]
    database_url = f"{base_url}/{DATABASE}"
    tiles = random_tiles(args.tiles, EAST, range(5, 15), seed=11)
    coverage_tiles = random_tiles(40, BINZHOU, range(7, 13), seed=12)
    table = Table(title="Vector tiles (one client, warm) and the map page")
    for column in ("what", "n", "p50 ms", "p95 ms", "max ms", "largest KB", "p95 / floor p95"):
        table.add_column(column, justify="right")
    limits_off = {"RATE_LIMIT_READS_PER_MINUTE": "0", "RATE_LIMIT_COVERAGE_PER_MINUTE": "0"}
    with running("app.main:app", PORT, database_url, **limits_off) as server:
        asyncio.run(through_http(server.base, "sites", tiles[:20]))  # warm the connections and the page cache
        http_ms, sizes = asyncio.run(through_http(server.base, "sites", tiles))
        floor = asyncio.run(floor_ms(database_url, tiles))
        table.add_row(
            "sites z5–z14, HTTP",
            str(len(tiles)),
            f"{statistics.median(http_ms):.1f}",
            f"{percentile(http_ms, 0.95):.1f}",
            f"{max(http_ms):.1f}",
            f"{max(sizes) / 1024:.0f}",
            f"{percentile(http_ms, 0.95) / percentile(floor, 0.95):.2f}x",
        )
        table.add_row(
            "  floor: bare ST_AsMVT",
            str(len(tiles)),
            f"{statistics.median(floor):.1f}",
            f"{percentile(floor, 0.95):.1f}",
            f"{max(floor):.1f}",
            "",
            "1.00x",
        )
        for layer in ("regions", "catchments", "gaps"):
            asyncio.run(
                through_http(server.base, layer, coverage_tiles, "?kind=legal_aid")
            )  # computes and keeps the figures
            ms, layer_sizes = asyncio.run(through_http(server.base, layer, coverage_tiles, "?kind=legal_aid"))
            table.add_row(
                f"{layer} (Binzhou, z7–z12, warm)",
                str(len(ms)),
                f"{statistics.median(ms):.1f}",
                f"{percentile(ms, 0.95):.1f}",
                f"{max(ms):.1f}",
                f"{max(layer_sizes) / 1024:.0f}",
                "",
            )
        loads = asyncio.run(page_loads(server.base, args.loads))
        table.add_row(
            "page: navigation → idle, table filled",
            str(len(loads)),
            f"{statistics.median(loads):.0f}",
            f"{percentile(loads, 0.95):.0f}",
            f"{max(loads):.0f}",
            "",
            "",
        )
    console.print(table)
    console.print(
        f"targets: sites p95 ≤ 100 ms (here {percentile(http_ms, 0.95):.1f}), every tile ≤ 500 KB "
        f"(largest {max(sizes) / 1024:.0f} KB), page median ≤ 2,000 ms (here {statistics.median(loads):.0f})"
    )


if __name__ == "__main__":
    main()
