"""Benchmark OGC API - Features and Tiles beside tipg, the reference OGC server for PostGIS, in one run.

    make bench-ogc                  # or: python -m bench.ogc --sites 200000 --duration 20

Loads the national-scale register (as bench/nearest.py does, into its own database `yizhan_bench_ogc`), makes a view
of its live outdoor stations with the properties our items carry, and serves that view with tipg (from PyPI, in its
own virtualenv .venv-tipg that this makes when missing, never a dependency of the project) and the sites table with
our service, one uvicorn worker each. wrk drives each at 16 connections over eastern China with the same requests:
items in a random 0.1° bbox (limit 10, both counting numberMatched), single items by random id, vector tiles at zoom
10-14. Prints requests/s for each and our ratio to tipg, the median over rounds (each ratio taken within its round).
Target: ours ≥ 2× tipg on each. Needs wrk (Debian package `wrk`).
"""

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table

from app.ogc.repository import PROPERTIES
from bench.database import db_url
from bench.nearest import UNLIMITED_READS, prepare, wrk
from bench.server import running

ROOT = Path(__file__).resolve().parent.parent
TIPG_VENV = ROOT / ".venv-tipg"
TIPG_VERSION = "1.6.1"
DB_NAME = "yizhan_bench_ogc"
VIEW = "outdoor_stations"
console = Console(width=150)

# The properties of app.ogc.repository's items, so that both servers read and write the same features.
VIEW_SQL = f"""
CREATE OR REPLACE VIEW {VIEW} AS
SELECT s.kind, {", ".join(f"s.{f.name}" for f in PROPERTIES if f.stored)}, s.geom
FROM sites s
WHERE s.kind = 'outdoor_station' AND s.deleted_at IS NULL
"""

QUESTIONS = {
    "items in a bbox": {
        "ours": "/ogc/collections/outdoor_station/items?bbox={minlon},{minlat},{maxlon},{maxlat}",
        "tipg": f"/collections/public.{VIEW}/items?bbox={{minlon}},{{minlat}},{{maxlon}},{{maxlat}}",
        "mode": "bbox",
    },
    "single items": {
        "ours": "/ogc/collections/outdoor_station/items/{id}",
        "tipg": f"/collections/public.{VIEW}/items/{{id}}",
        "mode": "item",
    },
    "tiles z10-14": {
        "ours": "/ogc/collections/outdoor_station/tiles/WebMercatorQuad/{z}/{y}/{x}",
        # The properties our tiles carry (tipg would otherwise write every column of the view into each feature).
        "tipg": f"/collections/public.{VIEW}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}"
        "?properties=id,kind,name,status,access",
        "mode": "tile",
    },
}


