"""All of China's regions from the national set (seed/china): counties with their 2020 census population, and the
cities, provinces and the national root (全国 100000) made from them.

A parent is made from its children as they stand in the database (`build_parents`): the union of their boundaries
(they tile it) and the sum of its counties' census figures. Counties made or renumbered after the census have no
figure (population null), nor has 金门县; a parent's population_source says how many of its counties it sums and
how many it misses. A county whose city code is its own (东莞市, 仙桃市, 石河子市 …) or its province's (the
municipalities' districts, 香港, 台湾) has no prefecture-level city: its parent is the province. 澳门, one unit
with its province's code, is loaded as the province. Loading is an upsert by adcode in one transaction: loading
again changes nothing; an operator's urban-district override is kept.

Modelled population (app.coverage.population, labelled as a model) is made in bulk, in worker processes (one per
core), for every county whose row the load added or changed or which has no cells yet (the demo's Binzhou keeps its
own).
"""

import csv
import gzip
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol

import shapely
from shapely import MultiPolygon, Point
from shapely.geometry import shape
from sqlalchemy.ext.asyncio import AsyncConnection

from app.coverage import repository as coverage
from app.coverage.population import CensusSeatDecayModel, RegionForModel
from app.database.connections import act_as
from app.geo import GEOD
from app.paths import SEED_DIR
from app.regions import repository
from app.regions.repository import Upserted
from app.regions.urban import is_urban_district
from app.vocabularies.closed import RegionLevel

CHINA_DIR = SEED_DIR / "china"
COUNTIES_FILE = "china_counties_tianditu_wgs84.geojson.gz"
CENSUS_FILE = "census2020_counties.csv"
CENSUS_SOURCE = "2020 census, NBS county tabulation (via thebamboogrove/tudigong)"
NO_CENSUS = "no 2020 census figure for this county"
COUNTRY = {"adcode": "100000", "name": "全国"}
# Rows a statement: a multi-row upsert of 10 fields stays far below PostgreSQL's 32,767 parameters.
UPSERT_CHUNK = 500
COPY_CELLS = 50_000  # modelled cells a copy into population_cells


@dataclass(frozen=True)
class County:
    """A county of the national set, with what its parents are made from."""

    adcode: str
    name: str
    city_adcode: str | None  # None: the province governs it directly
    city_name: str | None
    province_adcode: str
    province_name: str
    boundary: MultiPolygon
    seat: tuple[float, float]
    population: int | None
    urban_share: float | None

    @property
    def is_province(self) -> bool:
        """澳门 is one county-level unit with its province's code: it is loaded once, as the province."""
        return self.adcode == self.province_adcode

    @property
    def level(self) -> RegionLevel:
        return RegionLevel.province if self.is_province else RegionLevel.county

    @property
    def parent_adcode(self) -> str:
        return COUNTRY["adcode"] if self.is_province else self.city_adcode or self.province_adcode

    def row(self) -> dict[str, Any]:
        return {
            "adcode": self.adcode,
            "name": self.name,
            "level": self.level,
            "parent_adcode": self.parent_adcode,
            "is_urban_district": is_urban_district(self.name, in_a_city=self.city_adcode is not None),
            "boundary": f"SRID=4326;{self.boundary.wkt}",
            "seat": f"SRID=4326;{Point(self.seat).wkt}",
            "population": self.population,
            "population_source": CENSUS_SOURCE if self.population is not None else NO_CENSUS,
        }


@cache
def national_counties(china_dir: Path = CHINA_DIR) -> dict[str, County]:
    """The 2,891 counties by adcode, read once a process."""
    with (china_dir / CENSUS_FILE).open(encoding="utf-8-sig") as f:
        census = {row["CODE"]: row for row in csv.DictReader(f)}
    with gzip.open(china_dir / COUNTIES_FILE, "rt", encoding="utf-8") as f:
        features = json.load(f)["features"]
    counties = {}
    for feature in features:
        p = {k: str(v) for k, v in feature["properties"].items()}
        boundary = shape(feature["geometry"])
        # 金门县 has a census row without figures.
        in_census = census.get(p["adcode"]) if census.get(p["adcode"], {}).get("POPU") else None
        has_city = p["city_adcode"] not in (p["adcode"], p["province_adcode"])
        counties[p["adcode"]] = County(
            adcode=p["adcode"],
            name=p["name"],
            city_adcode=p["city_adcode"] if has_city else None,
            city_name=p["city_name"] if has_city else None,
            province_adcode=p["province_adcode"],
            province_name=p["province_name"],
            boundary=MultiPolygon([boundary]) if boundary.geom_type == "Polygon" else boundary,
            seat=(float(p["seat_lon"]), float(p["seat_lat"])),
            population=int(in_census["POPU"]) if in_census else None,
            urban_share=float(in_census["POPU_URB"]) if in_census else None,
        )
    return counties


class UnknownRegion(LookupError):
    """No county of the national set lies in the region asked for."""


def select_counties(city: str | None = None, province: str | None = None) -> list[County]:
    """The counties of a city (its adcode; a county without a city is its own), of a province (its adcode or its
    two digits), or of all of China when neither is given."""
    counties = national_counties().values()
    if city is not None:
        chosen = [c for c in counties if city in (c.city_adcode, c.adcode)]
        asked = f"city {city}"
    elif province is not None:
        code = province.ljust(6, "0")
        chosen = [c for c in counties if c.province_adcode == code]
        asked = f"province {province}"
    else:
        return list(counties)
    if not chosen:
        raise UnknownRegion(f"no county of the national set is in {asked}")
    return chosen


class LoadProgress(Protocol):
    """Told of each step of a load, for a progress bar."""

    def step(self, description: str, total: int) -> None: ...

    def advance(self, count: int) -> None: ...


