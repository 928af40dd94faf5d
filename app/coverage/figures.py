"""Coverage figures of regions (SPEC §6): who is within reach of a site of a kind, by area and by people, and the
worst-served spot; a parent region's figures are its children's, each under its own rule."""

import asyncio
import functools
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
import orjson

from app import geo
from app.coverage import covered, repository
from app.coverage.evaluation import Evaluation
from app.coverage.kept import CoverageKept
from app.coverage.regions import each_region, find_region
from app.coverage.rules import NoRule, Rule, resolve_rule
from app.coverage.serving import serving_near
from app.coverage.spots import Spot, worst_spots
from app.database.read_pool import Reader, preferring
from app.regions import service as regions_service

PER_CHILD_RULE_LABEL = "按下级区划规则 / per child region"
# Leaves computed in one statement (each in its own plane; the statement planned once for them all): a parent's
# children, this many at most, so that a table's statements run side by side.
LEAVES_PER_STATEMENT = 8


def share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


async def leaf_figures(
    reader: Reader,
    kept: CoverageKept,
    region: asyncpg.Record,
    rule: Rule,
    ev: Evaluation,
    extra: list[tuple[float, float]] | None = None,
) -> asyncpg.Record:
    """Area, covered area, people and covered people, site count of a leaf region under its rule."""
    of = ev.catchments(region, rule.radius_m)
    if rule.is_single_radius:
        return await repository.coverage(reader, of, extra)
    found = await covered.covered_by(reader, kept, region, rule, ev, extra)
    return await repository.covered_figures(reader, of, found.wkb)


async def _worst_served(
    reader: Reader,
    region: asyncpg.Record,
    rule: Rule,
    ev: Evaluation,
    first: tuple[Spot | None, float] | None = None,
) -> tuple[dict[str, Any] | None, float]:
    """The worst-served spot, and how far around the region the sites it was found among were looked for (no site
    beyond that could change it). `first`: the spot already found within a search distance, under a single radius."""
    if not rule.is_single_radius:
        found = await covered.worst_served(reader, ev.catchments(region, covered.search_m(rule)), rule)
        if found is None:
            return None, geo.FARTHEST_M
        searched_m = found.pop("searched_m")
        return await _with_kth_site(reader, ev, found, rule.min_sites), searched_m
    search = covered.WORST_SERVED_FIRST_SEARCH_M
    spot, search = first or (await _spot_within(reader, region, ev, search), search)
    # The search distance is geodesic, the Voronoi distance planar in the local projection.
    while not ((spot is not None and spot.planar_m <= (1 - geo.PLANAR_MARGIN) * search) or search >= geo.FARTHEST_M):
        search *= 2
        spot = await _spot_within(reader, region, ev, search)
    if spot is None:
        return None, search  # no site of the kind anywhere
    # The Voronoi search is planar in the local projection; the distance reported is the geodesic one.
    method = "exact: the farthest point from every site (Voronoi vertices within the region)"
    found = {"lon": spot.lon, "lat": spot.lat, "method": method}
    return await _with_kth_site(reader, ev, found, 1, spot.nearest), search


async def _spot_within(reader: Reader, region: asyncpg.Record, ev: Evaluation, search_m: float) -> Spot | None:
    """The worst-served spot among the sites within `search_m` of the region."""
    searched = await repository.sites_searched(reader, ev.catchments(region, search_m))
    if searched is None:  # no such region: gone meanwhile
        raise await regions_service.absent(reader, region["adcode"])
    return (await worst_spots([searched]))[0]


async def _with_kth_site(
    reader: Reader, ev: Evaluation, spot: dict[str, Any], k: int, nearest: tuple[int, float] | None = None
) -> dict[str, Any] | None:
    """The worst-served spot with the site it is served by and the geodesic distance to it: the site its travel
    time is to (`spot["site"]`: id, lon, lat), else its k-th nearest serving site (`nearest`: the nearest, already
    found, and its distance)."""
    if nearest is not None:
        site_id, distance_m = nearest
    elif spot.get("site") is not None:
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


