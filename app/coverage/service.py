"""Coverage rules and figures (SPEC §6): who is within reach of a site of a kind, by area and by people."""

import asyncio
import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import numpy as np
import orjson
import shapely
import shapely.geometry

from app import geo
from app.compute import offload
from app.compute.kept import Kept
from app.coverage import covered, planar, repository
from app.coverage.evaluation import Evaluation
from app.coverage.rules import Rule, resolve_rule
from app.database.read_pool import Reader
from app.formats import geojson
from app.problems import NotFound, NotOnNetwork
from app.roads import repository as roads_repository
from app.roads import service as roads
from app.roads.modes import Mode
from app.sites.nearest import service as nearest

T = TypeVar("T")
# Gaps smaller than this are slivers between overlapping circles or along the boundary, not places.
GAP_MIN_AREA_M2 = 10_000.0
PER_CHILD_RULE_LABEL = "按下级区划规则 / per child region"


async def find_region(reader: Reader, adcode: str) -> asyncpg.Record:
    row = await repository.region(reader, adcode)
    if row is None:
        raise NotFound(f"no region with adcode {adcode}")
    return row


# A leaf region's figures for one evaluation, kept for a minute for the same state of the register: the map asks
# for the same counties' coverage through the table, the region, its gaps and the tiles at once. A site's change
# moves the state at once; a change of rules or boundaries (an operator's) is seen within KEPT_SECONDS. What-if
# questions make new keys without end: at most KEPT_ANSWERS answers and KEPT_BYTES of them are kept.
KEPT_SECONDS = 60.0
KEPT_ANSWERS = 2_000
KEPT_BYTES = 16 * 1024 * 1024
_kept = Kept("coverage", KEPT_SECONDS, KEPT_ANSWERS, KEPT_BYTES)
COORDINATE_BYTES = 16  # two float64 in a shapely geometry
GEOJSON_PER_WKB_BYTE = 8  # a GeoJSON dict of Python floats weighs about eight times its WKB


def _row_bytes(row: dict[str, Any]) -> int:
    return 4 * len(orjson.dumps(row))


def _covered_bytes(found: covered.Covered) -> int:
    shapes = [found.area, *(c.shape for c in found.catchments)]
    return int(shapely.get_num_coordinates(shapes).sum()) * COORDINATE_BYTES


def _gaps_bytes(gaps: list["Gap"]) -> int:
    return sum(len(gap.wkb) for gap in gaps) * (1 + GEOJSON_PER_WKB_BYTE)


def _key(what: str, region: asyncpg.Record, ev: Evaluation) -> tuple[Any, ...] | None:
    if ev.state is None:
        return None
    return (what, region["adcode"], ev.kind, ev.as_of, ev.radius_override, ev.min_sites_override, ev.state)


async def _worst_served(reader: Reader, region: asyncpg.Record, rule: Rule, ev: Evaluation) -> dict[str, Any] | None:
    if not rule.is_single_radius:
        found = await covered.worst_served(reader, ev.catchments(region, covered.search_m(rule)), rule)
        return await _with_kth_site(reader, ev, found, rule.min_sites) if found is not None else None
    search = covered.WORST_SERVED_FIRST_SEARCH_M
    while True:
        spot = await repository.worst_served(reader, ev.catchments(region, search))
        # The search distance is geodesic, the Voronoi distance planar in the local projection.
        if (spot is not None and spot["planar_m"] <= (1 - geo.PLANAR_MARGIN) * search) or search >= geo.FARTHEST_M:
            break
        search *= 2
    if spot is None:
        return None  # no site of the kind anywhere
    # The Voronoi search is planar in the local projection; the distance reported is the geodesic one.
    method = "exact: the farthest point from every site (Voronoi vertices within the region)"
    return await _with_kth_site(reader, ev, {"lon": spot["lon"], "lat": spot["lat"], "method": method}, 1)


