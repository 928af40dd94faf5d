"""Coverage rules and figures (SPEC §6): who is within reach of a site of a kind, by area and by people."""

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import numpy as np
import shapely
import shapely.geometry
from pyproj import Transformer

from app import geo
from app.coverage import repository, siting
from app.db import Reader
from app.errors import InvalidParameter, NotFound
from app.vocabularies.service import site_kinds

CHINA_TIME = ZoneInfo("Asia/Shanghai")
# Gaps smaller than this are slivers between overlapping circles or along the boundary, not places.
GAP_MIN_AREA_M2 = 10_000.0
# The worst-served search starts with the sites this close to the region and doubles the distance until the answer
# proves itself: if the farthest point found is within the search distance, a site outside it is farther from
# every point of the region than that point's nearest site, so it cannot change the answer.
WORST_SERVED_FIRST_SEARCH_M = 20_000.0
EARTH_HALF_CIRCUMFERENCE_M = 2.0e7
MAX_RULE_RADIUS_M = 100_000.0


@dataclass(frozen=True)
class Rule:
    radius_m: float
    travel_minutes: int | None
    assumed_speed_kmh: float | None
    scope: str
    note: str | None

    def describe(self) -> dict[str, Any]:
        travel = self.travel_minutes is not None
        return {
            "type": "travel_time" if travel else "radius",
            "radius_m": self.radius_m,
            "travel_minutes": self.travel_minutes,
            "assumed_speed_kmh": self.assumed_speed_kmh,
            "approximation": "radius = minutes × assumed speed (no road network loaded)" if travel else None,
            "scope": self.scope,
            "note": self.note,
        }

    def label(self) -> str:
        """A short human form for report tables: '2000 m' or '30 min × 15 km/h = 7500 m'."""
        if self.travel_minutes is not None:
            return f"{self.travel_minutes} min × {self.assumed_speed_kmh:g} km/h = {self.radius_m:.0f} m"
        return f"{self.radius_m:.0f} m"


def today() -> dt.date:
    return dt.datetime.now(CHINA_TIME).date()


async def _region(reader: Reader, adcode: str) -> asyncpg.Record:
    row = await repository.region(reader, adcode)
    if row is None:
        raise NotFound(f"no region with adcode {adcode}")
    return row


async def resolve_rule(reader: Reader, adcode: str, kind: str, radius_override: float | None) -> Rule:
    if radius_override is not None:
        return Rule(radius_override, None, None, "query", "radius_m given in the request (what-if)")
    row = await repository.rule(reader, adcode, kind)
    if row is None:
        raise InvalidParameter("kind", f"no coverage rule for kind {kind} in region {adcode}")
    if row["radius_m"] is not None:
        radius = float(row["radius_m"])
    else:
        radius = row["travel_minutes"] / 60 * row["assumed_speed_kmh"] * 1000
    return Rule(radius, row["travel_minutes"], row["assumed_speed_kmh"], row["scope"], row["note"])


@dataclass(frozen=True)
class Evaluation:
    """What every coverage question shares: the kind, the date and whether that date is today."""

    kind: str
    as_of: dt.date
    radius_override: float | None

    @property
    def today(self) -> bool:
        return self.as_of == today()


async def evaluation(reader: Reader, kind: str, as_of: dt.date | None, radius_m: float | None) -> Evaluation:
    await site_kinds.check(reader, "kind", [kind])
    return Evaluation(kind, as_of or today(), radius_m)


def _srid(region: asyncpg.Record) -> int:
    return int(region["equal_area_srid"])


async def _worst_served(reader: Reader, region: asyncpg.Record, ev: Evaluation) -> dict[str, Any] | None:
    srid = _srid(region)
    search = WORST_SERVED_FIRST_SEARCH_M
    while True:
        spot = await repository.worst_served(reader, region["adcode"], ev.kind, search, srid, ev.as_of, ev.today)
        # 1 % margin: the search distance is geodesic, the Voronoi distance planar in the local projection.
        if (spot is not None and spot["planar_m"] <= 0.99 * search) or search >= EARTH_HALF_CIRCUMFERENCE_M:
            break
        search *= 2
    if spot is None:
        return None  # no site of the kind anywhere
    # The Voronoi search is planar in the local projection; the distance reported is the geodesic one.
    nearest = await repository.nearest_serving(reader, ev.kind, ev.as_of, ev.today, spot["lon"], spot["lat"])
    assert nearest is not None
    return {
        "lat": round(spot["lat"], 6),
        "lon": round(spot["lon"], 6),
        "distance_m": geo.decimetres(nearest["distance_m"]),
        "nearest_site_id": nearest["id"],
    }


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


