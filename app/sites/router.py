"""HTTP shape of the register's read side: parse and validate, call the service, render."""

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app import geo
from app.dependencies import ReaderDep
from app.errors import NotImplementedYet
from app.http import JSON, GeoJSON, decode_cursor, encode_cursor, point_feature, wants_geojson
from app.sites import repository, service
from app.sites.schemas import NearestSites, Site, SitePage

router = APIRouter(prefix="/v1/sites", tags=["sites"])

PROBLEMS: dict[int | str, dict[str, Any]] = {422: {"description": "A parameter is invalid; `errors` names each field"}}

Lat = Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False, description="Latitude, degrees")]
Lon = Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False, description="Longitude, degrees")]


@router.get("/nearest", response_model=NearestSites, responses=PROBLEMS)
async def nearest_sites(
    reader: ReaderDep,
    lat: Lat,
    lon: Lon,
    kind: Annotated[list[str] | None, Query(description="Site kind; repeat for several")] = None,
    amenity: Annotated[list[str] | None, Query(description="Required amenity; repeat: all must be present")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    max_distance_m: Annotated[
        float, Query(gt=0, le=geo.MAX_SEARCH_RADIUS_M, allow_inf_nan=False, description="Search radius, metres")
    ] = geo.DEFAULT_SEARCH_RADIUS_M,
    coordsys: geo.CoordSys = geo.CoordSys.wgs84,
    open_now: Annotated[bool | None, Query(description="Not supported yet: rejected when given")] = None,
    at: Annotated[str | None, Query(description="Not supported yet: rejected when given")] = None,
) -> Response:
    """Active sites nearest to a point, ordered by geodesic distance (metres on the WGS-84 spheroid)."""
    geo.require_wgs84(coordsys)
    for name, value in (("open_now", open_now), ("at", at)):
        if value is not None:
            raise NotImplementedYet(name, "opening-hours filtering is not supported yet")
    rows = await service.nearest(reader, lon, lat, kind, amenity or [], max_distance_m, limit)
    items = [
        {
            "id": r["id"],
            "kind": r["kind"],
            "name": r["name"],
            "address": r["address"],
            "lat": r["lat"],
            "lon": r["lon"],
            "distance_m": round(r["distance_m"], 1),
            "amenities": r["amenities"],
        }
        for r in rows
    ]
    return JSON({"items": items})


@router.get(
    "",
    response_model=SitePage,
    responses={**PROBLEMS, 200: {"content": {"application/geo+json": {}}}},
)
async def list_sites(
    request: Request,
    reader: ReaderDep,
    bbox: Annotated[str | None, Query(description="minLon,minLat,maxLon,maxLat (WGS-84)")] = None,
    kind: Annotated[list[str] | None, Query()] = None,
    region: Annotated[
        str | None, Query(pattern=r"^[0-9]{6}$", description="Region adcode, descendants included")
    ] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100, description="Text in name or address")] = None,
    status: Annotated[list[Literal["active", "suspended", "closed"]] | None, Query()] = None,
    updated_since: Annotated[dt.datetime | None, Query(description="ISO 8601 with offset")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    f: Annotated[Literal["json", "geojson"] | None, Query(description="Output format")] = None,
    coordsys: geo.CoordSys = geo.CoordSys.wgs84,
) -> Response:
    """List and search the register in stable id order, with cursor pagination."""
    geo.require_wgs84(coordsys)
    await service.check_kinds(reader, kind)
    where = repository.SiteFilter(
        bbox=geo.BBox.parse(bbox) if bbox is not None else None,
        kinds=kind,
        region=region,
        q=q.strip() or None if q else None,
        statuses=list(status) if status else None,
        updated_since=updated_since,
    )
    rows = await repository.page(reader, where, decode_cursor(cursor), limit + 1)
    items = [dict(r) for r in rows[:limit]]
    next_cursor = encode_cursor(items[-1]["id"]) if len(rows) > limit else None
    if wants_geojson(request, f):
        features = [point_feature(i) for i in items]
        return GeoJSON({"type": "FeatureCollection", "features": features, "next_cursor": next_cursor})
    return JSON({"items": items, "next_cursor": next_cursor})


@router.get("/{site_id}", response_model=Site, responses={404: {"description": "No such site"}})
async def get_site(reader: ReaderDep, site_id: int) -> Response:
    """One site; its ETag changes with every edit."""
    row = await service.get(reader, site_id)
    return JSON(dict(row), headers={"ETag": f'"{row["id"]}-{row["version"]}"'})
