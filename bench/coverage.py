"""Benchmark planners' questions (coverage and siting) through HTTP, in one run.

    make bench-coverage           # or: python -m bench.coverage

1. Binzhou (the demo data): the per-county table (7 rows, with population), gaps of a county, 10 suggestions
   for a county — median of several warm runs. Targets: < 0.3 s, < 0.3 s, < 2 s.
2. Shandong: all 136 counties (../shared/data/boundaries) under the province, modelled population, and a generated
   register of ~8,000 legal-aid points placed by census population. The per-county table (target < 5 s), beside
   the naive single statement (ST_Union of every geography buffer, intersected with the province) on the same data.
"""

import argparse
import asyncio
import csv
import json
import os
import statistics
import time
from pathlib import Path

import asyncpg
import httpx
import numpy as np
import shapely
from rich.console import Console
from rich.table import Table
from shapely import MultiPolygon, unary_union
from shapely.geometry import shape
from sqlalchemy import text

from app.coverage import repository as coverage_repository
from app.coverage.population import CensusSeatDecayModel, RegionForModel
from app.database.connections import create_engine
from app.regions import repository as regions_repository
from bench.database import db_url, fresh_demo_database
from bench.server import running

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("YIZHAN_SHARED_DATA", ROOT.parent / "shared" / "data"))
DB_NAME = "yizhan_bench_coverage"
PORT = 8103
console = Console()


def shandong_regions() -> tuple[list[dict[str, object]], list[RegionForModel]]:
    features = json.loads((SHARED / "boundaries" / "shandong_370000_counties_tianditu_wgs84.geojson").read_text())
    with (SHARED / "population" / "tudigong_census2020_county_population.csv").open(encoding="utf-8-sig") as f:
        census = {row["CODE"]: row for row in csv.DictReader(f)}
    counties, models = [], []
    for feature in features["features"]:
        p = feature["properties"]
        adcode = str(p["adcode"])
        if adcode.startswith("3716"):
            continue  # Binzhou's counties come from the demo data
        boundary = shape(feature["geometry"])
        boundary = MultiPolygon([boundary]) if boundary.geom_type == "Polygon" else boundary
        row = census.get(adcode, {})
        population = int(row["POPU"]) if row.get("POPU", "").isdigit() else 500_000
        urban = float(row.get("POPU_URB") or 0.5)
        counties.append(
            {
                "adcode": adcode,
                "name": p["name"],
                "level": "county",
                "parent_adcode": "370000",
                "is_urban_district": p["name"].endswith("区"),
                "boundary": f"SRID=4326;{boundary.wkt}",
                "seat": f"SRID=4326;POINT({p['seat_lon']} {p['seat_lat']})",
                "population": population,
                "population_source": "2020 census (tudigong)",
            }
        )
        models.append(RegionForModel(adcode, boundary, (p["seat_lon"], p["seat_lat"]), population, urban))
    return counties, models