async def _with_kth_site(reader: Reader, ev: Evaluation, spot: dict[str, Any], k: int) -> dict[str, Any] | None:
    """The worst-served spot with the site it is served by and the geodesic distance to it: the site its travel
    time is to (`spot["site"]`: id, lon, lat), else its k-th nearest serving site."""
    if spot.get("site") is not None:
        site_id, lon, lat = spot["site"]
        distance_m = geo.GEOD.inv(spot["lon"], spot["lat"], lon, lat)[2]
    else:
        found = await serving_near(reader, ev, spot["lon"], spot["lat"], k)
        if len(found) < k:
            return None
        site_id, distance_m = found[k - 1]["id"], found[k - 1]["distance_m"]
    return {
        "lat": round(spot["lat"], 6),
        "lon": round(spot["lon"], 6),
        "distance_m": geo.decimetres(distance_m),
        "nearest_site_id": site_id,
        "travel_time_s": spot.get("travel_time_s"),
        "method": spot["method"],
    }


def share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


async def _leaf_row(reader: Reader, region: asyncpg.Record, ev: Evaluation) -> dict[str, Any]:
    row: dict[str, Any] = await _kept.get(
        _key("row", region, ev), lambda: _compute_leaf_row(reader, region, ev), _row_bytes
    )
    return copy.deepcopy(row)  # callers convert coordinates in place


async def covered_by(
    reader: Reader, region: asyncpg.Record, rule: Rule, ev: Evaluation, extra: list[tuple[float, float]] | None = None
) -> covered.Covered:
    """What the region's sites (and the what-if sites `extra`) cover under a rule that is not a single radius."""
    of = ev.catchments(region, covered.search_m(rule))
    if extra:
        return await covered.covered(reader, of, rule, extra)
    found: covered.Covered = await _kept.get(
        _key("covered", region, ev), lambda: covered.covered(reader, of, rule), _covered_bytes
    )
    return found


async def figures(
    reader: Reader, region: asyncpg.Record, rule: Rule, ev: Evaluation, extra: list[tuple[float, float]] | None = None
) -> asyncpg.Record:
    """Area, covered area, people and covered people, site count of a leaf region under its rule."""
    of = ev.catchments(region, rule.radius_m)
    if rule.is_single_radius:
        return await repository.coverage(reader, of, extra)
    return await repository.covered_figures(reader, of, (await covered_by(reader, region, rule, ev, extra)).wkb)


async def uncovered_cells(reader: Reader, region: asyncpg.Record, rule: Rule, ev: Evaluation) -> list[asyncpg.Record]:
    of = ev.catchments(region, rule.radius_m)
    if rule.is_single_radius:
        return await repository.uncovered_cells(reader, of)
    return await repository.covered_uncovered_cells(reader, of, (await covered_by(reader, region, rule, ev)).wkb)


async def _gap_parts(reader: Reader, region: asyncpg.Record, rule: Rule, ev: Evaluation) -> list[asyncpg.Record]:
    of = ev.catchments(region, rule.radius_m)
    if rule.is_single_radius:
        return await repository.gaps(reader, of, GAP_MIN_AREA_M2)
    wkb = (await covered_by(reader, region, rule, ev)).wkb
    return await repository.covered_gaps(reader, of, wkb, GAP_MIN_AREA_M2)


async def _compute_leaf_row(reader: Reader, region: asyncpg.Record, ev: Evaluation) -> dict[str, Any]:
    rule = await resolve_rule(reader, region["adcode"], ev)
    found = await figures(reader, region, rule, ev)
    return {
        "adcode": region["adcode"],
        "name": region["name"],
        "is_urban_district": region["is_urban_district"],
        "rule": rule.describe(),
        "rule_label": rule.label(),
        "method": rule.method(),
        "area_km2": round(found["area_km2"], 3),
        "covered_area_km2": round(found["covered_area_km2"], 3),
        "covered_area_share": share(found["covered_area_km2"], found["area_km2"]),
        "population": region["population"],
        "population_source": region["population_source"],
        "covered_population": round(found["covered_population"]) if region["population_source"] else None,
        "covered_population_share": share(found["covered_population"], found["cells_population"]),
        "site_count": found["site_count"],
        "worst_served": await _worst_served(reader, region, rule, ev),
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
        "rule_label": PER_CHILD_RULE_LABEL,
        "method": methods.pop() if len(methods := {r["method"] for r in rows}) == 1 else PER_CHILD_RULE_LABEL,
        "area_km2": round(area, 3),
        "covered_area_km2": round(covered, 3),
        "covered_area_share": share(covered, area),
        "population": region["population"],
        "population_source": rows[0]["population_source"] if rows else None,
        "covered_population": covered_people if with_people else None,
        "covered_population_share": share(covered_people, people) if with_people else None,
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
    row = await _row(reader, await find_region(reader, adcode), ev)
    return {"kind": ev.kind, "as_of": ev.as_of.isoformat(), **row}


# Child rows are independent; a pool runs a few at once (the database does the work, on more than one core).
CHILD_ROWS_AT_ONCE = 4


async def each_region(
    reader: Reader, regions: list[asyncpg.Record], work: Callable[[asyncpg.Record], Awaitable[T]]
) -> list[T]:
    """`work` for each region, a few at once on a pool (the database does the work, on more than one core). When
    one fails (a 422, the request's budget) the others are cancelled: their work is nobody's any more."""
    if isinstance(reader, asyncpg.Connection):
        # One connection (a test's transaction) runs one query at a time.
        return [await work(region) for region in regions]
    limit = asyncio.Semaphore(CHILD_ROWS_AT_ONCE)

    async def one(region: asyncpg.Record) -> T:
        async with limit:
            return await work(region)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(region)) for region in regions]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None  # the first failure, as the caller would meet it alone
    return [task.result() for task in tasks]