async def _leaf_row(reader: Reader, region: asyncpg.Record, ev: Evaluation) -> dict[str, Any]:
    rule = await resolve_rule(reader, region["adcode"], ev.kind, ev.radius_override)
    figures = await repository.coverage(
        reader, region["adcode"], ev.kind, rule.radius_m, _srid(region), ev.as_of, ev.today
    )
    return {
        "adcode": region["adcode"],
        "name": region["name"],
        "is_urban_district": region["is_urban_district"],
        "rule": rule.describe(),
        "rule_label": rule.label(),
        "area_km2": round(figures["area_km2"], 3),
        "covered_area_km2": round(figures["covered_area_km2"], 3),
        "covered_area_share": _share(figures["covered_area_km2"], figures["area_km2"]),
        "population": region["population"],
        "population_source": region["population_source"],
        "covered_population": round(figures["covered_population"]) if region["population_source"] else None,
        "covered_population_share": _share(figures["covered_population"], figures["cells_population"]),
        "site_count": figures["site_count"],
        "worst_served": await _worst_served(reader, region, ev),
    }


def _aggregate(region: asyncpg.Record, rows: list[dict[str, Any]]) -> dict[str, Any]:
    area = sum(r["area_km2"] for r in rows)
    covered = sum(r["covered_area_km2"] for r in rows)
    with_people = [r for r in rows if r["covered_population"] is not None]
    people = sum(r["population"] or 0 for r in with_people)
    covered_people = sum(r["covered_population"] for r in with_people)
    served = [r["worst_served"] for r in rows if r["worst_served"] is not None]
    return {
        "adcode": region["adcode"],
        "name": region["name"],
        "is_urban_district": region["is_urban_district"],
        "rule": {"type": "per_child_region", "children": {r["adcode"]: r["rule_label"] for r in rows}},
        "rule_label": "按下级区划规则 / per child region",
        "area_km2": round(area, 3),
        "covered_area_km2": round(covered, 3),
        "covered_area_share": _share(covered, area),
        "population": region["population"],
        "population_source": rows[0]["population_source"] if rows else None,
        "covered_population": covered_people if with_people else None,
        "covered_population_share": _share(covered_people, people) if with_people else None,
        "site_count": sum(r["site_count"] for r in rows),
        "worst_served": max(served, key=lambda s: s["distance_m"]) if served else None,
    }


async def _row(reader: Reader, region: asyncpg.Record, ev: Evaluation) -> dict[str, Any]:
    if not region["has_children"]:
        return await _leaf_row(reader, region, ev)
    # A parent's figures are its children's, each under its own rule (a city's urban districts at 2 km, its
    # counties at half an hour).
    return _aggregate(region, await child_rows(reader, region["adcode"], ev))


async def region_coverage(reader: Reader, adcode: str, ev: Evaluation) -> dict[str, Any]:
    row = await _row(reader, await _region(reader, adcode), ev)
    return {"kind": ev.kind, "as_of": ev.as_of.isoformat(), **row}


# Child rows are independent; a pool runs a few at once (the database does the work, on more than one core).
CHILD_ROWS_AT_ONCE = 4


async def child_rows(reader: Reader, adcode: str, ev: Evaluation) -> list[dict[str, Any]]:
    await _region(reader, adcode)
    children = await repository.children(reader, adcode)
    if isinstance(reader, asyncpg.Connection):
        # One connection (a test's transaction) runs one query at a time.
        return [await _row(reader, child, ev) for child in children]
    limit = asyncio.Semaphore(CHILD_ROWS_AT_ONCE)

    async def row(child: asyncpg.Record) -> dict[str, Any]:
        async with limit:
            return await _row(reader, child, ev)

    return list(await asyncio.gather(*(row(child) for child in children)))


