"""Regions of China from seed/china for benchmarks and tests of coverage at every level: counties as the file has
them, cities and provinces as the unions of their counties, and the national root 100000 (全国) over the provinces
(the schema's level vocabulary and region_of taught the root's level, `country`).

A minimal stand-in for `yizhan regions load` (app.regions), which owns the rules of loading (urban districts,
population sums, modelled population); here a county is an urban district when its name ends in 区, and only the
counties' census populations are loaded.
"""

import csv
import gzip
import json
from typing import Any

import asyncpg

from app.paths import SEED_DIR

CHINA = SEED_DIR / "china"
ROOT = "100000"
# The schema's level vocabulary, with the national root's level.
LEVELS_WITH_COUNTRY = "level IN ('country', 'province', 'city', 'county')"


def counties(prefix: str | tuple[str, ...] = "") -> list[dict[str, Any]]:
    """The counties whose adcode starts with `prefix` (or one of them): adcode, name, city, province, seat, census
    population, the GeoJSON geometry."""
    with (CHINA / "census2020_counties.csv").open(encoding="utf-8-sig") as f:
        census = {row["CODE"]: int(row["POPU"]) for row in csv.DictReader(f) if row["POPU"].isdigit()}
    with gzip.open(CHINA / "china_counties_tianditu_wgs84.geojson.gz", "rt", encoding="utf-8") as f:
        features = json.load(f)["features"]
    found = []
    for feature in features:
        p = feature["properties"]
        adcode = str(p["adcode"])
        if adcode.startswith(prefix):
            city, province = str(p["city_adcode"]), str(p["province_adcode"])
            found.append(
                {
                    "adcode": adcode,
                    "name": p["name"],
                    # Municipalities and SARs carry the province's code as their city's: their parent is the province.
                    "city": None if city == province else city,
                    "city_name": p["city_name"],
                    "province": province,
                    "province_name": p["province_name"],
                    "seat": (p["seat_lon"], p["seat_lat"]),
                    "population": census.get(adcode),
                    "geometry": feature["geometry"],
                }
            )
    return found


async def load(conn: asyncpg.Connection, prefix: str | tuple[str, ...] = "") -> list[dict[str, Any]]:
    """The counties under `prefix` (all of China by default), their cities and provinces, and the national root.
    The loaded counties."""
    chosen = counties(prefix)
    await conn.execute("ALTER TABLE regions DROP CONSTRAINT ck_regions_level_known")
    await conn.execute(f"ALTER TABLE regions ADD CONSTRAINT ck_regions_level_known CHECK ({LEVELS_WITH_COUNTRY})")
    # A site's region is the deepest covering it: the root is the shallowest.
    await conn.execute(
        """
        CREATE OR REPLACE FUNCTION region_of(point geometry) RETURNS varchar(6)
        LANGUAGE sql STABLE PARALLEL SAFE AS $$
            SELECT adcode FROM regions WHERE ST_Covers(boundary, point)
            ORDER BY array_position(ARRAY['country', 'province', 'city', 'county'], level) DESC, adcode
            LIMIT 1
        $$
        """
    )
    await conn.execute(
        "CREATE TEMP TABLE china_counties (adcode text, name text, city text, city_name text, province text, "
        "province_name text, seat_lon float8, seat_lat float8, population bigint, geometry text) ON COMMIT DROP"
    )
    await conn.copy_records_to_table(
        "china_counties",
        records=[
            (c["adcode"], c["name"], c["city"], c["city_name"], c["province"], c["province_name"], *c["seat"],
             c["population"], json.dumps(c["geometry"]))
            for c in chosen
        ],
    )  # fmt: skip
    area = "ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Union(boundary)), 3))"
    await conn.execute(
        f"""
        CREATE TEMP TABLE china_regions ON COMMIT DROP AS
        SELECT adcode, name, 'county'::text AS level, coalesce(city, province) AS parent_adcode,
               name LIKE '%区' AS is_urban_district,
               ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(geometry), 4326)) AS boundary,
               ST_SetSRID(ST_MakePoint(seat_lon, seat_lat), 4326) AS seat, population
        FROM china_counties;
        INSERT INTO china_regions
        SELECT k.city, min(k.city_name), 'city', min(k.province), false, {area}, NULL::geometry, sum(k.population)
        FROM china_counties k JOIN china_regions r USING (adcode) WHERE k.city IS NOT NULL GROUP BY k.city;
        INSERT INTO china_regions
        SELECT k.province, min(k.province_name), 'province', '{ROOT}', false, {area}, NULL::geometry,
               sum(k.population)
        FROM china_counties k JOIN china_regions r USING (adcode) GROUP BY k.province;
        INSERT INTO china_regions
        SELECT '{ROOT}', '全国', 'country', NULL, false, {area}, NULL::geometry, sum(population)
        FROM china_regions WHERE level = 'province';
        """
    )
    # Parents first (the parent's key must exist); a region already there (the demo's) takes the national data.
    for level in ("country", "province", "city", "county"):
        await conn.execute(
            """
            INSERT INTO regions (adcode, name, level, parent_adcode, is_urban_district, boundary, seat, population,
                                 population_source)
            SELECT adcode, name, level, parent_adcode, is_urban_district, boundary, seat, population,
                   '2020 census (tudigong)'
            FROM china_regions WHERE level = $1
            ON CONFLICT (adcode) DO UPDATE SET
                name = excluded.name, level = excluded.level, parent_adcode = excluded.parent_adcode,
                is_urban_district = excluded.is_urban_district, boundary = excluded.boundary,
                seat = coalesce(excluded.seat, regions.seat), population = excluded.population,
                population_source = excluded.population_source
            """,
            level,
        )
    return chosen