async def child_rows(reader: Reader, adcode: str, ev: Evaluation) -> list[dict[str, Any]]:
    await find_region(reader, adcode)
    return await each_region(reader, await repository.children(reader, adcode), lambda child: _row(reader, child, ev))


@dataclass(frozen=True)
class CoveredArea:
    """What a map shades a region by: its covered area under its rule (region_coverage less the worst-served
    search)."""

    covered_km2: float
    area_km2: float
    rule_label: str

    @property
    def share(self) -> float | None:
        return share(self.covered_km2, self.area_km2)

    @classmethod
    def of_children(cls, parts: list["CoveredArea"]) -> "CoveredArea":
        labels = {p.rule_label for p in parts}
        label = labels.pop() if len(labels) == 1 else PER_CHILD_RULE_LABEL
        return cls(sum(p.covered_km2 for p in parts), sum(p.area_km2 for p in parts), label)


async def leaf_covered_area(reader: Reader, leaf: asyncpg.Record, ev: Evaluation) -> CoveredArea:
    row = await _leaf_row(reader, leaf, ev)
    return CoveredArea(row["covered_area_km2"], row["area_km2"], row["rule_label"])


@dataclass(frozen=True)
class Gap:
    """An uncovered part of a leaf region: GeoJSON and WKB (WGS-84), true area, modelled people."""

    region: str
    geometry: dict[str, Any]
    wkb: bytes
    area_km2: float
    population: int | None


async def leaf_gaps(reader: Reader, leaf: asyncpg.Record, ev: Evaluation) -> list[Gap]:
    gaps: list[Gap] = await _kept.get(_key("gaps", leaf, ev), lambda: _compute_leaf_gaps(reader, leaf, ev), _gaps_bytes)
    return gaps


async def _compute_leaf_gaps(reader: Reader, leaf: asyncpg.Record, ev: Evaluation) -> list[Gap]:
    rule = await resolve_rule(reader, leaf["adcode"], ev)
    parts = await _gap_parts(reader, leaf, rule, ev)
    cells = await uncovered_cells(reader, leaf, rule, ev) if leaf["population_source"] else None
    people = await _people_in(parts, cells) if cells is not None else None
    return [
        Gap(
            leaf["adcode"],
            part["geometry"],
            part["wkb"],
            round(part["area_km2"], 3),
            round(people[i]) if people is not None else None,
        )
        for i, part in enumerate(parts)
    ]


async def leaves(reader: Reader, region: asyncpg.Record) -> list[asyncpg.Record]:
    """The regions whose own rule applies: the region itself, or its children."""
    return list(await repository.children(reader, region["adcode"])) if region["has_children"] else [region]


async def gaps(reader: Reader, adcode: str, ev: Evaluation) -> dict[str, Any]:
    region = await find_region(reader, adcode)
    features: list[dict[str, Any]] = []
    found_leaves = await leaves(reader, region)
    for found in await each_region(reader, found_leaves, lambda leaf: leaf_gaps(reader, leaf, ev)):
        for gap in found:
            properties = {"region": gap.region, "area_km2": gap.area_km2, "population": gap.population}
            features.append(geojson.feature(gap.geometry, properties))
    features.sort(key=lambda f: f["properties"]["area_km2"], reverse=True)
    methods = {leaf["adcode"]: (await resolve_rule(reader, leaf["adcode"], ev)).method() for leaf in found_leaves}
    return geojson.feature_collection(
        features, kind=ev.kind, as_of=ev.as_of.isoformat(), min_gap_area_km2=GAP_MIN_AREA_M2 / 1e6, methods=methods
    )