async def gaps(reader: Reader, adcode: str, ev: Evaluation) -> dict[str, Any]:
    region = await _region(reader, adcode)
    regions = await repository.children(reader, adcode) if region["has_children"] else [region]
    features = []
    for leaf in regions:
        rule = await resolve_rule(reader, leaf["adcode"], ev.kind, ev.radius_override)
        args = (reader, leaf["adcode"], ev.kind, rule.radius_m, _srid(leaf), ev.as_of, ev.today)
        parts = await repository.gaps(*args, GAP_MIN_AREA_M2)
        people = _people_in(parts, await repository.uncovered_cells(*args)) if leaf["population_source"] else None
        for i, part in enumerate(parts):
            features.append(
                {
                    "type": "Feature",
                    "geometry": part["geometry"],
                    "properties": {
                        "region": leaf["adcode"],
                        "area_km2": round(part["area_km2"], 3),
                        "population": round(people[i]) if people is not None else None,
                    },
                }
            )
    features.sort(key=lambda f: f["properties"]["area_km2"], reverse=True)
    return {
        "type": "FeatureCollection",
        "kind": ev.kind,
        "as_of": ev.as_of.isoformat(),
        "min_gap_area_km2": GAP_MIN_AREA_M2 / 1e6,
        "features": features,
    }


def _people_in(parts: list[asyncpg.Record], cells: list[asyncpg.Record]) -> list[float]:
    """People of the uncovered cells whose centroid lies in each gap part (cells in dropped slivers count nowhere)."""
    if not cells:
        return [0.0] * len(parts)
    lon = np.array([c["lon"] for c in cells])
    lat = np.array([c["lat"] for c in cells])
    population = np.array([c["population"] for c in cells])
    unassigned = np.ones(len(cells), dtype=bool)
    totals = []
    for part in parts:
        polygon = shapely.geometry.shape(part["geometry"])
        shapely.prepare(polygon)
        inside = unassigned & shapely.contains_xy(polygon, lon, lat)
        unassigned &= ~inside
        totals.append(float(population[inside].sum()))
    return totals


async def point_coverage(reader: Reader, lon: float, lat: float, ev: Evaluation) -> dict[str, Any]:
    adcode = await repository.region_of_point(reader, lon, lat)
    if adcode is None:
        raise NotFound("no loaded region contains this point, so no coverage rule applies")
    rule = await resolve_rule(reader, adcode, ev.kind, ev.radius_override)
    nearest = await repository.nearest_serving(reader, ev.kind, ev.as_of, ev.today, lon, lat)
    distance: float | None = nearest["distance_m"] if nearest else None
    return {
        "kind": ev.kind,
        "as_of": ev.as_of.isoformat(),
        "region": adcode,
        "rule": rule.describe(),
        "covered": distance is not None and distance <= rule.radius_m,
        "nearest_site": {"id": nearest["id"], "distance_m": round(distance, 1)}
        if nearest is not None and distance is not None
        else None,
    }


# --- siting ---------------------------------------------------------------------------------------------------

MAX_SUGGESTIONS = 50
GRID_CANDIDATES = "centroids of the 1 km population cells not yet covered"


@dataclass
class SitingInstance:
    """A region's siting problem as data: what the greedy solves, and what tests hand to an exact solver."""

    instance: siting.Instance
    candidates_lonlat: list[tuple[float, float]]
    candidate_source: str
    leaves: list[asyncpg.Record]
    rules: dict[str, Rule]


