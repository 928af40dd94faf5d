"""The area a region's sites cover when that is not the union of one radius around each site: a travel-time rule
on a road network (each site's catchment is its isochrone) or a rule asking for at least k sites (cross coverage,
交叉覆盖, `min_sites`).

Each serving site's catchment is a polygon in the region's equal-area plane: within the network's extent (its
hull) the roads reached in the rule's time, buffered by the off-road reach (app.roads.service); outside it, where
no roads are loaded, the radius (minutes × assumed speed). The covered area is where at least k catchments
overlap, found exactly: the plane is cut into the faces of all catchment boundaries and each face is kept when k
catchments hold it.
"""

from dataclasses import dataclass, replace
from typing import Any

import asyncpg
import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from app import geo
from app.compute import offload
from app.coverage import planar, planes, repository
from app.coverage.evaluation import Evaluation
from app.coverage.kept import CoverageKept
from app.coverage.rules import Rule
from app.database.read_pool import Reader
from app.problems import InvalidParameter
from app.roads import modes
from app.roads import repository as roads_repository
from app.roads import service as roads

# The worst-served search starts with the sites this close to the region and doubles the distance until the answer
# proves itself: if the farthest point found is within the search distance, a site outside it is farther from
# every point of the region than that point's nearest site, so it cannot change the answer.
WORST_SERVED_FIRST_SEARCH_M = 20_000.0
# A leaf's search starts this much beyond its last answer's distance (on another date, most often the same sites):
# far enough to prove the same answer, near enough to leave out the sites that cannot change it.
WORST_SERVED_SLACK = 1.25
# The worst-served search on a network first looks this many times the rule's time ahead.
WORST_SERVED_TIME_FACTOR = 4
COORDINATE_BYTES = 16  # two float64 in a shapely geometry


@dataclass(frozen=True)
class Catchment:
    site_id: int | None  # None: a what-if site
    region: str | None  # the site's region (None: a what-if site)
    lon: float
    lat: float
    shape: BaseGeometry  # in the region's plane


@dataclass(frozen=True)
class Covered:
    """The k-fold covered area in the region's plane (it may reach past the region), and the catchments."""

    area: BaseGeometry
    catchments: list[Catchment]

    @property
    def wkb(self) -> bytes:
        return bytes(shapely.to_wkb(self.area))


def search_m(rule: Rule) -> float:
    """How far from the region a site may be and still serve part of it."""
    if rule.network is None:
        return rule.radius_m
    return max(rule.radius_m, rule.budget_s * modes.top_kmh(_mode(rule)) / 3.6 + modes.SNAP_M)


def _mode(rule: Rule) -> modes.Mode:
    assert rule.mode is not None
    return rule.mode


async def covered_by(
    reader: Reader,
    kept: CoverageKept,
    region: asyncpg.Record,
    rule: Rule,
    ev: Evaluation,
    extra: list[tuple[float, float]] | None = None,
) -> Covered:
    """What the region's sites (and the what-if sites `extra`) cover under a rule that is not a single radius."""
    of = ev.catchments(region, search_m(rule))
    if extra:
        return await covered(reader, of, rule, extra)
    return await kept.get("covered", region, ev, lambda: covered(reader, of, rule), _covered_bytes)


def _covered_bytes(found: Covered) -> int:
    shapes = [found.area, *(c.shape for c in found.catchments)]
    return int(shapely.get_num_coordinates(shapes).sum()) * COORDINATE_BYTES


async def covered(
    reader: Reader, of: repository.Catchments, rule: Rule, extra: list[tuple[float, float]] | None = None
) -> Covered:
    """What the sites of `of` (and the what-if sites `extra`) cover under `rule`. `of.radius_m` is search_m."""
    sites = await repository.serving_sites(reader, of, extra)
    shapes = await catchments_at(reader, of.srid, rule, [(s["lon"], s["lat"]) for s in sites])
    catchments = [
        Catchment(s["id"], s["region_adcode"], s["lon"], s["lat"], shape)
        for s, shape in zip(sites, shapes, strict=True)
    ]
    try:
        area = await offload.run(planar.at_least, shapes, rule.min_sites)
    except planar.TooManyPairs as exc:
        raise InvalidParameter(
            "min_sites",
            f"coverage by {rule.min_sites} sites here overlays more than {exc.limit} overlapping pairs of "
            "catchments: ask a smaller radius_m or a smaller region",
        ) from None
    return Covered(area, catchments)


async def catchments_at(reader: Reader, srid: int, rule: Rule, points: list[tuple[float, float]]) -> list[BaseGeometry]:
    """The catchment of a site at each point under `rule`, in the plane `srid`."""
    if not points:
        return []
    x, y = await in_plane(reader, srid, *np.array(points, dtype=np.float64).T)
    if rule.network is None:
        return await offload.run(planar.catchment_shapes, x, y, rule.radius_m)
    isochrones = await _isochrones(reader, srid, rule, points)
    hull = shapely.from_wkb(await roads_repository.hull_in(reader, rule.network.id, srid))
    return await offload.run(planar.catchment_shapes, x, y, rule.radius_m, isochrones, hull)