async def _people_in(parts: list[asyncpg.Record], cells: list[asyncpg.Record]) -> list[float]:
    """People of the uncovered cells whose centroid lies in each gap part (cells in dropped slivers count nowhere)."""
    if not cells:
        return [0.0] * len(parts)
    lon = np.array([c["lon"] for c in cells])
    lat = np.array([c["lat"] for c in cells])
    population = np.array([c["population"] for c in cells], dtype=np.float64)
    shapes = [shapely.geometry.shape(part["geometry"]) for part in parts]
    return await offload.run(planar.people_in, shapes, lon, lat, population)


async def serving_near(reader: Reader, ev: Evaluation, lon: float, lat: float, k: int = 1) -> list[asyncpg.Record]:
    """The `k` sites of the kind nearest to (lon, lat) that serve on the evaluation date, by geodesic distance
    alone (coverage is about where sites are, not how far workers trust them), wherever they are."""
    found = await nearest.nearest(
        reader, lon, lat, kinds=[ev.kind], radius_m=geo.FARTHEST_M, limit=k, serving_on=ev.as_of, trusted_first=False
    )
    return list(found)


async def point_coverage(reader: Reader, lon: float, lat: float, ev: Evaluation) -> dict[str, Any]:
    """Whether a place is covered: door to door by the rule's mode where its region is on a road network and the
    place within the network's extent, else by geodesic distance; by at least `min_sites` sites."""
    adcode = await repository.region_of_point(reader, lon, lat)
    if adcode is None:
        raise NotFound("no loaded region contains this point, so no coverage rule applies")
    rule = await resolve_rule(reader, adcode, ev)
    answer = {"kind": ev.kind, "as_of": ev.as_of.isoformat(), "region": adcode, "rule": rule.describe()}
    on_roads = await _door_to_door(reader, ev, rule, lon, lat)
    if on_roads is not None:
        return {**answer, **on_roads}
    k = rule.min_sites
    found = await serving_near(reader, ev, lon, lat, k)
    within = [site for site in found if site["distance_m"] <= rule.radius_m]
    method = "geodesic distance within the radius"
    if rule.network is not None:
        method += " (outside the road network's extent)"
    return {
        **answer,
        "method": method,
        "covered": len(within) >= k,
        "sites_reaching": len(within),
        "nearest_site": {"id": found[0]["id"], "distance_m": geo.decimetres(found[0]["distance_m"])} if found else None,
    }


async def _door_to_door(reader: Reader, ev: Evaluation, rule: Rule, lon: float, lat: float) -> dict[str, Any] | None:
    """Point coverage by travel time, when the rule is on a network whose extent holds the point and it joins."""
    if rule.network is None or rule.mode is None:
        return None
    if not await roads_repository.within_extent(reader, rule.network.id, lon, lat):
        return None
    timed = await _by_travel_time(reader, ev, lon, lat, rule.mode, rule.min_sites)
    if timed is None:
        return None
    quickest = [
        {"id": r["id"], "distance_m": geo.decimetres(r["distance_m"]), "travel_time_s": round(seconds, 1)}
        for seconds, r in timed.sites
    ]
    reached = [site for site in quickest if site["travel_time_s"] <= rule.budget_s]
    return {
        "method": f"door to door, {timed.reach.network.describe(rule.mode)}",
        "covered": len(reached) >= rule.min_sites,
        "sites_reaching": len(reached),
        "nearest_site": quickest[0] if quickest else None,
    }


async def _by_travel_time(
    reader: Reader, ev: Evaluation, lon: float, lat: float, mode: Mode, k: int
) -> roads.ByTravelTime | None:
    """The k quickest serving sites from (lon, lat), None when the point does not join the network."""

    async def candidates(n: int) -> list[asyncpg.Record]:
        return await serving_near(reader, ev, lon, lat, n)

    try:
        return await roads.by_travel_time(reader, lon, lat, mode, k, candidates)
    except NotOnNetwork:
        return None