async def _leaf_row(reader: Reader, kept: CoverageKept, region: asyncpg.Record, ev: Evaluation) -> dict[str, Any]:
    return (await _leaf_rows(reader, kept, [region], ev))[region["adcode"]]


async def _leaf_rows(
    reader: Reader, kept: CoverageKept, leaves: list[asyncpg.Record], ev: Evaluation
) -> dict[str, dict[str, Any]]:
    """Each leaf's row, kept while nothing within its reach changes (app.coverage.kept): the sites around every leaf
    are fingerprinted in one statement when the kind's state has moved, and only the leaves whose fingerprint moved
    are computed, each once."""
    first_reach = max(covered.WORST_SERVED_FIRST_SEARCH_M, (ev.radius_override or 0) * (1 + geo.PLANAR_MARGIN))
    reaches = {leaf["adcode"]: kept.reach(leaf, ev) or first_reach for leaf in leaves}
    state = await repository.kind_state(reader, ev.kind) if ev.state is not None else None
    fingerprints = await kept.fingerprints(reader, ev.kind, state, reaches) if ev.state is not None else {}
    if state is not None:
        ev = replace(ev, rules_state=state[0])  # each leaf's rule kept while the rules stand

    fingerprint = {leaf["adcode"]: (reaches[leaf["adcode"]], fingerprints.get(leaf["adcode"])) for leaf in leaves}

    async def batch(group: list[asyncpg.Record]) -> list[tuple[dict[str, Any], float]]:
        # Every leaf's row is asked of the kept ones at once, so that another question asking for the same leaves
        # meanwhile waits for these rows instead of making the same statement.
        missing = [leaf for leaf in group if not kept.holds_row(leaf, ev, fingerprint[leaf["adcode"]])]
        firsts = FirstAnswers(reader, kept, missing, ev)

        async def leaf_row(leaf: asyncpg.Record) -> tuple[dict[str, Any], float]:
            compute = functools.partial(_fresh_leaf_row, reader, kept, leaf, ev, firsts)
            return await kept.row(leaf, ev, fingerprint[leaf["adcode"]], compute, _row_bytes)

        return await each_region(group, leaf_row, at_once=len(group))

    groups = _batches(leaves)
    computed = {
        leaf["adcode"]: found
        for group, answers in zip(groups, await each_region(groups, batch), strict=True)
        for leaf, found in zip(group, answers, strict=True)
    }
    rows = {adcode: row for adcode, (row, _) in computed.items()}
    # A row that depends on sites beyond the reach fingerprinted (a sparse region's worst-served spot) is kept
    # under a fingerprint that holds them, which every later question reads: the same row, when nothing of the
    # kind has changed since this question began (else the next question computes it again).
    grown = [(leaf, *computed[leaf["adcode"]]) for leaf in leaves
             if computed[leaf["adcode"]][1] > reaches[leaf["adcode"]]]  # fmt: skip
    for leaf, _, within in grown:
        kept.reached(leaf, ev, within)
    if grown and state is not None and await repository.kind_state(reader, ev.kind) == state:
        wider = await kept.fingerprints(reader, ev.kind, state, {leaf["adcode"]: within for leaf, _, within in grown})
        for leaf, row, within in grown:
            kept.keep_row(leaf, ev, (within, wider[leaf["adcode"]]), (row, within), _row_bytes)
    return rows  # shared with every later question: callers copy what they change


def _row_bytes(found: tuple[dict[str, Any], float]) -> int:
    return 4 * len(orjson.dumps(found[0]))