async def in_plane(
    reader: Reader, srid: int, lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """WGS-84 longitudes and latitudes in the plane `srid` (a region's equal-area one), metres."""
    x, y = planes.to_plane(await repository.projection(reader, srid)).transform(lon, lat)
    return np.asarray(x), np.asarray(y)


async def _isochrones(reader: Reader, srid: int, rule: Rule, points: list[tuple[float, float]]) -> list[BaseGeometry]:
    """Each point's isochrone under the rule, in the plane `srid` (empty where the point does not join)."""
    assert rule.network is not None
    found = await roads.reaches(reader, rule.network, _mode(rule), points, rule.budget_s)
    live = [(i, r) for i, r in enumerate(found) if r is not None]
    parts: list[tuple[int, int, float, float]] = []
    if live:
        cut = await roads.segments_of(reader, [r for _, r in live], rule.budget_s)
        parts = [
            (i, edge, start, stop) for (i, _), segments in zip(live, cut, strict=True) for edge, start, stop in segments
        ]
    shapes = await roads_repository.isochrones_in(reader, parts, srid, modes.OFF_ROAD_REACH_M) if parts else {}
    return [shapely.from_wkb(shapes[i]) if i in shapes else planar.EMPTY for i in range(len(points))]


async def worst_served(reader: Reader, of: repository.Catchments, rule: Rule) -> dict[str, Any] | None:
    """The place whose k-th serving site is farthest: on a network, the node of the region with the longest
    travel time to its k-th quickest site; otherwise, among the region's boundary vertices and population cell
    centroids, the one farthest (in the plane) from its k-th nearest site. None when fewer than k sites serve.
    `searched_m`: how far around the region sites were looked for (none beyond could change the answer)."""
    k = rule.min_sites
    if rule.network is not None:
        return await _worst_on_network(reader, of, rule)
    search = max(of.radius_m, WORST_SERVED_FIRST_SEARCH_M)
    candidates = await repository.sample_points(reader, of)
    while True:
        sites = await repository.serving_sites(reader, replace(of, radius_m=search))
        if len(sites) >= k and len(candidates):
            cells = np.array([(c["x"], c["y"]) for c in candidates], dtype=np.float64)
            plane = np.array([(s["x"], s["y"]) for s in sites], dtype=np.float64)
            worst, distance = await offload.run(planar.farthest_from_kth, cells, plane, k)
            # Proof as in the single-radius search: a site beyond the search is farther than this from the region.
            if distance <= (1 - geo.PLANAR_MARGIN) * search:
                spot = candidates[worst]
                return {"lon": spot["lon"], "lat": spot["lat"], "travel_time_s": None, "searched_m": search,
                        "method": f"sampled: the region's boundary vertices and population cell centroids, by "
                                  f"distance to the {_ordinal(k)} nearest site"}  # fmt: skip
        if search >= geo.FARTHEST_M:
            return None
        search *= 2


async def _worst_on_network(reader: Reader, of: repository.Catchments, rule: Rule) -> dict[str, Any] | None:
    """The node with the longest travel time to its k-th quickest site. The search looks WORST_SERVED_TIME_FACTOR
    times the rule's time ahead and doubles while fewer than k sites are that near or a node is not reached by k
    of them (up to MAX_TRAVEL_S)."""
    assert rule.network is not None
    k = rule.min_sites
    nodes = await roads_repository.nodes_in(reader, rule.network.id, _mode(rule), of.adcode)
    if not nodes:
        return None
    ahead_s = min(WORST_SERVED_TIME_FACTOR * rule.budget_s, roads.MAX_TRAVEL_S)
    while True:
        reach_m = ahead_s * modes.top_kmh(_mode(rule)) / 3.6 + modes.SNAP_M
        sites = await repository.serving_sites(reader, replace(of, radius_m=reach_m))
        if len(sites) >= k:
            points = [(s["lon"], s["lat"]) for s in sites]
            found = await roads.reaches(reader, rule.network, _mode(rule), points, ahead_s)
            times = np.full((len(nodes), len(sites)), np.inf)
            for j, r in enumerate(found):
                if r is not None:
                    times[:, j] = [r.times.get(node["node"], np.inf) for node in nodes]
            kth_site = np.argsort(times, axis=1, kind="stable")[:, k - 1]
            kth = times[np.arange(len(nodes)), kth_site]
            if np.isfinite(kth).all():
                break
        if ahead_s >= roads.MAX_TRAVEL_S:
            if len(sites) < k:
                return None
            break
        ahead_s = min(2 * ahead_s, roads.MAX_TRAVEL_S)
    worst = int(np.argmax(kth))
    seconds = float(kth[worst])
    reached = bool(np.isfinite(seconds))
    by = sites[int(kth_site[worst])]
    return {
        "lon": nodes[worst]["lon"],
        "lat": nodes[worst]["lat"],
        "travel_time_s": round(seconds, 1) if reached else None,
        # The site the time is to; when none is reached in time, the k-th nearest is named (by the caller).
        "site": (by["id"], by["lon"], by["lat"]) if reached else None,
        "searched_m": reach_m,
        "method": f"the region's road network nodes, by travel time to the {_ordinal(k)} quickest site"
        + ("" if reached else f" (null: not reached within {ahead_s / 60:.0f} min)"),
    }


def _ordinal(k: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(k, f"{k}th")
