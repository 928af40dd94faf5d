"""Benchmark loading all of China's regions (`yizhan regions load --all`), in a database of its own.

    make bench-regions            # or: python -m bench.regions

Made afresh (schema and the Binzhou demo, as `make run` leaves it), then the 2,891 counties, their cities,
provinces and root, and the modelled population of every county, in one transaction; then the same load again
(nothing changes). Prints each load's time and the size of the tables it fills (pg_total_relation_size: heap,
TOAST and indexes). Targets (issue 22): ≤ 5 min, ≤ 2 GB.
"""

import argparse
import asyncio
import time

import asyncpg
from rich.console import Console

from app.database.connections import create_engine
from app.regions import loader
from bench.database import fresh_demo_database

DB_NAME = "yizhan_bench_regions"
TABLES = ("regions", "population_cells", "spatial_ref_sys")
console = Console()


async def run(name: str) -> None:
    settings = await fresh_demo_database(name)
    engine = create_engine(settings)
    counties = loader.select_counties()
    try:
        for attempt in ("first load", "loaded again"):
            started = time.monotonic()
            async with engine.begin() as conn:
                summary = await loader.load(conn, counties)
            seconds = time.monotonic() - started
            written = sum(done.written for done in summary.levels.values())
            console.print(
                f"{attempt}: {seconds:.0f} s; regions written {written:,}, counties modelled "
                f"{summary.population_modelled:,}"
            )
    finally:
        await engine.dispose()
    conn = await asyncpg.connect(str(settings.database_url).replace("+asyncpg", ""))
    try:
        sizes = {t: await conn.fetchval("SELECT pg_total_relation_size($1::regclass)", t) for t in TABLES}
        cells = await conn.fetchval("SELECT count(*) FROM population_cells")
    finally:
        await conn.close()
    for table, size in sizes.items():
        console.print(f"{table}: {size / 2**20:,.0f} MiB")
    console.print(f"total: {sum(sizes.values()) / 2**20:,.0f} MiB; {cells:,} population cells")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=DB_NAME, help="Database to make afresh (dropped first)")
    asyncio.run(run(parser.parse_args().database))


if __name__ == "__main__":
    main()
