"""GET /v1/sites/nearest, the mobile app's hot path: parse, search, render each item flat."""

from collections.abc import Sequence
from typing import Any

import asyncpg
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from app import china_time, geo
from app.api.dependencies import reader_of
from app.api.query import LeanRoute, query_model
from app.api.responses import JSON
from app.roads import service as roads
from app.sites import hours, trust
from app.sites.nearest import service
from app.sites.nearest.schemas import NearestQuery, NearestSites
from app.sites.open_hours import open_hours_index

PATH = "/v1/sites/nearest"
# Open-now answers change with the clock: phones may reuse one for a minute, not longer.
SHORT_CACHE = {"Cache-Control": "public, max-age=60"}
PROBLEMS: dict[int | str, dict[str, Any]] = {422: {"description": "A parameter is invalid; `errors` names each field"}}

parse_nearest_query, nearest_query_parameters = query_model(NearestQuery)


async def nearest_sites(request: Request) -> Response:
    """Active sites nearest to a point, ordered by geodesic distance (metres on the WGS-84 spheroid), or with
    `mode` by travel time on the road network there."""
    query = await parse_nearest_query(request)
    reader = await reader_of(request)
    at = china_time.local_time(query.at or china_time.now())
    # Per request: items share a handful of opening-hours strings.
    statuses: dict[str, hours.Status] = {}

    def status(row: asyncpg.Record) -> hours.Status | None:
        expression = row["opening_hours"]
        if expression is None:
            return None
        if expression not in statuses:
            statuses[expression] = hours.status(expression, at)
        return statuses[expression]

    keep, hours_bits = None, None
    if query.open_now is not None:
        wanted = query.open_now

        def keep(row: asyncpg.Record) -> bool:
            found = status(row)
            return found is not None and found.open_now == wanted

        hours_bits = await open_hours_index.bits(reader, at, wanted)

    lon, lat = geo.to_wgs84(query.lon, query.lat, query.coordsys)

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
        )

    if query.mode is None:
        items = [_nearest_item(r, status(r), query.coordsys) for r in await nearest(query.limit)]
        return JSON({"items": items}, headers=SHORT_CACHE)
    # By travel time alone: the trust ranking's factor applies to distances.
    timed = await roads.by_travel_time(
        reader, lon, lat, query.mode, query.limit, lambda n: nearest(n, trusted_first=False)
    )
    items = [{**_nearest_item(r, status(r), query.coordsys), "travel_time_s": round(s, 1)} for s, r in timed.sites]
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


# The datums an answer can be in (NearestQuery.coordsys), bound once: compared per item.
_WGS84, _GCJ02 = geo.CoordSys.wgs84, geo.CoordSys.gcj02


def _nearest_item(row: asyncpg.Record, status: hours.Status | None, coordsys: str) -> dict[str, Any]:
    # Built for every item of every nearest answer: a flat dict, fields read once.
    wgs_lon, wgs_lat = row["lon"], row["lat"]
    gcj_lon, gcj_lat = row["gcj02_lon"], row["gcj02_lat"]
    if gcj_lon is None:  # a write cleared it (see Site.gcj02_lon)
        gcj_lon, gcj_lat = geo.from_wgs84(wgs_lon, wgs_lat, _GCJ02)
    if coordsys == _WGS84:
        lon, lat = wgs_lon, wgs_lat
    elif coordsys == _GCJ02:
        lon, lat = gcj_lon, gcj_lat
    else:
        lon, lat = geo.from_wgs84(wgs_lon, wgs_lat, coordsys)
    if status is None:
        open_now = opens_at = closes_at = None
    else:
        open_now, opens_at, closes_at = status.open_now, status.opens_at, status.closes_at
    return {
        "id": row["id"],
        "kind": row["kind"],
        "name": row["name"],
        "address": row["address"],
        "lat": lat,
        "lon": lon,
        "distance_m": geo.decimetres(row["distance_m"]),
        "amenities": row["amenities"],
        "access": row["access"],
        "access_note": row["access_note"],
        "open_now": open_now,
        "opens_at": opens_at,
        "closes_at": closes_at,
        "last_verified_at": row["last_verified_at"],
        "trust": trust.flags(row["access_reported"], row["unverified"]),
        # Navigation: the app has the name already; each link carries only the point, in the datum its map wants
        # (Amap: GCJ-02; a geo: URI: WGS-84).
        "links": {
            "amap": f"https://uri.amap.com/marker?position={gcj_lon:.6f},{gcj_lat:.6f}&coordinate=gaode&callnative=1",
            "geo": f"geo:{wgs_lat:.6f},{wgs_lon:.6f}",
        },
    }
