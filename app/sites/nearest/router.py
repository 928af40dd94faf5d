"""GET /v1/sites/nearest, the mobile app's hot path: parse, search, render each item flat."""

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import asyncpg
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from app import china_time, geo
from app.api.dependencies import get_reader, get_vocabularies
from app.api.query import LeanRoute, query_model
from app.api.responses import JSON
from app.roads import service as roads
from app.sites import hours, worker_view
from app.sites.nearest import service
from app.sites.nearest.schemas import NearestQuery, NearestSites
from app.sites.open_hours import OpenHoursIndex
from app.stations import service as stations

PATH = "/v1/sites/nearest"
SHORT_CACHE = {"Cache-Control": f"public, max-age={worker_view.MAX_AGE_S}"}
PROBLEMS: dict[int | str, dict[str, Any]] = {422: {"description": "A parameter is invalid; `errors` names each field"}}

parse_nearest_query, nearest_query_parameters = query_model(NearestQuery)


async def nearest_sites(request: Request) -> Response:
    """Active sites nearest to a point, ordered by geodesic distance (metres on the WGS-84 spheroid), or with
    `mode` by travel time on the road network there."""
    query = await parse_nearest_query(request)
    reader = await get_reader(request)
    vocabularies = await get_vocabularies(request)
    await vocabularies.site_kinds.check(reader, "kind", query.kind)
    await vocabularies.amenities.check(reader, "amenity", query.amenity)
    at = china_time.local_time(query.at or china_time.now())
    status = worker_view.statuses_at(at)
    keep, hours_bits = None, None
    if query.open_now is not None:
        wanted = query.open_now

        def keep(row: asyncpg.Record) -> bool:
            found = status(row)
            return found is not None and found.open_now == wanted

        open_hours: OpenHoursIndex = request.app.state.open_hours
        hours_bits = await open_hours.bits(reader, at, wanted)

    lon, lat = geo.to_wgs84(query.lon, query.lat, query.coordsys)
    instant = query.at if query.at is not None and query.at.tzinfo is not None else None
    instant = instant or (query.at.replace(tzinfo=china_time.CHINA) if query.at is not None else china_time.now())

    async def nearest(limit: int, trusted_first: bool = True) -> Sequence[asyncpg.Record]:
        return await service.nearest(
            reader,
            lon,
            lat,
            kinds=query.kind,
            amenities=query.amenity,
            radius_m=query.max_distance_m,
            limit=limit,
            keep=keep,
            hours_bits=hours_bits,
            trusted_first=trusted_first,
            standing_at=instant,
        )

    filtering = query.min_rating is not None or query.min_star is not None
    if query.mode is None:
        if filtering:
            rows, found = await stations.filtered(nearest, query.limit, instant, query.min_rating, query.min_star)
        else:
            rows = list(await nearest(query.limit))
            found = stations.standing_of(rows, instant)
        items = _nearest_items(rows, status, query.coordsys, found)
        return JSON({"items": items}, headers=SHORT_CACHE)
    # By travel time alone: the trust ranking's factor applies to distances.
    timed = await roads.by_travel_time(
        reader, lon, lat, query.mode, query.limit, lambda n: nearest(n, trusted_first=False)
    )
    found = stations.standing_of([r for _, r in timed.sites], instant)
    # By travel time the filters apply to the sites found in time order (the answer may be shorter than asked).
    reached = [(t, r) for t, r in timed.sites if stations.passes(found[r["id"]], query.min_rating, query.min_star)]
    items = _nearest_items([r for _, r in reached], status, query.coordsys, found)
    for item, (seconds, _) in zip(items, reached, strict=True):
        item["travel_time_s"] = round(seconds, 1)
    travel = {
        "mode": query.mode.value,
        "method": timed.reach.network.describe(query.mode),
        "network": timed.reach.network.as_dict(),
        "off_road_m": round(timed.reach.foot.off_road_m, 1),
        "complete": timed.complete,
    }
    return JSON({"items": items, "travel": travel}, headers=SHORT_CACHE)


def mount_nearest(app_router: APIRouter) -> None:
    """GET /v1/sites/nearest on the application's own router, to be mounted before the included routers.

    The mobile app's hot path: matched without passing through an included router (each is a layer of matching,
    ~25 µs of a nearest request in FastAPI 0.165), and ahead of /v1/sites/{site_id}, which would take "nearest"
    for an id.
    """
    app_router.add_api_route(
        PATH,
        nearest_sites,
        methods=["GET"],
        tags=["sites"],
        response_model=NearestSites,
        responses=PROBLEMS,
        openapi_extra={"parameters": nearest_query_parameters},
        route_class_override=LeanRoute,
    )


def _nearest_items(
    rows: Iterable[asyncpg.Record],
    status: Callable[[asyncpg.Record], hours.Status | None],
    coordsys: str,
    standing: dict[int, dict[str, Any]],
) -> list[dict[str, Any]]:
    """Each site found as a worker sees it, with its distance and its standing as a station in use."""
    items = []
    for row in rows:
        item = worker_view.present(row, status(row), coordsys)
        item["distance_m"] = geo.decimetres(row["distance_m"])
        item.update(standing[row["id"]])
        items.append(item)
    return items
