"""Travel on a road network: where a point joins it, how long it takes to reach every node from there, the area
reached in a time (an isochrone), and the travel time to given places.

A point joins the network at the nearest point of a road its mode may use, if that is at most SNAP_M away, and
walks there; pgRouting's driving distance runs from the two ends of that road, each at the time it takes to get
there along it. A road whose start is reached with time to spare is reached for as far as the remaining time goes
(costs are proportional to length along an edge).
"""

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import asyncpg
from pydantic import Field

from app.database.read_pool import Reader
from app.problems import InvalidParameter, NotOnNetwork
from app.roads import modes, repository
from app.roads.modes import Mode

Segment = tuple[int, float, float]  # edge id, from and to fraction of its length


@dataclass(frozen=True)
class Network:
    id: int
    name: str
    source_file: str
    extract_date: Any
    attribution: str

    def describe(self, mode: Mode) -> str:
        date = f", {self.extract_date:%Y-%m-%d}" if self.extract_date is not None else ""
        return f"road network: {self.source_file}{date}, {mode.label}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source_file": self.source_file,
            "extract_date": self.extract_date,
            "attribution": self.attribution,
        }


@dataclass(frozen=True)
class Foot:
    """Where a point joins the network: the edge, how far along it, how far off the road the point is."""

    edge: int
    source: int
    target: int
    cost: float  # seconds along the edge for the mode; < 0: not that way
    reverse_cost: float
    fraction: float
    off_road_m: float

    @property
    def off_road_s(self) -> float:
        return self.off_road_m / (modes.WALK_KMH / 3.6)

    def to_ends(self) -> dict[int, float]:
        """Seconds from the foot to each end of its edge that the mode can go to (an end the foot is at, at 0)."""
        ends: dict[int, float] = {}
        if self.fraction <= AT_END:
            ends[self.source] = 0.0
        elif self.reverse_cost >= 0:
            ends[self.source] = self.fraction * self.reverse_cost
        # min(): a loop (source = target) is left by the shorter way round.
        if self.fraction >= 1 - AT_END:
            ends[self.target] = 0.0
        elif self.cost >= 0:
            ends[self.target] = min(ends.get(self.target, math.inf), (1 - self.fraction) * self.cost)
        return ends

    def from_ends(self, times: dict[int, float]) -> float | None:
        """Seconds to reach this foot given the times to the network's nodes, None if neither end is reached."""
        best = math.inf
        if self.source in times and (self.cost >= 0 or self.fraction <= AT_END):
            best = times[self.source] + self.fraction * max(self.cost, 0.0)
        if self.target in times and (self.reverse_cost >= 0 or self.fraction >= 1 - AT_END):
            best = min(best, times[self.target] + (1 - self.fraction) * max(self.reverse_cost, 0.0))
        return best if best < math.inf else None


# A foot this close to an end of its edge (as a share of its length) is at that node.
AT_END = 1e-9


def _foot(row: asyncpg.Record) -> Foot:
    return Foot(
        row["id"], row["source"], row["target"], row["cost"], row["reverse_cost"], row["fraction"], row["off_road_m"]
    )


@dataclass
class Reach:
    """From a start: the network, where it joined, the seconds to every node reached within the budget (the walk
    to the road included)."""

    network: Network
    mode: Mode
    foot: Foot
    budget_s: float
    times: dict[int, float] = field(default_factory=dict)
    edges: str = ""  # pgRouting's edge query around the start

    def to(self, foot: Foot) -> float | None:
        """Seconds from the start to another point of the network (its walk off the road included), if within
        the budget."""
        along = self.foot.off_road_s + self._along(foot)
        on_network = foot.from_ends(self.times)
        best = min(x for x in (along, on_network) if x is not None) if on_network is not None else along
        total = best + foot.off_road_s
        return total if total <= self.budget_s else None

    def _along(self, foot: Foot) -> float:
        """Straight along the start's own edge, when the other point is on it too."""
        if foot.edge != self.foot.edge:
            return math.inf
        if foot.fraction >= self.foot.fraction:
            return (foot.fraction - self.foot.fraction) * self.foot.cost if self.foot.cost >= 0 else math.inf
        return (
            (self.foot.fraction - foot.fraction) * self.foot.reverse_cost if self.foot.reverse_cost >= 0 else math.inf
        )


def network_of(row: asyncpg.Record) -> Network:
    return Network(row["id"], row["name"], row["source_file"], row["extract_date"], row["attribution"])


async def network_at(reader: Reader, lon: float, lat: float) -> Network | None:
    row = await repository.network_at(reader, lon, lat, modes.SNAP_M)
    return network_of(row) if row is not None else None


async def join(reader: Reader, network: Network, mode: Mode, lon: float, lat: float) -> Foot | None:
    """Where (lon, lat) joins the network for `mode`; None when no road it may use is within SNAP_M."""
    row = await repository.snap(reader, network.id, mode, lon, lat)
    if row is None or row["off_road_m"] > modes.SNAP_M:
        return None
    return _foot(row)


