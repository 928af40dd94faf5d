"""Where the next sites go (SPEC §6): greedy maximal coverage of the people not yet covered, existing sites fixed.

Demand is the population cells not yet covered; each candidate covers the demand cells within the radius of the
rule of the *cell's* region, or, where that rule is travelled on a road network, the cells whose centroid its
catchment holds (app.coverage.covered). Under cross coverage (min_sites k) a cell needs k less the sites already
reaching it. Greedy picks, one at a time, the candidate covering the most uncovered people (ties:
the most uncovered area). Greedy maximal coverage is within 1 - 1/e of the optimum in theory and, on the Binzhou
instances, within a few percent of the exact solver (tests compare it with PySAL spopt's MCLP). Each suggestion's
area gain is then measured, not estimated: its regions' coverage is evaluated again with it.
"""

from dataclasses import dataclass
from typing import Any

import asyncpg
import numpy as np
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from app.compute import offload
from app.coverage import covered, planar, regions, repository
from app.coverage.evaluation import Evaluation, srid_of
from app.coverage.figures import leaf_figures, share
from app.coverage.gaps import uncovered_cells
from app.coverage.kept import CoverageKept
from app.coverage.rules import Rule, resolve_rule
from app.database.read_pool import Reader
from app.problems import InvalidParameter

MAX_SUGGESTIONS = 50
GRID_CANDIDATES = "centroids of the 1 km population cells not yet covered"


@dataclass
class SitingInstance:
    """A region's siting problem as data: what the greedy solves. Where cells are on road networks their reach is
    in `on_network` (the catchment shapes, computed in the worker with the greedy), not in `instance`; tests hand
    the radius-only instances to an exact solver."""

    instance: planar.Instance
    candidates_lonlat: list[tuple[float, float]]
    candidate_source: str
    leaves: list[asyncpg.Record]
    rules: dict[str, Rule]
    # Parts of the demand on road networks: (cells, each candidate's catchment there, the cells' x and y in it).
    on_network: list[tuple[slice, list[BaseGeometry], NDArray[np.float64], NDArray[np.float64]]]

    async def greedy(self, count: int) -> list[planar.Pick]:
        """planar.greedy in a worker process, with the reach of the cells on road networks."""
        try:
            if self.on_network:
                return await offload.run(planar.greedy_on_network, self.instance, count, self.on_network)
            return await offload.run(planar.greedy, self.instance, count)
        except planar.TooManyPairs as exc:
            raise InvalidParameter(
                "radius_m",
                f"the candidates reach more than {exc.limit:,} (candidate, cell) pairs: ask a smaller radius_m, "
                "fewer candidates or a smaller region",
            ) from None


async def siting_instance(
    reader: Reader,
    kept: CoverageKept,
    adcode: str,
    ev: Evaluation,
    candidates: list[tuple[float, float]] | None = None,
) -> SitingInstance:
    region = await regions.find_region(reader, adcode)
    leaves = await regions.leaves(reader, region)
    rules: dict[str, Rule] = {}
    cells: list[tuple[float, float, float, float, float, float]] = []
    # Leaves whose reach is not the radius (on a road network), with where their cells are in the table.
    on_roads: list[tuple[asyncpg.Record, slice]] = []
    for leaf in leaves:
        rule = rules[leaf["adcode"]] = await resolve_rule(reader, leaf["adcode"], ev)
        found = await uncovered_cells(reader, kept, leaf, rule, ev)
        need = await _need(reader, kept, leaf, rule, ev, [(c["lon"], c["lat"]) for c in found])
        first = len(cells)
        for c, n in zip(found, need, strict=True):
            cells.append((c["lon"], c["lat"], c["population"], c["area_km2"], rule.radius_m, n))
        if rule.network is not None:
            on_roads.append((leaf, slice(first, len(cells))))
    table = np.array(cells, dtype=np.float64).reshape(-1, 6)
    if candidates is None:
        candidates = [(lon, lat) for lon, lat, *_ in cells]
        source = GRID_CANDIDATES
    else:
        source = f"given ({len(candidates)} points)"
    plane = srid_of(region)
    demand_x, demand_y = await covered.in_plane(reader, plane, table[:, 0], table[:, 1])
    cand = np.array(candidates, dtype=np.float64).reshape(-1, 2)
    cand_x, cand_y = await covered.in_plane(reader, plane, cand[:, 0], cand[:, 1])
    instance = planar.Instance(
        demand_xy=np.column_stack([demand_x, demand_y]),
        demand_people=table[:, 2],
        demand_area_km2=table[:, 3],
        demand_radius_m=table[:, 4],
        candidate_xy=np.column_stack([cand_x, cand_y]),
        demand_need=table[:, 5].astype(np.int64),
    )
    on_network = []
    for leaf, part in on_roads:
        shapes = await covered.catchments_at(reader, srid_of(leaf), rules[leaf["adcode"]], list(candidates))
        x, y = await covered.in_plane(reader, srid_of(leaf), table[part, 0], table[part, 1])
        on_network.append((part, shapes, x, y))
    return SitingInstance(instance, list(candidates), source, leaves, rules, on_network)


