"""The Binzhou demo data set (seed/): real county boundaries and census figures, a generated register.

Loading is an upsert by natural keys (adcode; source + external_id), so loading twice leaves the register as
it was: nothing is created, updated or re-versioned the second time.
"""

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shapely import MultiPolygon, Point, unary_union
from shapely.geometry import shape
from sqlalchemy.ext.asyncio import AsyncEngine

from app.paths import SEED_DIR
from app.regions import repository as regions
from app.regions.models import REGION_LEVELS
from app.sites import repository as sites

CITY = {"adcode": "371600", "name": "滨州市"}
URBAN_DISTRICTS = {"371602", "371603"}  # 滨城区, 沾化区 (市辖区)
POPULATION_SOURCE = "2020 census, NBS county tabulation (via thebamboogrove/tudigong)"


@dataclass(frozen=True)
class LoadSummary:
    regions_changed: int
    sites: dict[str, int]


def _ewkt(geometry: Any) -> str:
    return f"SRID=4326;{geometry.wkt}"


def read_regions(seed_dir: Path = SEED_DIR) -> list[dict[str, Any]]:
    """The city first (parents before children), then its counties."""
    with (seed_dir / "census2020_binzhou_counties.csv").open(encoding="utf-8") as f:
        population = {row["adcode"]: int(row["census2020_pop"]) for row in csv.DictReader(f)}
    counties = []
    for feature in json.loads((seed_dir / "binzhou_371600_counties_tianditu_wgs84.geojson").read_text("utf-8"))[
        "features"
    ]:
        p = feature["properties"]
        boundary = shape(feature["geometry"])
        counties.append(
            {
                "adcode": str(p["adcode"]),
                "name": p["name"],
                "level": "county",
                "parent_adcode": CITY["adcode"],
                "is_urban_district": str(p["adcode"]) in URBAN_DISTRICTS,
                "boundary": MultiPolygon([boundary]) if boundary.geom_type == "Polygon" else boundary,
                "seat": Point(p["seat_lon"], p["seat_lat"]),
                "population": population[str(p["adcode"])],
                "population_source": POPULATION_SOURCE,
            }
        )
    city_boundary = unary_union([c["boundary"] for c in counties])
    city = {
        **CITY,
        "level": "city",
        "parent_adcode": None,
        "is_urban_district": False,
        "boundary": MultiPolygon([city_boundary]) if city_boundary.geom_type == "Polygon" else city_boundary,
        "seat": next(c["seat"] for c in counties if c["adcode"] == "371602"),
        "population": sum(c["population"] for c in counties),
        "population_source": POPULATION_SOURCE,
    }
    return [{**r, "boundary": _ewkt(r["boundary"]), "seat": _ewkt(r["seat"])} for r in [city, *counties]]


def read_register(seed_dir: Path = SEED_DIR) -> list[dict[str, Any]]:
    import datetime as dt

    collection = json.loads((seed_dir / "binzhou_register_generated.geojson").read_text("utf-8"))
    rows = []
    for feature in collection["features"]:
        p = dict(feature["properties"])
        lon, lat = feature["geometry"]["coordinates"]
        p["location"] = f"SRID=4326;POINT({lon} {lat})"
        for field in ("opened_on", "closed_on"):
            p[field] = dt.date.fromisoformat(p[field]) if p[field] else None
        p["last_verified_at"] = dt.datetime.fromisoformat(p["last_verified_at"]) if p["last_verified_at"] else None
        rows.append(p)
    return rows


async def load(engine: AsyncEngine, seed_dir: Path = SEED_DIR) -> LoadSummary:
    """Load boundaries, then the register, in one transaction."""
    async with engine.begin() as conn:
        regions_changed = 0
        for level_rows in _by_level(read_regions(seed_dir)):
            regions_changed += await regions.upsert(conn, level_rows)
        site_counts = await sites.upsert_by_external_id(conn, read_register(seed_dir))
    return LoadSummary(regions_changed, site_counts)


def _by_level(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    # One statement per level: a multi-row upsert cannot reference a parent it inserts in the same statement
    # and all rows of one statement must have the same keys.
    levels = sorted({r["level"] for r in rows}, key=REGION_LEVELS.index)
    return [[r for r in rows if r["level"] == level] for level in levels]