async def siting_instance(
    reader: Reader, adcode: str, ev: Evaluation, candidates: list[tuple[float, float]] | None = None
) -> SitingInstance:
    region = await _region(reader, adcode)
    leaves = list(await repository.children(reader, adcode)) if region["has_children"] else [region]
    to_plane = Transformer.from_crs("EPSG:4326", await repository.projection(reader, _srid(region)), always_xy=True)
    rules: dict[str, Rule] = {}
    cells: list[tuple[float, float, float, float, float]] = []
    for leaf in leaves:
        rule = rules[leaf["adcode"]] = await resolve_rule(reader, leaf["adcode"], ev.kind, ev.radius_override)
        for c in await repository.uncovered_cells(
            reader, leaf["adcode"], ev.kind, rule.radius_m, _srid(leaf), ev.as_of, ev.today
        ):
            cells.append((c["lon"], c["lat"], c["population"], c["area_km2"], rule.radius_m))
    table = np.array(cells, dtype=np.float64).reshape(-1, 5)
    if candidates is None:
        candidates = [(lon, lat) for lon, lat, *_ in cells]
        source = GRID_CANDIDATES
    else:
        source = f"given ({len(candidates)} points)"
    demand_x, demand_y = to_plane.transform(table[:, 0], table[:, 1])
    cand = np.array(candidates, dtype=np.float64).reshape(-1, 2)
    cand_x, cand_y = to_plane.transform(cand[:, 0], cand[:, 1])
    instance = siting.Instance(
        demand_xy=np.column_stack([demand_x, demand_y]),
        demand_people=table[:, 2],
        demand_area_km2=table[:, 3],
        demand_radius_m=table[:, 4],
        candidate_xy=np.column_stack([cand_x, cand_y]),
    )
    return SitingInstance(instance, list(candidates), source, leaves, rules)


async def _covered(
    reader: Reader, leaf: asyncpg.Record, ev: Evaluation, rule: Rule, extra: list[tuple[float, float]]
) -> tuple[float, float]:
    figures = await repository.coverage(
        reader, leaf["adcode"], ev.kind, rule.radius_m, _srid(leaf), ev.as_of, ev.today, extra
    )
    return float(figures["covered_area_km2"]), float(figures["covered_population"])


async def suggest(
    reader: Reader, adcode: str, ev: Evaluation, count: int, candidates: list[tuple[float, float]] | None
) -> dict[str, Any]:
    problem = await siting_instance(reader, adcode, ev, candidates)
    picks = siting.greedy(problem.instance, count)
    chosen: list[tuple[float, float]] = []
    covered = {
        leaf["adcode"]: await _covered(reader, leaf, ev, problem.rules[leaf["adcode"]], []) for leaf in problem.leaves
    }
    before = _totals(problem.leaves, covered)
    suggestions = []
    for rank, pick in enumerate(picks, start=1):
        lon, lat = problem.candidates_lonlat[pick.candidate]
        chosen.append((lon, lat))
        gain_area = 0.0
        # Area gains are measured, not estimated: each region within reach is re-evaluated with the new site.
        for leaf in problem.leaves:
            rule = problem.rules[leaf["adcode"]]
            if not await repository.within_reach(reader, leaf["adcode"], lon, lat, rule.radius_m):
                continue
            now = await _covered(reader, leaf, ev, rule, chosen)
            gain_area += now[0] - covered[leaf["adcode"]][0]
            covered[leaf["adcode"]] = now
        suggestions.append(
            {
                "rank": rank,
                "lat": round(lat, 6),
                "lon": round(lon, 6),
                "region": await repository.region_of_point(reader, lon, lat),
                "gain_population": round(pick.people),
                "gain_area_km2": round(gain_area, 3),
            }
        )
    return {
        "region": adcode,
        "kind": ev.kind,
        "as_of": ev.as_of.isoformat(),
        "rules": {a: r.describe() for a, r in problem.rules.items()},
        "method": "greedy maximal coverage of modelled people (ties: area), existing sites fixed",
        "candidate_source": problem.candidate_source,
        "candidates_considered": len(problem.candidates_lonlat),
        "before": before,
        "after": _totals(problem.leaves, covered),
        "suggestions": suggestions,
    }


def _totals(leaves: list[asyncpg.Record], covered: dict[str, tuple[float, float]]) -> dict[str, Any]:
    area = sum(covered[leaf["adcode"]][0] for leaf in leaves)
    people = sum(covered[leaf["adcode"]][1] for leaf in leaves)
    population = sum(leaf["population"] or 0 for leaf in leaves)
    return {
        "covered_area_km2": round(area, 3),
        "covered_population": round(people),
        "covered_population_share": _share(people, population),
    }
