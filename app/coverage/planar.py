"""The CPU-heavy steps of coverage and siting, as plain functions of arrays and shapes in a region's equal-area
plane (metres). Callers run them in a worker process (app.compute.offload), so this module imports nothing but numpy and
shapely: a fresh worker starts in a fraction of a second; a step of a few milliseconds (a region's worst-served spot)
runs in a thread, as shapely releases the GIL in GEOS.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

EMPTY = shapely.Polygon()
CIRCLE_QUAD_SEGS = 16  # a circle as a 64-gon: its area is 0.16 % short of the circle's


def polygonal(shape: BaseGeometry) -> BaseGeometry:
    """The areal part of a shape (an intersection can leave lines or points where shapes only touch)."""
    if shape.geom_type in ("Polygon", "MultiPolygon"):
        return shape
    parts = [p for p in shapely.get_parts(shape) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else EMPTY


# The arrangement of catchment boundaries grows with the square of the overlaps: 1,225 overlapping pairs took 0.6 s
# and 4,950 took 3.4 s on one core, 19,900 took 32 s. Past this many, k-fold coverage is refused, not attempted.
MAX_OVERLAPPING_PAIRS = 5_000


# Siting keeps the (candidate, cell) pairs within reach: 8 bytes a pair, and each pick sums over all of them. A
# what-if radius of tens of kilometres over 10,000 candidates would make 10^8 of them; past this many, refused.
MAX_REACH_PAIRS = 10_000_000
# Pairs are looked for a block of shapes at a time, a block that can make at most this many (each shape may pair
# with every item of the tree), so that a refusal comes before the memory goes.
BLOCK_PAIRS = 2_000_000


class TooManyPairs(Exception):
    """More pairs (overlapping catchments, or candidates and the cells they reach) than can be worked on."""

    def __init__(self, pairs: int, limit: int) -> None:
        super().__init__(pairs, limit)
        self.pairs, self.limit = pairs, limit


def _pairs(
    tree: shapely.STRtree,
    shapes: NDArray[Any],
    limit: int,
    predicate: str,
    keep: Callable[[NDArray[np.intp], NDArray[np.intp]], NDArray[np.bool_]],
    distance: float | None = None,
) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """The (shape, tree item) pairs the predicate and `keep` accept, a block of shapes at a time; TooManyPairs as
    soon as there are more than `limit`."""
    found_shapes, found_items, count = [], [], 0
    block = max(1, BLOCK_PAIRS // max(1, len(tree)))
    for start in range(0, len(shapes), block):
        shape, item = tree.query(shapes[start : start + block], predicate=predicate, distance=distance)
        shape += start
        kept = keep(shape, item)
        count += int(kept.sum())
        if count > limit:
            raise TooManyPairs(count, limit)
        found_shapes.append(shape[kept].astype(np.int32))
        found_items.append(item[kept].astype(np.int32))
    if not found_shapes:
        return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int32)
    return np.concatenate(found_shapes), np.concatenate(found_items)


def at_least(shapes: Sequence[BaseGeometry], k: int) -> BaseGeometry:
    """Where at least `k` of `shapes` (polygonal) overlap."""
    shapes = [s for s in shapes if not s.is_empty]
    if len(shapes) < k:
        return EMPTY
    if k == 1:
        return shapely.union_all(shapes)
    tree = shapely.STRtree(shapes)
    _pairs(tree, np.asarray(shapes), MAX_OVERLAPPING_PAIRS, "intersects", lambda first, second: first < second)
    # The faces of the arrangement: no catchment boundary crosses a face, so a point inside it is held by exactly
    # the catchments that hold the whole face.
    lines = shapely.get_parts(shapely.union_all([s.boundary for s in shapes]))
    faces = shapely.get_parts(shapely.polygonize(lines))
    if len(faces) == 0:
        return EMPTY
    inner = shapely.point_on_surface(faces)
    face, _ = tree.query(inner, predicate="intersects")
    held = np.bincount(face, minlength=len(faces))
    return shapely.union_all(faces[held >= k])


def catchment_shapes(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    radius_m: float,
    isochrones: Sequence[BaseGeometry] | None = None,
    hull: BaseGeometry | None = None,
) -> list[BaseGeometry]:
    """Each site's catchment: the circle of `radius_m` around it, or, given its isochrone on a road network whose
    extent is `hull`, the isochrone within the hull and the circle outside it."""
    circles: list[BaseGeometry] = list(shapely.buffer(shapely.points(x, y), radius_m, quad_segs=CIRCLE_QUAD_SEGS))
    if isochrones is None or hull is None:
        return circles
    shapely.prepare(hull)
    return [
        polygonal(shapely.union(shapely.intersection(iso, hull), shapely.difference(circle, hull)))
        for iso, circle in zip(isochrones, circles, strict=True)
    ]


def holding(shapes: Sequence[BaseGeometry], x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.bool_]:
    """(len(shapes), len(x)): shape i holds point j."""
    held = np.zeros((len(shapes), len(x)), dtype=bool)
    for i, shape in enumerate(shapes):
        held[i] = shapely.contains_xy(shape, x, y)
    return held


def holding_count(shapes: Sequence[BaseGeometry], x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.int64]:
    """How many of `shapes` hold each point."""
    return np.asarray(holding(shapes, x, y).sum(axis=0), dtype=np.int64)


def people_in(
    parts: Sequence[BaseGeometry], lon: NDArray[np.float64], lat: NDArray[np.float64], people: NDArray[np.float64]
) -> list[float]:
    """The people of the points (cell centroids) in each part, each point counted in the first part holding it."""
    unassigned = np.ones(len(lon), dtype=bool)
    totals = []
    for part in parts:
        shapely.prepare(part)
        inside = unassigned & shapely.contains_xy(part, lon, lat)
        unassigned &= ~inside
        totals.append(float(people[inside].sum()))
    return totals


@dataclass(frozen=True)
class Farthest:
    """A point of a region (x, y in its plane), the site it is nearest to (an index), and its distance from it."""

    x: float
    y: float
    site: int
    distance: float


def farthest_from_sites(region: BaseGeometry, x: NDArray[np.float64], y: NDArray[np.float64]) -> Farthest | None:
    """The point of `region` farthest from its nearest of the sites (x, y); None without a site.

    Distance to the nearest site is convex inside each Voronoi cell, so over (cell ∩ region) its maximum is at a
    vertex of that piece: a vertex of the region, a vertex of the cell within the region, or where the cell's edge
    crosses the region's. The cells' vertices within the region and some of the region's are measured at once; a
    cell is cut by the region only when its farthest vertex is farther than the best of them (the cell holds its
    piece), and most never are. The point is exact, not sampled.
    """
    if len(x) == 0:
        return None
    corners = shapely.get_coordinates(region)
    if len(np.unique(np.column_stack((x, y)), axis=0)) == 1:
        # No diagram (the sites are at one spot): the region is the site's cell.
        far = np.hypot(corners[:, 0] - x[0], corners[:, 1] - y[0])
        return _farther(None, corners, np.zeros(len(far), dtype=np.intp), far)
    sites = shapely.points(x, y)
    tree = shapely.STRtree(sites)
    # Some of the region's vertices (any of its points would do), each by its nearest site: the first best.
    some = corners[:: max(1, len(corners) // 64)]
    (_, nearest), reach = tree.query_nearest(shapely.points(some), return_distance=True, all_matches=False)
    found = _farther(None, some, nearest, reach)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(sites), extend_to=region))
    shapely.prepare(region)
    cells = cells[shapely.intersects(region, cells)]
    # Each cell's site: the one it holds (sites at one spot share a cell, at the same distance).
    cell, owner = tree.query(cells, predicate="intersects")
    cells = cells[cell]
    vertices, of = shapely.get_coordinates(cells, return_index=True)
    far = np.hypot(vertices[:, 0] - x[owner[of]], vertices[:, 1] - y[owner[of]])
    inside = shapely.intersects_xy(region, vertices[:, 0], vertices[:, 1])
    found = _farther(found, vertices[inside], owner[of][inside], far[inside])
    bound = np.zeros(len(cells))
    np.maximum.at(bound, of, far)
    cut = np.flatnonzero(bound > (found.distance if found is not None else -1.0))
    vertices, of = shapely.get_coordinates(shapely.intersection(cells[cut], region), return_index=True)
    site = owner[cut][of]
    far = np.hypot(vertices[:, 0] - x[site], vertices[:, 1] - y[site])
    return _farther(found, vertices, site, far)


def _farther(
    found: Farthest | None, points: NDArray[np.float64], site: NDArray[np.intp], far: NDArray[np.float64]
) -> Farthest | None:
    """The farthest of the points (each at `far` from its nearest site, `site`) when it is farther than `found`."""
    if len(far) == 0:
        return found
    k = int(far.argmax())
    if found is not None and far[k] <= found.distance:
        return found
    return Farthest(float(points[k, 0]), float(points[k, 1]), int(site[k]), float(far[k]))


def farthest_from_sites_each(
    searches: Sequence[tuple[bytes, NDArray[np.float64], NDArray[np.float64]]],
) -> list[Farthest | None]:
    """farthest_from_sites for each (region as WKB, x, y)."""
    return [farthest_from_sites(shapely.from_wkb(region), x, y) for region, x, y in searches]


def farthest_from_kth(points: NDArray[np.float64], sites: NDArray[np.float64], k: int) -> tuple[int, float]:
    """The point (row of `points`, (n, 2)) farthest from its k-th nearest of `sites` ((m, 2), m ≥ k), and that
    distance."""
    kth = np.empty(len(points))
    # In blocks: the full distance matrix of a city's cells and a province's sites would not fit in memory.
    block = max(1, 2_000_000 // max(1, len(sites)))
    for start in range(0, len(points), block):
        chunk = points[start : start + block]
        distances = np.hypot(chunk[:, None, 0] - sites[None, :, 0], chunk[:, None, 1] - sites[None, :, 1])
        kth[start : start + block] = np.partition(distances, k - 1, axis=1)[:, k - 1]
    worst = int(np.argmax(kth))
    return worst, float(kth[worst])


@dataclass(frozen=True)
class Instance:
    """A maximal-coverage instance in a local equal-area plane (metres)."""

    demand_xy: NDArray[np.float64]  # (n, 2) centroids of the uncovered cells
    demand_people: NDArray[np.float64]  # (n,)
    demand_area_km2: NDArray[np.float64]  # (n,)
    demand_radius_m: NDArray[np.float64]  # (n,) the rule of each cell's region
    candidate_xy: NDArray[np.float64]  # (m, 2)
    # Sites each cell still needs to be covered (cross coverage asks for more than one); default 1.
    demand_need: NDArray[np.int64] | None = None
    # (m, n) where reach is not the radius: catchments on a road network.
    reach: NDArray[np.bool_] | None = None

    def coverage_matrix(self) -> NDArray[np.bool_]:
        """(m, n): candidate i reaches demand cell j."""
        matrix = np.zeros((len(self.candidate_xy), len(self.demand_xy)), dtype=bool)
        matrix[self.reach_pairs()] = True
        return matrix

    def reach_pairs(self) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """The (candidate, cell) pairs where the candidate reaches the cell, ordered by candidate: under a rule's
        radius a candidate reaches a few dozen of a region's thousands of cells, so the pairs are what is kept, not
        the matrix (TooManyPairs past MAX_REACH_PAIRS)."""
        if self.reach is not None:
            candidate, cell = np.nonzero(self.reach)
            return candidate, cell
        if len(self.candidate_xy) == 0 or len(self.demand_xy) == 0:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
        tree = shapely.STRtree(shapely.points(self.demand_xy))

        def within(candidate: NDArray[np.intp], cell: NDArray[np.intp]) -> NDArray[np.bool_]:
            gap = self.candidate_xy[candidate] - self.demand_xy[cell]
            return np.asarray(np.hypot(gap[:, 0], gap[:, 1]) <= self.demand_radius_m[cell])

        farthest = float(self.demand_radius_m.max())
        candidates = shapely.points(self.candidate_xy)
        by, reached = _pairs(tree, candidates, MAX_REACH_PAIRS, "dwithin", within, distance=farthest)
        order = np.lexsort((reached, by))
        return by[order].astype(np.intp), reached[order].astype(np.intp)


@dataclass(frozen=True)
class Pick:
    candidate: int
    people: float
    area_km2: float


def greedy(instance: Instance, count: int) -> list[Pick]:
    """Picks, one at a time, the candidate completing the coverage of the most people (ties: the most area, then
    the most progress towards cells that need more than one more site)."""
    return _greedy(instance, count, *instance.reach_pairs())


def _greedy(instance: Instance, count: int, candidate: NDArray[np.intp], cell: NDArray[np.intp]) -> list[Pick]:
    m = len(instance.candidate_xy)
    first = np.searchsorted(candidate, np.arange(m + 1))  # candidate i's pairs are first[i]:first[i + 1]
    people, area = instance.demand_people, instance.demand_area_km2
    need = instance.demand_need.copy() if instance.demand_need is not None else np.ones(len(people), dtype=np.int64)

    def per_candidate(per_cell: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(np.bincount(candidate, weights=per_cell[cell], minlength=m), dtype=np.float64)

    picks: list[Pick] = []
    for _ in range(min(count, m)):
        last = need == 1
        done_people = per_candidate(people * last)
        done_area = per_candidate(area * last)
        progress = per_candidate(people * (need > 0) / np.maximum(need, 1))
        # People first; area breaks ties (and decides alone where no people are modelled).
        # A place is picked once: two sites at one spot are not cross coverage.
        taken = [p.candidate for p in picks]
        done_people[taken] = done_area[taken] = progress[taken] = -1.0
        best = int(np.lexsort((progress, done_area, done_people))[-1])
        if done_people[best] <= 0 and done_area[best] <= 0 and progress[best] <= 0:
            break  # nothing left to cover
        picks.append(Pick(best, float(done_people[best]), float(done_area[best])))
        reached = cell[first[best] : first[best + 1]]
        need[reached] = np.maximum(need[reached] - 1, 0)
    return picks


def greedy_on_network(
    instance: Instance,
    count: int,
    parts: Sequence[tuple[slice, Sequence[BaseGeometry], NDArray[np.float64], NDArray[np.float64]]],
) -> list[Pick]:
    """greedy, where the cells of each part (a slice of the demand) are reached when the candidate's catchment
    on that part's road network (one shape per candidate) holds their centroid (x, y in that part's plane)."""
    candidate, cell = instance.reach_pairs()
    on_network = np.zeros(len(instance.demand_xy), dtype=bool)
    found_candidates, found_cells = [candidate], [cell]
    for part, shapes, x, y in parts:
        on_network[part] = True
        held_by, held = np.nonzero(holding(shapes, x, y))
        found_candidates.append(held_by)
        found_cells.append(held + part.start)
    by_radius = ~on_network[cell]
    found_candidates[0], found_cells[0] = candidate[by_radius], cell[by_radius]
    candidate, cell = np.concatenate(found_candidates), np.concatenate(found_cells)
    order = np.lexsort((cell, candidate))
    return _greedy(instance, count, candidate[order], cell[order])