def tipg_python() -> str:
    """tipg's interpreter, its virtualenv made first when missing."""
    python = TIPG_VENV / "bin" / "python"
    if not python.exists():
        console.print(f"installing tipg {TIPG_VERSION} into {TIPG_VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(TIPG_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"tipg=={TIPG_VERSION}", "uvicorn"], check=True)
    return str(python)


async def make_view() -> list[int]:
    """The view tipg serves, analysed; the ids of its features, for the single-item requests."""
    conn = await asyncpg.connect(db_url(DB_NAME))
    try:
        await conn.execute(VIEW_SQL)
        await conn.execute("ANALYZE sites")
        return [r["id"] for r in await conn.fetch(f"SELECT id FROM {VIEW}")]
    finally:
        await conn.close()


def same_answers(ours: str, tipg: str) -> None:
    """Both servers find the same features in the same boxes (a benchmark of two servers answering different
    questions would be worth nothing)."""
    boxes = [
        (117.9, 37.3, 118.1, 37.5),
        (116.3, 39.8, 116.5, 40.0),
        (121.4, 31.1, 121.6, 31.3),
        (113.2, 23.0, 113.4, 23.2),
    ]
    for box in boxes:
        bbox = ",".join(map(str, box))
        mine = httpx.get(f"{ours}/ogc/collections/outdoor_station/items", params={"bbox": bbox}).json()
        theirs = httpx.get(f"{tipg}/collections/public.{VIEW}/items", params={"bbox": bbox}).json()
        if mine["numberMatched"] != theirs["numberMatched"]:
            raise SystemExit(f"bbox {bbox}: ours matched {mine['numberMatched']}, tipg {theirs['numberMatched']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=200_000)
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk run (≥ 20 for the record)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every question; ratios are taken per round")
    parser.add_argument("--skip-load", action="store_true", help=f"reuse the {DB_NAME} database")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    python = tipg_python()
    if not args.skip_load:
        console.print(f"register: {asyncio.run(prepare(args.sites, DB_NAME)):,} sites")
    database = db_url(DB_NAME)
    with tempfile.NamedTemporaryFile(prefix="yizhan-bench-ids-", suffix=".txt") as ids:
        stations = asyncio.run(make_view())
        Path(ids.name).write_text("\n".join(map(str, stations)) + "\n")
        console.print(f"outdoor stations served by both: {len(stations):,}")
        tipg_env = {
            "TIPG_DB_SCHEMAS": '["public"]',
            "TIPG_DB_TABLES": f'["public.{VIEW}"]',
            f"TIPG_TABLE_CONFIG__public_{VIEW}__PK": "id",
            f"TIPG_TABLE_CONFIG__public_{VIEW}__GEOMCOL": "geom",
            "TIPG_DB_MAX_CONN_SIZE": os.environ.get("DB_POOL_MAX", "10"),
        }
        results: dict[tuple[str, str], list[float]] = {}
        errors: dict[tuple[str, str], float] = {}
        with (
            running("app.main:app", 8111, database, RATE_LIMIT_READS_PER_MINUTE=UNLIMITED_READS) as ours,
            running(
                "tipg.main:app", 8112, database, factory=False, python=python, ready_path="/api", **tipg_env
            ) as tipg,
        ):
            servers = {"ours": ours, "tipg": tipg}
            same_answers(ours.base, tipg.base)
            for round_ in range(args.rounds):
                for question, spec in QUESTIONS.items():
                    # Within a round both servers answer the same question one after the other, in turns.
                    order = ["ours", "tipg"] if round_ % 2 == 0 else ["tipg", "ours"]
                    for name in order:
                        run = wrk(
                            spec[name],
                            servers[name],
                            args.duration,
                            args.connections,
                            warm_up=round_ == 0,
                            script_name="random_ogc.lua",
                            MODE=spec["mode"],
                            IDS_FILE=ids.name,
                        )
                        results.setdefault((question, name), []).append(run["rps"])
                        errors[question, name] = errors.get((question, name), 0.0) + run["errors"]
    report(results, errors, args)


def report(
    results: dict[tuple[str, str], list[float]], errors: dict[tuple[str, str], float], args: argparse.Namespace
) -> None:
    table = Table(
        title=f"OGC beside tipg, {args.connections} connections, {args.duration} s × {args.rounds} rounds, "
        "one worker each: medians"
    )
    for column in ("question", "ours req/s", "tipg req/s", "ours / tipg (range)", "non-2xx ours / tipg"):
        table.add_column(column, justify="right")
    for question in QUESTIONS:
        ours, tipg = results[question, "ours"], results[question, "tipg"]
        ratios = sorted(o / t for o, t in zip(ours, tipg, strict=True))
        table.add_row(
            question,
            f"{statistics.median(ours):.0f}",
            f"{statistics.median(tipg):.0f}",
            f"{statistics.median(ratios):.2f}x ({ratios[0]:.2f}–{ratios[-1]:.2f})",
            f"{errors[question, 'ours']:.0f} / {errors[question, 'tipg']:.0f}",
        )
    console.print(table)
    console.print("target: ours / tipg ≥ 2.00x on each")


if __name__ == "__main__":
    main()