async def reach(reader: Reader, lon: float, lat: float, mode: Mode, budget_s: float) -> Reach:
    """Seconds from (lon, lat) to every node reachable within `budget_s` by `mode` (NotOnNetwork otherwise)."""
    network = await network_at(reader, lon, lat)
    if network is None:
        raise NotOnNetwork("no road network is loaded here (see `yizhan roads import`)")
    foot = await join(reader, network, mode, lon, lat)
    if foot is None:
        raise NotOnNetwork(f"no road {mode.label} may use within {modes.SNAP_M:.0f} m of this point")
    found = await reaches_from(reader, network, mode, [(lon, lat)], [foot], budget_s)
    assert found[0] is not None
    return found[0]


async def reaches(
    reader: Reader, network: Network, mode: Mode, points: Sequence[tuple[float, float]], budget_s: float
) -> list[Reach | None]:
    """reach() from each point on one network, in one search (None: the point does not join the network)."""
    return await reaches_from(reader, network, mode, points, await feet(reader, network, mode, points), budget_s)


async def reaches_from(
    reader: Reader,
    network: Network,
    mode: Mode,
    points: Sequence[tuple[float, float]],
    joined: Sequence[Foot | None],
    budget_s: float,
) -> list[Reach | None]:
    found: list[Reach | None] = [Reach(network, mode, foot, budget_s) if foot is not None else None for foot in joined]
    live = [(p, r) for p, r in zip(points, found, strict=True) if r is not None]
    if not live:
        return found
    reach_m = budget_s * modes.top_kmh(mode) / 3.6 + max(r.foot.off_road_m for _, r in live)
    edges = repository.edges_sql(network.id, mode, [p for p, _ in live], reach_m)
    # Each point's feet run from the ends of its edge, each at the time it takes to get there; one search from
    # every such end serves all the points.
    ends: list[dict[int, float]] = []
    starts: set[int] = set()
    for _, r in live:
        r.edges = edges
        remaining = budget_s - r.foot.off_road_s
        usable = {node: s for node, s in r.foot.to_ends().items() if s <= remaining} if remaining > 0 else {}
        ends.append(usable)
        starts.update(usable)
    if not starts:
        return found
    from_start: dict[int, list[tuple[int, float]]] = {}
    longest = budget_s - min(r.foot.off_road_s for _, r in live)
    for row in await repository.driving_distance(reader, edges, sorted(starts), longest):
        from_start.setdefault(row["start"], []).append((row["node"], row["seconds"]))
    for (_, r), usable in zip(live, ends, strict=True):
        for start, offset in usable.items():
            for node, seconds in from_start.get(start, []):
                total = r.foot.off_road_s + offset + seconds
                if total <= budget_s and total < r.times.get(node, math.inf):
                    r.times[node] = total
    return found


async def segments(reader: Reader, found: Reach, budget_s: float) -> list[Segment]:
    """The parts of edges reached within `budget_s` (≤ the reach's budget), as fractions of their length."""
    return (await segments_of(reader, [found], budget_s))[0]


async def segments_of(reader: Reader, found: Sequence[Reach], budget_s: float) -> list[list[Segment]]:
    """segments() of several reaches of one search (the same edge query), with one read of the edges."""
    nodes = sorted({node for r in found for node, s in r.times.items() if s <= budget_s})
    rows = await repository.edges_between(reader, found[0].edges, nodes) if nodes else []
    return [_cut(rows, r, budget_s) for r in found]


def _cut(rows: Sequence[asyncpg.Record], found: Reach, budget_s: float) -> list[Segment]:
    times = {node: s for node, s in found.times.items() if s <= budget_s}
    parts: list[Segment] = []
    if times:
        for e in rows:
            if e["cost"] >= 0 and e["source"] in times:
                parts.append((e["id"], 0.0, _share(budget_s - times[e["source"]], e["cost"])))
            if e["reverse_cost"] >= 0 and e["target"] in times:
                parts.append((e["id"], 1 - _share(budget_s - times[e["target"]], e["reverse_cost"]), 1.0))
    foot, spare = found.foot, budget_s - found.foot.off_road_s
    if spare > 0:
        if foot.cost >= 0:
            parts.append((foot.edge, foot.fraction, min(1.0, foot.fraction + _share(spare, foot.cost))))
        if foot.reverse_cost >= 0:
            parts.append((foot.edge, max(0.0, foot.fraction - _share(spare, foot.reverse_cost)), foot.fraction))
    return _merged(parts)


def _merged(parts: list[Segment]) -> list[Segment]:
    """The same stretches with overlaps merged per edge (an edge reached from both ends, the start's own edge)."""
    merged: list[Segment] = []
    for edge, start, stop in sorted(p for p in parts if p[2] > p[1]):
        if merged and merged[-1][0] == edge and start <= merged[-1][2]:
            merged[-1] = (edge, merged[-1][1], max(stop, merged[-1][2]))
        else:
            merged.append((edge, start, stop))
    return merged


