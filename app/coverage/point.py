"""Coverage of one place (SPEC §6): whether it is covered under its region's rule, door to door on a road network
where the rule is travelled on one, else by geodesic distance."""

from typing import Any

import asyncpg

from app import geo
from app.coverage import repository
from app.coverage.evaluation import Evaluation
from app.coverage.rules import Rule, resolve_rule
from app.coverage.serving import serving_near
from app.database.read_pool import Reader
from app.problems import NotFound, NotOnNetwork
from app.roads import repository as roads_repository
from app.roads import service as roads
from app.roads.modes import Mode


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