def _batches(leaves: list[asyncpg.Record]) -> list[list[asyncpg.Record]]:
    """The leaves in groups computed together: each parent's children, in parts of about equal size, at most
    LEAVES_PER_STATEMENT."""
    by_parent: dict[str | None, list[asyncpg.Record]] = defaultdict(list)
    for leaf in leaves:
        by_parent[leaf["parent_adcode"]].append(leaf)
    groups = []
    for children in by_parent.values():
        parts = -(-len(children) // LEAVES_PER_STATEMENT)
        groups += [children[i * len(children) // parts : (i + 1) * len(children) // parts] for i in range(parts)]
    return groups


# A leaf's first statement (repository.coverage_and_worst_served: its figures), its spot and its search distance.
FirstAnswer = tuple[asyncpg.Record, Spot | None, float]


class FirstAnswers:
    """The first statements of a batch's leaves, made once, when the first of them is computed."""

    def __init__(self, reader: Reader, kept: CoverageKept, leaves: list[asyncpg.Record], ev: Evaluation) -> None:
        self._ask = functools.partial(_first_answers, reader, kept, leaves, ev)
        self._answers: asyncio.Future[dict[str, FirstAnswer]] | None = None

    async def of(self, leaf: asyncpg.Record) -> FirstAnswer | None:
        """The leaf's first answer, if the batch's statement made it (not under a single radius, or not among the
        batch's leaves to compute: None)."""
        if self._answers is None:
            self._answers = asyncio.ensure_future(self._ask())
            # Seen by the leaves waiting for it; when none waits any more (their question went), not logged unseen.
            self._answers.add_done_callback(lambda done: done.cancelled() or done.exception())
        return (await asyncio.shield(self._answers)).get(leaf["adcode"])


async def _first_answers(
    reader: Reader, kept: CoverageKept, leaves: list[asyncpg.Record], ev: Evaluation
) -> dict[str, FirstAnswer]:
    """The first statement of each of the leaves' rows under a single radius (_compute_leaf_row), all in one."""
    asked: dict[str, tuple[repository.Catchments, float]] = {}
    for leaf in leaves:
        try:
            rule = await kept.rule(leaf, ev, functools.partial(resolve_rule, reader, leaf["adcode"], ev))
        except NoRule:
            continue  # the leaf's own computation says so
        if rule.is_single_radius:
            asked[leaf["adcode"]] = (ev.catchments(leaf, rule.radius_m), _search_start(kept, leaf, rule, ev))
    if not asked:
        return {}
    async with kept.computing:
        on = preferring(reader, _plane_key(leaves[0]))
        found = await repository.coverage_and_worst_served(on, list(asked.values()))
    answered = [adcode for adcode in asked if adcode in found]
    spots = await worst_spots([found[adcode] for adcode in answered])
    return {adcode: (found[adcode], spot, asked[adcode][1]) for adcode, spot in zip(answered, spots, strict=True)}


def _plane_key(leaf: asyncpg.Record) -> str | None:
    """What a leaf's statements are sent by (ReadPool.preferring): its parent, so that they go to the connection
    that has the planes of the parent's children ready, its batches' and each of theirs alike."""
    parent: str | None = leaf["parent_adcode"]
    return parent


def _search_start(kept: CoverageKept, region: asyncpg.Record, rule: Rule, ev: Evaluation) -> float:
    """Where a leaf's worst-served search starts: just beyond its last answer (on another date, most often the same
    sites), else as far as its figures last depended on sites. The answer proves itself or the search doubles, as
    from any start."""
    start = kept.search_start(region, ev) or max(covered.WORST_SERVED_FIRST_SEARCH_M, kept.reach(region, ev) or 0)
    return max(rule.radius_m, start)


async def _fresh_leaf_row(
    reader: Reader, kept: CoverageKept, region: asyncpg.Record, ev: Evaluation, firsts: FirstAnswers
) -> tuple[dict[str, Any], float]:
    # A leaf its batch's statement left out (another question held its row when the batch began) makes its own.
    first = await firsts.of(region) or (await _first_answers(reader, kept, [region], ev)).get(region["adcode"])
    # Every statement of a leaf works in its plane: on the connection that has it ready (ReadPool.preferring).
    on = preferring(reader, _plane_key(region))
    if first is not None:
        # What is left of the row is seldom a statement (a search that did not prove itself): it does not wait for a
        # turn behind other leaves' statements, which would leave a core idle.
        return await _compute_leaf_row(on, kept, region, ev, first)
    async with kept.computing:
        return await _compute_leaf_row(on, kept, region, ev)


async def _compute_leaf_row(
    reader: Reader, kept: CoverageKept, region: asyncpg.Record, ev: Evaluation, first: FirstAnswer | None = None
) -> tuple[dict[str, Any], float]:
    """The leaf's row, and how far around it (metres) the sites it depends on may be; `first`: its first statement
    (_first_answers), under a single radius."""
    rule = await kept.rule(region, ev, lambda: resolve_rule(reader, region["adcode"], ev))
    if rule.is_single_radius:
        if first is None:  # the statement found no such region: gone meanwhile
            raise await regions_service.absent(reader, region["adcode"])
        found, spot, search = first
        worst_served, searched_m = await _worst_served(reader, region, rule, ev, (spot, search))
        if worst_served is not None:
            # The geodesic distance, within the planar margin of the planar one the proof measures.
            slack = covered.WORST_SERVED_SLACK / (1 - geo.PLANAR_MARGIN) ** 2
            kept.start_search(region, ev, worst_served["distance_m"] * slack)
    else:
        found = await leaf_figures(reader, kept, region, rule, ev)
        worst_served, searched_m = await _worst_served(reader, region, rule, ev)
    row = {
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
        "worst_served": worst_served,
    }
    return row, max(covered.search_m(rule) * (1 + geo.PLANAR_MARGIN), searched_m)


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


async def region_coverage(reader: Reader, kept: CoverageKept, adcode: str, ev: Evaluation) -> dict[str, Any]:
    region = await find_region(reader, adcode)
    if region["has_children"]:
        # A parent's figures are its children's, each under its own rule (a city's urban districts at 2 km, its
        # counties at half an hour).
        row = _aggregate(region, await _rows_below(reader, kept, adcode, ev))
    else:
        row = await _leaf_row(reader, kept, region, ev)
    return {"kind": ev.kind, "as_of": ev.as_of.isoformat(), **row}


async def child_rows(reader: Reader, kept: CoverageKept, adcode: str, ev: Evaluation) -> list[dict[str, Any]]:
    await find_region(reader, adcode)
    return await _rows_below(reader, kept, adcode, ev)


async def _rows_below(reader: Reader, kept: CoverageKept, adcode: str, ev: Evaluation) -> list[dict[str, Any]]:
    """A row for each child of the region: a leaf's own, a parent's the aggregate of its children's, down to the
    leaves (a country's provinces from its counties), every leaf looked up or computed at once."""
    tree = await repository.descendants(reader, adcode)
    leaf_rows = await _leaf_rows(reader, kept, [r for r in tree if not r["has_children"]], ev)
    below: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for region in tree:
        below[region["parent_adcode"]].append(region)

    def row(region: asyncpg.Record) -> dict[str, Any]:
        if not region["has_children"]:
            return leaf_rows[region["adcode"]]
        return _aggregate(region, [row(child) for child in below[region["adcode"]]])

    return [row(child) for child in below[adcode]]


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


async def leaf_covered_area(reader: Reader, kept: CoverageKept, leaf: asyncpg.Record, ev: Evaluation) -> CoveredArea:
    row = await _leaf_row(reader, kept, leaf, ev)
    return CoveredArea(row["covered_area_km2"], row["area_km2"], row["rule_label"])


SHARE_BYTES = 200  # a kept share and its rule's label


async def covered_area_shares(
    reader: Reader, kept: CoverageKept, adcodes: list[str], ev: Evaluation
) -> dict[str, tuple[float | None, str]]:
    """Each region's covered share of its area and its rule's label, the figures region_coverage gives (a parent's
    aggregated from its leaves' kept rows), kept per region for the register's, the rules' and the regions' state:
    what a map shades regions by, at any level. A region where a leaf has no rule for the kind is left out (drawn,
    not shaded)."""
    state = await repository.shares_state(reader, ev.kind)

    async def compute(adcode: str) -> tuple[float | None, str] | None:
        try:
            row = await region_coverage(reader, kept, adcode, ev)
        except NoRule:
            return None
        return row["covered_area_share"], row["rule_label"]

    async def one(adcode: str) -> tuple[float | None, str] | None:
        return await kept.share(adcode, ev, state, lambda: compute(adcode), lambda _: SHARE_BYTES)

    found = await each_region(adcodes, one)
    return {adcode: share for adcode, share in zip(adcodes, found, strict=True) if share is not None}