async def prepare(legal_aid: int) -> None:
    settings = await fresh_demo_database(DB_NAME)
    engine = create_engine(settings)
    counties, models = shandong_regions()
    started = time.perf_counter()
    features = json.loads((SHARED / "boundaries" / "shandong_370000_counties_tianditu_wgs84.geojson").read_text())
    province = unary_union([shape(f["geometry"]) for f in features["features"]])
    province = MultiPolygon([province]) if province.geom_type == "Polygon" else province
    model = CensusSeatDecayModel()
    async with engine.begin() as conn:
        await regions_repository.upsert(
            conn,
            [
                {
                    "adcode": "370000",
                    "name": "山东省",
                    "level": "province",
                    "parent_adcode": None,
                    "is_urban_district": False,
                    "boundary": f"SRID=4326;{province.wkt}",
                    "seat": None,
                    "population": None,
                    "population_source": None,
                }
            ],
        )
        await conn.execute(text("UPDATE regions SET parent_adcode = '370000' WHERE adcode = '371600'"))
        await regions_repository.upsert(conn, counties)
        for region in models:
            await coverage_repository.replace_population(conn, region.adcode, model.source, list(model.cells(region)))
    # Legal-aid points by population: scattered around each county seat, kept inside the county.
    rng = np.random.default_rng(7)
    weights = np.array([m.population for m in models], dtype=float)
    per_county = rng.multinomial(legal_aid, weights / weights.sum())
    rows = []
    for region, n in zip(models, per_county, strict=True):
        shapely.prepare(region.boundary)
        got: list[tuple[float, float]] = []
        while len(got) < n:
            lon = rng.normal(region.seat[0], 0.12, n * 3)
            lat = rng.normal(region.seat[1], 0.1, n * 3)
            keep = shapely.contains_xy(region.boundary, lon, lat)
            got += list(zip(lon[keep].tolist(), lat[keep].tolist(), strict=True))
        rows += [("legal_aid", f"{region.adcode}-{i}", lon, lat) for i, (lon, lat) in enumerate(got[:n])]
    conn = await asyncpg.connect(db_url(DB_NAME))
    await conn.execute("CREATE TEMP TABLE staged (kind text, name text, lon float8, lat float8)")
    await conn.copy_records_to_table("staged", records=rows)
    await conn.execute(
        "INSERT INTO sites (kind, name, location, source, external_id, opened_on) "
        "SELECT kind, name, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography, 'bench-shandong', name, "
        "'2024-01-01' FROM staged"
    )
    await conn.execute("VACUUM ANALYZE")
    await conn.close()
    await engine.dispose()
    console.print(
        f"Shandong: 135 counties + Binzhou's 7, {legal_aid:,} legal-aid points, "
        f"population cells built in {time.perf_counter() - started:.0f} s"
    )


def timed(client: httpx.Client, method: str, url: str, runs: int, **kwargs: object) -> tuple[float, httpx.Response]:
    client.request(method, url, **kwargs)  # warm
    times, response = [], None
    for _ in range(runs):
        t = time.perf_counter()
        response = client.request(method, url, **kwargs)
        times.append(time.perf_counter() - t)
        response.raise_for_status()
    assert response is not None
    return statistics.median(times), response


async def naive_statement() -> float:
    conn = await asyncpg.connect(db_url(DB_NAME))
    sql = """
        SELECT ST_Area(ST_Intersection(r.boundary, u.g)::geography)
        FROM regions r, (SELECT ST_Union(ST_Buffer(s.location, 7500)::geometry) AS g
                         FROM sites s WHERE s.kind = 'legal_aid' AND s.source = 'bench-shandong') u
        WHERE r.adcode = '370000'
    """
    t = time.perf_counter()
    await conn.fetchval(sql)
    elapsed = time.perf_counter() - t
    await conn.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--legal-aid", type=int, default=8000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-load", action="store_true")
    args = parser.parse_args()
    if not args.skip_load:
        asyncio.run(prepare(args.legal_aid))
    table = Table(title="coverage through HTTP (median of warm runs)")
    for column in ("question", "seconds", "target"):
        table.add_column(column)
    limits_off = {
        "RATE_LIMIT_READS_PER_MINUTE": "0",
        "RATE_LIMIT_WRITES_PER_MINUTE": "0",
        "RATE_LIMIT_COVERAGE_PER_MINUTE": "0",
    }
    with (
        running("app.main:app", PORT, db_url(DB_NAME), **limits_off) as server,
        httpx.Client(base_url=server.base, timeout=120) as client,
    ):
        t, _ = timed(client, "GET", "/v1/coverage/regions/371600/children", args.runs)
        table.add_row("Binzhou per-county table (7 rows)", f"{t:.3f}", "< 0.3")
        t, _ = timed(client, "GET", "/v1/coverage/regions/371623/gaps", args.runs)
        table.add_row("gaps of 无棣县", f"{t:.3f}", "< 0.3")
        t, _ = timed(
            client,
            "POST",
            "/v1/coverage/suggest",
            args.runs,
            json={"region": "371623", "kind": "legal_aid", "count": 10},
        )
        table.add_row("suggest 10 sites in 无棣县", f"{t:.3f}", "< 2")
        t, response = timed(client, "GET", "/v1/coverage/regions/370000/children", max(1, args.runs // 2))
        rows = len(response.json()["items"])
        table.add_row(f"Shandong per-county table ({rows} rows)", f"{t:.3f}", "< 5")
    naive = asyncio.run(naive_statement())
    table.add_row("naive: one ST_Union of all buffers ∩ province (area only)", f"{naive:.3f}", "reference")
    console.print(table)


if __name__ == "__main__":
    main()