class _Silent:
    def step(self, description: str, total: int) -> None:
        pass

    def advance(self, count: int) -> None:
        pass


@dataclass
class LoadSummary:
    """What a load did, level by level, and how many counties got modelled population."""

    levels: dict[str, Upserted] = field(default_factory=dict)
    population_modelled: int = 0

    def add(self, level: str, done: Upserted) -> None:
        self.levels[level] = self.levels.get(level, Upserted()) + done


async def load(
    conn: AsyncConnection,
    counties: list[County],
    progress: LoadProgress | None = None,
    workers: int | None = None,
) -> LoadSummary:
    """Upsert `counties`, their cities, provinces and the national root, then model the population of every county
    that needs it, in the caller's transaction."""
    progress = progress or _Silent()
    summary = LoadSummary()
    await act_as(conn, "yizhan regions load")
    progress.step(f"{len(counties):,} counties", len(counties))
    counties = sorted(counties, key=lambda c: c.adcode)
    for start in range(0, len(counties), UPSERT_CHUNK):
        chunk = counties[start : start + UPSERT_CHUNK]
        for level in (RegionLevel.county, RegionLevel.province):
            rows = [c.row() for c in chunk if c.level == level]
            summary.add(level, await repository.upsert(conn, rows))
        progress.advance(len(chunk))
    for level, parents in _ancestors(counties):
        progress.step(f"{len(parents):,} {level} regions made from their children", len(parents))
        summary.add(level, await build_parents(conn, parents))
        progress.advance(len(parents))
    written = summary.levels[RegionLevel.county].adcodes | summary.levels[RegionLevel.province].adcodes
    summary.population_modelled = await model_population(conn, counties, written, progress, workers)
    return summary


def _ancestors(counties: list[County]) -> list[tuple[RegionLevel, list[dict[str, Any]]]]:
    """The cities, provinces and root above `counties`, a level at a time from the bottom, each with its name and
    parent."""
    cities = {c.city_adcode: (c.city_name, c.province_adcode) for c in counties if c.city_adcode}
    provinces = {c.province_adcode: c.province_name for c in counties if not c.is_province}
    return [
        (RegionLevel.city, [{"adcode": a, "name": n, "level": RegionLevel.city, "parent_adcode": p}
                            for a, (n, p) in sorted(cities.items())]),
        (RegionLevel.province, [{"adcode": a, "name": n, "level": RegionLevel.province,
                                 "parent_adcode": COUNTRY["adcode"]} for a, n in sorted(provinces.items())]),
        (RegionLevel.country, [{**COUNTRY, "level": RegionLevel.country, "parent_adcode": None}]),
    ]  # fmt: skip


async def build_parents(conn: AsyncConnection, parents: list[dict[str, Any]]) -> Upserted:
    """Make or remake each parent (adcode, name, level, parent_adcode) from its children in the database: their
    boundaries' union and its counties' summed census population."""
    sums = await repository.county_population(conn, [p["adcode"] for p in parents])
    rows = []
    for parent in parents:
        counted = sums[parent["adcode"]]
        summed = counted.counties - counted.without_population
        note = f"{CENSUS_SOURCE}: the sum of its {summed:,} loaded counties' figures"
        if counted.without_population:
            note += f"; {counted.without_population:,} loaded counties without one are not in it"
        rows.append({**parent, "population": counted.population, "population_source": note})
    return await repository.upsert_from_children(conn, rows)


async def model_population(
    conn: AsyncConnection,
    counties: list[County],
    written: frozenset[str],
    progress: LoadProgress,
    workers: int | None = None,
) -> int:
    """Model the population of each county with a census figure whose row this load wrote (added or changed) or
    which has no modelled cells; returns how many were modelled."""
    censused = [c for c in counties if c.population is not None]
    modelled = await coverage.regions_with_population(conn, [c.adcode for c in censused])
    todo = [_for_model(c) for c in censused if c.adcode in written or c.adcode not in modelled]
    progress.step(f"modelling the population of {len(todo):,} counties", len(todo))
    if not todo:
        return 0
    # Largest first, so that no worker is left with a vast county at the end.
    todo.sort(key=lambda county: -county[1])
    batch: list[coverage.PopulationRows] = []
    with ProcessPoolExecutor(workers or os.cpu_count() or 1, mp_context=get_context("forkserver")) as pool:
        for cells in pool.map(_modelled_cells, todo):
            batch.append(cells)
            if sum(len(b.population) for b in batch) >= COPY_CELLS:
                await coverage.replace_population_bulk(conn, batch)
                progress.advance(len(batch))
                batch = []
    await coverage.replace_population_bulk(conn, batch)
    progress.advance(len(batch))
    return len(todo)


def _for_model(county: County) -> tuple[RegionForModel, float]:
    """What a worker needs to model the county: its census figures and its area, which sets its cell size."""
    assert county.population is not None and county.urban_share is not None
    region = RegionForModel(county.adcode, county.boundary, county.seat, county.population, county.urban_share)
    area, _ = GEOD.geometry_area_perimeter(county.boundary)
    return region, abs(area) / 1e6


def _modelled_cells(county: tuple[RegionForModel, float]) -> coverage.PopulationRows:
    """In a worker process: the county's cells as EWKB, ready to copy."""
    region, area_km2 = county
    model = CensusSeatDecayModel.for_area(area_km2)
    cells, centroids, population = model.cell_arrays(region)
    return coverage.PopulationRows(
        adcode=region.adcode,
        source=model.source,
        cells=list(shapely.to_wkb(shapely.set_srid(cells, 4326), include_srid=True)),
        centroids=list(shapely.to_wkb(shapely.set_srid(centroids, 4326), include_srid=True)),
        population=population.tolist(),
    )