def _share(seconds: float, cost: float) -> float:
    """How much of an edge costing `cost` seconds is travelled in `seconds`."""
    return 1.0 if cost <= seconds else max(seconds, 0.0) / cost


async def isochrones(
    reader: Reader, lon: float, lat: float, mode: Mode, minutes: Sequence[float]
) -> tuple[Reach, list[dict[str, Any]]]:
    """The area reached within each of `minutes` (one network search, for the longest)."""
    found = await reach(reader, lon, lat, mode, max(minutes) * 60)
    rings = []
    for value in sorted(minutes):
        parts = await segments(reader, found, value * 60)
        area = await repository.reached_area(reader, parts, modes.OFF_ROAD_REACH_M, lon, lat) if parts else None
        rings.append(
            {
                "minutes": value,
                "geometry": area["geometry"] if area is not None else None,
                "area_km2": area["area_m2"] / 1e6 if area is not None else 0.0,
                "road_km": area["road_m"] / 1000 if area is not None else 0.0,
                "edges_reached": len({p[0] for p in parts}),
            }
        )
    return found, rings


async def feet(
    reader: Reader, network: Network, mode: Mode, points: Sequence[tuple[float, float]]
) -> list[Foot | None]:
    """Where each point joins the network (None: no road within SNAP_M)."""
    joined: list[Foot | None] = [None] * len(points)
    if points:
        for row in await repository.snap_many(reader, network.id, mode, list(points)):
            if row["off_road_m"] <= modes.SNAP_M:
                joined[row["n"] - 1] = _foot(row)
    return joined


# Past this many candidates by distance, nearest by travel time stops widening and says its answer may be short.
MAX_CANDIDATES = 1024
# The longest trip it looks at.
MAX_TRAVEL_S = 3 * 3600


@dataclass
class ByTravelTime:
    reach: Reach
    sites: list[tuple[float, asyncpg.Record]]  # (seconds, site), quickest first
    complete: bool  # False: MAX_CANDIDATES sites by distance did not yield `limit` reachable ones


async def by_travel_time(
    reader: Reader,
    lon: float,
    lat: float,
    mode: Mode,
    limit: int,
    candidates: Callable[[int], Awaitable[Sequence[asyncpg.Record]]],
) -> ByTravelTime:
    """The `limit` sites quickest to reach, with their seconds, from `candidates(n)`: the n nearest by geodesic
    distance (each with distance_m, lon, lat, id; fewer when no more are in range).

    Exact: no site is reached faster than its distance at the mode's top speed, so once `limit` of the n nearest
    are reached within the time the farthest of them needs at that speed, no site further away can beat them.
    When the range holds fewer than n sites, every one is a candidate and the time allowed grows until `limit`
    of them are reached (or MAX_TRAVEL_S).
    """
    top_mps = modes.top_kmh(mode) / 3.6
    fetch = max(4 * limit, 16)
    while True:
        rows = await candidates(fetch)
        everything = len(rows) < fetch
        bound = (rows[-1]["distance_m"] if rows else 0.0) / top_mps  # no site not fetched is quicker
        budget = max(bound, 60.0) if everything else bound
        joined: list[Foot | None] | None = None
        while True:
            found = await reach(reader, lon, lat, mode, min(budget, MAX_TRAVEL_S))
            if joined is None:  # the same candidates while only the time allowed grows
                joined = await feet(reader, found.network, mode, [(r["lon"], r["lat"]) for r in rows])
            reached = sorted(
                ((seconds, row) for row, foot in zip(rows, joined, strict=True)
                 if foot is not None and (seconds := found.to(foot)) is not None),
                key=lambda pair: (pair[0], pair[1]["id"]),
            )  # fmt: skip
            if not everything or len(reached) >= min(limit, len(rows)) or budget >= MAX_TRAVEL_S:
                break
            budget *= 2
        if len(reached) >= limit or everything:
            return ByTravelTime(found, reached[:limit], complete=True)
        if fetch * 4 > MAX_CANDIDATES:
            return ByTravelTime(found, reached[:limit], complete=False)
        fetch *= 4


# An isochrone's travel times: at least a minute (below it the ring is the start's off-road reach, and a time such
# as 1e-300 only looks like an answer), at most two hours, a handful of rings.
MIN_MINUTES = 1.0
MAX_MINUTES = 120.0
MAX_RINGS = 8
Minutes = Annotated[float, Field(ge=MIN_MINUTES, le=MAX_MINUTES, allow_inf_nan=False)]


def check_minutes(values: Sequence[float], *, most: float = MAX_MINUTES, rings: int = MAX_RINGS) -> None:
    if not values or len(values) > rings or any(not MIN_MINUTES <= v <= most for v in values):
        raise InvalidParameter("minutes", f"1 to {rings} values, each from {MIN_MINUTES:g} to {most:g}")