async def _need(
    reader: Reader,
    kept: CoverageKept,
    leaf: asyncpg.Record,
    rule: Rule,
    ev: Evaluation,
    points: list[tuple[float, float]],
) -> list[int]:
    """How many more sites each uncovered cell (its centroid) needs: min_sites less the catchments holding it."""
    if rule.min_sites == 1 or not points:
        return [1] * len(points)
    found = await covered.covered_by(reader, kept, leaf, rule, ev)
    lon, lat = np.array(points, dtype=np.float64).T
    x, y = await covered.in_plane(reader, srid_of(leaf), lon, lat)
    shapes = [catchment.shape for catchment in found.catchments]
    held = await offload.run(planar.holding_count, shapes, x, y)
    return [max(1, rule.min_sites - int(h)) for h in held]


async def _covered(
    reader: Reader,
    kept: CoverageKept,
    leaf: asyncpg.Record,
    ev: Evaluation,
    rule: Rule,
    extra: list[tuple[float, float]],
) -> tuple[float, float]:
    figures = await leaf_figures(reader, kept, leaf, rule, ev, extra)
    return float(figures["covered_area_km2"]), float(figures["covered_population"])


async def suggest(
    reader: Reader,
    kept: CoverageKept,
    adcode: str,
    ev: Evaluation,
    count: int,
    candidates: list[tuple[float, float]] | None,
) -> dict[str, Any]:
    problem = await siting_instance(reader, kept, adcode, ev, candidates)
    picks = await problem.greedy(count)
    chosen: list[tuple[float, float]] = []
    so_far = {
        leaf["adcode"]: await _covered(reader, kept, leaf, ev, problem.rules[leaf["adcode"]], [])
        for leaf in problem.leaves
    }
    before = _totals(problem.leaves, so_far)
    suggestions = []
    for rank, pick in enumerate(picks, start=1):
        lon, lat = problem.candidates_lonlat[pick.candidate]
        chosen.append((lon, lat))
        gain_area = 0.0
        # Area gains are measured, not estimated: each region within reach is re-evaluated with the new site.
        for leaf in problem.leaves:
            rule = problem.rules[leaf["adcode"]]
            if not await repository.within_reach(reader, leaf["adcode"], lon, lat, covered.search_m(rule)):
                continue
            now = await _covered(reader, kept, leaf, ev, rule, chosen)
            gain_area += now[0] - so_far[leaf["adcode"]][0]
            so_far[leaf["adcode"]] = now
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
        "after": _totals(problem.leaves, so_far),
        "suggestions": suggestions,
    }


def _totals(leaves: list[asyncpg.Record], so_far: dict[str, tuple[float, float]]) -> dict[str, Any]:
    area = sum(so_far[leaf["adcode"]][0] for leaf in leaves)
    people = sum(so_far[leaf["adcode"]][1] for leaf in leaves)
    population = sum(leaf["population"] or 0 for leaf in leaves)
    return {
        "covered_area_km2": round(area, 3),
        "covered_population": round(people),
        "covered_population_share": share(people, population),
    }
