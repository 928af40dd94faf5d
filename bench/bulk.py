"""Benchmark POST /v1/sites/bulk: 100,000 CSV rows through HTTP, against the 60 s limit, in one run.

    make bench-bulk           # or: python -m bench.bulk --rows 100000

Loads the demo into its own database, creates a write key, generates a CSV of N sites over China (by census
population, app/national_register.py) and uploads it to a uvicorn server: first import (all created), then the
same file again (all unchanged), then a dry run. Prints seconds, rows/s and the ratio to the limit.
"""

import argparse
import asyncio
import csv
import io
import time

import httpx
from rich.console import Console
from rich.table import Table

from app import national_register
from app.database.connections import create_engine
from app.keys import service as keys
from bench.database import db_url, fresh_demo_database
from bench.server import running

DB_NAME = "yizhan_bench_bulk"
PORT = 8104
LIMIT_S = 60.0
console = Console()


async def prepare() -> str:
    settings = await fresh_demo_database(DB_NAME)
    engine = create_engine(settings)
    async with engine.begin() as conn:
        secret = await keys.create(conn, "bench", ["write"], None)
    await engine.dispose()
    return secret


def csv_body(rows: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["external_id", "name", "kind", "lat", "lon", "amenities", "address"])
    for site in national_register.generate(rows):
        name, lat, lon = site.external_id, f"{site.lat:.6f}", f"{site.lon:.6f}"
        writer.writerow([name, f"驿站{name}", site.kind, lat, lon, ";".join(site.amenities), f"地址{name}"])
    return out.getvalue().encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    secret = asyncio.run(prepare())
    body = csv_body(args.rows)
    console.print(f"CSV: {args.rows:,} rows, {len(body) / 1e6:.1f} MB")
    table = Table(title=f"POST /v1/sites/bulk, {args.rows:,} CSV rows")
    for column in ("run", "seconds", "rows/s", "summary", "share of the 60 s limit"):
        table.add_column(column)
    database = db_url(DB_NAME)
    limits_off = {
        "RATE_LIMIT_READS_PER_MINUTE": "0",
        "RATE_LIMIT_WRITES_PER_MINUTE": "0",
        "RATE_LIMIT_COVERAGE_PER_MINUTE": "0",
    }
    with (
        running("app.main:app", PORT, database, **limits_off) as server,
        httpx.Client(base_url=server.base, timeout=600) as client,
    ):
        for run, params in (("first import", {}), ("same file again", {}), ("dry run", {"dry_run": "true"})):
            started = time.perf_counter()
            response = client.post(
                "/v1/sites/bulk",
                content=body,
                params={"source": "bench", **params},
                headers={"Authorization": f"Bearer {secret}", "Content-Type": "text/csv"},
            )
            elapsed = time.perf_counter() - started
            response.raise_for_status()
            summary = response.json()["summary"]
            table.add_row(
                run,
                f"{elapsed:.1f}",
                f"{args.rows / elapsed:,.0f}",
                ", ".join(f"{k} {v}" for k, v in summary.items() if v),
                f"{elapsed / LIMIT_S:.2f}×",
            )
    console.print(table)


if __name__ == "__main__":
    main()
