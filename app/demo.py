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
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.coverage import repository as coverage
from app.coverage.population import CensusSeatDecayModel, PopulationModel, RegionForModel
from app.database.connections import act_as
from app.paths import SEED_DIR
from app.regions import repository as regions
from app.regions.loader import CENSUS_SOURCE
from app.regions.urban import is_urban_district
from app.sites import fields
from app.sites import repository as sites
from app.vocabularies.closed import RegionLevel

CITY = {"adcode": "371600", "name": "滨州市"}


@dataclass(frozen=True)
class LoadSummary:
    regions_changed: int
    population_regions_built: int
    sites: dict[str, int]


def _ewkt(geometry: Any) -> str:
    return f"SRID=4326;{geometry.wkt}"


def _census(seed_dir: Path) -> dict[str, dict[str, str]]:
    with (seed_dir / "census2020_binzhou_counties.csv").open(encoding="utf-8") as f:
        return {row["adcode"]: row for row in csv.DictReader(f)}


def _county_features(seed_dir: Path) -> list[dict[str, Any]]:
    path = seed_dir / "binzhou_371600_counties_tianditu_wgs84.geojson"
    features: list[dict[str, Any]] = json.loads(path.read_text("utf-8"))["features"]
    return features


def read_regions(seed_dir: Path = SEED_DIR) -> list[dict[str, Any]]:
    """The city first (parents before children), then its counties."""
    population = {adcode: int(row["census2020_pop"]) for adcode, row in _census(seed_dir).items()}
    counties = []
    for feature in _county_features(seed_dir):
        p = feature["properties"]
        boundary = shape(feature["geometry"])
        counties.append(
            {
                "adcode": str(p["adcode"]),
                "name": p["name"],
                "level": "county",
                "parent_adcode": CITY["adcode"],
                "is_urban_district": is_urban_district(p["name"], in_a_city=True),
                "boundary": MultiPolygon([boundary]) if boundary.geom_type == "Polygon" else boundary,
                "seat": Point(p["seat_lon"], p["seat_lat"]),
                "population": population[str(p["adcode"])],
                "population_source": CENSUS_SOURCE,
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
        "population_source": CENSUS_SOURCE,
    }
    return [{**r, "boundary": _ewkt(r["boundary"]), "seat": _ewkt(r["seat"])} for r in [city, *counties]]


def read_register(seed_dir: Path = SEED_DIR) -> list[dict[str, Any]]:
    import datetime as dt

    collection = json.loads((seed_dir / "binzhou_register_generated.geojson").read_text("utf-8"))
    rows = []
    for feature in collection["features"]:
        p = dict(feature["properties"])
        p["lon"], p["lat"] = feature["geometry"]["coordinates"]
        for field in ("opened_on", "closed_on"):
            p[field] = dt.date.fromisoformat(p[field]) if p[field] else None
        p["last_verified_at"] = dt.datetime.fromisoformat(p["last_verified_at"]) if p["last_verified_at"] else None
        rows.append(p)
    return rows


def population_inputs(seed_dir: Path = SEED_DIR) -> list[RegionForModel]:
    """What the population model needs per county: boundary, seat, census total and urban share."""
    census = _census(seed_dir)
    return [
        RegionForModel(
            adcode=str(f["properties"]["adcode"]),
            boundary=shape(f["geometry"]),
            seat=(f["properties"]["seat_lon"], f["properties"]["seat_lat"]),
            population=int(census[str(f["properties"]["adcode"])]["census2020_pop"]),
            urban_share=float(census[str(f["properties"]["adcode"])]["urban_share"]),
        )
        for f in _county_features(seed_dir)
    ]


async def load(engine: AsyncEngine, seed_dir: Path = SEED_DIR, model: PopulationModel | None = None) -> LoadSummary:
    """Load boundaries, the population surface, then the register, in one transaction."""
    model = model or CensusSeatDecayModel()
    async with engine.begin() as conn:
        await act_as(conn, "seed:binzhou-demo")
        regions_changed = 0
        for level_rows in _by_level(read_regions(seed_dir)):
            regions_changed += (await _upsert_demo_regions(conn, level_rows)).written
        populated = 0
        for county in population_inputs(seed_dir):
            if regions_changed or not await coverage.has_population(conn, county.adcode, model.source):
                await coverage.replace_population(conn, county.adcode, model.source, list(model.cells(county)))
                populated += 1
        register = [sites.staged_row(row) for row in read_register(seed_dir)]
        site_counts = sites.summarize(register, await sites.upsert_by_external_id(conn, register))
    return LoadSummary(regions_changed, populated, site_counts)


async def _upsert_demo_regions(conn: AsyncConnection, rows: list[dict[str, Any]]) -> regions.Upserted:
    """The demo's counties are the national set's (app.regions.loader), row for row; its city and 上海市 stand in
    for the ones `yizhan regions load` makes from all their counties, so they are only added where missing, never
    written over a loaded one."""
    return await regions.upsert(conn, rows, overwrite=rows[0]["level"] == RegionLevel.county)


def _by_level(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    # One statement per level: a multi-row upsert cannot reference a parent it inserts in the same statement
    # and all rows of one statement must have the same keys.
    levels = sorted({r["level"] for r in rows}, key=list(RegionLevel).index)
    return [[r for r in rows if r["level"] == level] for level in levels]


# Shanghai 黄浦区: a county with a real road network (seed/shanghai_huangpu_osmnx.osm), so the demo shows travel-time
# rules on real streets beside Binzhou's radius approximation.
HUANGPU = {"adcode": "310101", "name": "黄浦区"}
HUANGPU_POPULATION = 662_030
HUANGPU_URBAN_SHARE = 1.0
SHANGHAI = {"adcode": "310000", "name": "上海市"}
HUANGPU_POPULATION_SOURCE = "2020 census, NBS county tabulation (via thebamboogrove/tudigong): 黄浦区 662,030"
HUANGPU_NETWORK = "shanghai_huangpu"


@dataclass(frozen=True)
class HuangpuSummary:
    regions_changed: int
    sites: dict[str, int]
    network: str  # created, replaced, unchanged


def _huangpu_feature(seed_dir: Path) -> dict[str, Any]:
    path = seed_dir / "huangpu_310101_tianditu_wgs84.geojson"
    feature: dict[str, Any] = json.loads(path.read_text("utf-8"))["features"][0]
    return feature


def read_huangpu_regions(seed_dir: Path = SEED_DIR) -> list[dict[str, Any]]:
    """上海市 (the municipality, province level) and 黄浦区, its urban district."""
    feature = _huangpu_feature(seed_dir)
    boundary = MultiPolygon([shape(feature["geometry"])])
    seat = Point(feature["properties"]["seat_lon"], feature["properties"]["seat_lat"])
    county = {"seat": _ewkt(seat), "population": HUANGPU_POPULATION, "population_source": HUANGPU_POPULATION_SOURCE}
    # Only 黄浦区 of Shanghai is in the demo: the municipality is its parent, drawn as that district, with no
    # population of its own (it would claim 黄浦区's 662,030 for 24.9 million people).
    municipality = {"seat": _ewkt(seat), "population": None, "population_source": "not loaded: only 黄浦区 is"}
    return [
        {**SHANGHAI, "level": "province", "parent_adcode": None, "is_urban_district": False,
         "boundary": _ewkt(boundary), **municipality},
        {"adcode": HUANGPU["adcode"], "name": HUANGPU["name"], "level": "county", "parent_adcode": SHANGHAI["adcode"],
         "is_urban_district": is_urban_district(HUANGPU["name"], in_a_city=False), "boundary": _ewkt(boundary),
         **county},
    ]  # fmt: skip


def read_huangpu_register(seed_dir: Path = SEED_DIR) -> list[dict[str, Any]]:
    import datetime as dt

    collection = json.loads((seed_dir / "huangpu_register_generated.geojson").read_text("utf-8"))
    rows = []
    for feature in collection["features"]:
        p = {**fields.DEFAULTS, **feature["properties"]}
        p["lon"], p["lat"] = feature["geometry"]["coordinates"]
        p["opened_on"] = dt.date.fromisoformat(p["opened_on"])
        rows.append(p)
    return rows


async def load_huangpu(
    engine: AsyncEngine, seed_dir: Path = SEED_DIR, model: PopulationModel | None = None
) -> HuangpuSummary:
    """黄浦区's boundary, population surface, generated register and road network, in one transaction."""
    async with engine.begin() as conn:
        return await load_huangpu_in(conn, seed_dir, model)


async def load_huangpu_in(
    conn: AsyncConnection, seed_dir: Path = SEED_DIR, model: PopulationModel | None = None
) -> HuangpuSummary:
    """load_huangpu in the caller's transaction."""
    from app.roads import importer, osm  # the network import reads the extract (pyosmium)

    model = model or CensusSeatDecayModel()
    extract = osm.read(seed_dir / "shanghai_huangpu_osmnx.osm")
    await act_as(conn, "seed:huangpu-demo")
    changed = 0
    for level_rows in _by_level(read_huangpu_regions(seed_dir)):
        changed += (await _upsert_demo_regions(conn, level_rows)).written
    feature = _huangpu_feature(seed_dir)
    county = RegionForModel(
        adcode=HUANGPU["adcode"],
        boundary=shape(feature["geometry"]),
        seat=(feature["properties"]["seat_lon"], feature["properties"]["seat_lat"]),
        population=HUANGPU_POPULATION,
        urban_share=HUANGPU_URBAN_SHARE,
    )
    if changed or not await coverage.has_population(conn, county.adcode, model.source):
        await coverage.replace_population(conn, county.adcode, model.source, list(model.cells(county)))
    register = [sites.staged_row(row) for row in read_huangpu_register(seed_dir)]
    site_counts = sites.summarize(register, await sites.upsert_by_external_id(conn, register))
    network = await importer.import_extract(conn, extract, HUANGPU_NETWORK, replace=True)
    return HuangpuSummary(changed, site_counts, network.outcome)
