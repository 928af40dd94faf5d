"""HTTP shape of the register's read side: parse and validate, call the service, render."""

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Header, Query, Request
from starlette.responses import Response

from app import geo, hours
from app.dependencies import ReaderDep, Writer, WriterDep, reader_of
from app.errors import problem
from app.http import JSON, GeoJSON, cached, decode_cursor, encode_cursor, point_feature, wants_geojson
from app.query import LeanRoute, query_model
from app.sites import bulk, repository, service, trust
from app.sites.open_hours import open_hours_index
from app.sites.schemas import NearestQuery, NearestSites, Site, SiteCreate, SiteFields, SitePage

router = APIRouter(prefix="/v1/sites", tags=["sites"])

# Open-now answers change with the clock: phones may reuse one for a minute, not longer.
SHORT_CACHE = {"Cache-Control": "public, max-age=60"}
PROBLEMS: dict[int | str, dict[str, Any]] = {422: {"description": "A parameter is invalid; `errors` names each field"}}


parse_nearest_query, nearest_query_parameters = query_model(NearestQuery)


async def nearest_sites(request: Request) -> Response:
    """Active sites nearest to a point, ordered by geodesic distance (metres on the WGS-84 spheroid)."""
    query = await parse_nearest_query(request)
    reader = await reader_of(request)
    at = hours.local_time(query.at or dt.datetime.now(hours.CHINA))
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
    rows = await service.nearest(
        reader,
        lon,
        lat,
        query.kind,
        query.amenity,
        query.max_distance_m,
        query.limit,
        keep=keep,
        hours_bits=hours_bits,
    )
    items = [_nearest_item(r, status(r), query.coordsys) for r in rows]
    return JSON({"items": items}, headers=SHORT_CACHE)


def mount_nearest(app_router: APIRouter) -> None:
    """GET /v1/sites/nearest on the application's own router, to be mounted before the included routers.

    The mobile app's hot path: matched without passing through an included router (each is a layer of matching,
    ~25 µs a request in FastAPI 0.165), and ahead of /v1/sites/{site_id}, which would take "nearest" for an id.
    """
    app_router.add_api_route(
        f"{router.prefix}/nearest",
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


def _in_coordsys(row: Mapping[str, Any], coordsys: str) -> dict[str, Any]:
    item = dict(row)
    item["lon"], item["lat"] = geo.from_wgs84(item["lon"], item["lat"], coordsys)
    return item


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
    await service.check_kinds(reader, kind)
    where = repository.SiteFilter(
        bbox=geo.BBox.parse(bbox).to_wgs84(coordsys) if bbox is not None else None,
        kinds=kind,
        region=region,
        q=(q or "").strip() or None,
        statuses=list(status) if status else None,
        updated_since=updated_since,
    )
    rows = await repository.page(reader, where, decode_cursor(cursor), limit + 1)
    items = [_in_coordsys(r, coordsys) for r in rows[:limit]]
    next_cursor = encode_cursor(items[-1]["id"]) if len(rows) > limit else None
    if wants_geojson(request, f):
        features = [point_feature(i) for i in items]
        collection = {"type": "FeatureCollection", "features": features, "next_cursor": next_cursor}
        return cached(request, collection, max_age=60, response_class=GeoJSON)
    return cached(request, {"items": items, "next_cursor": next_cursor}, max_age=60)


@router.get("/{site_id}", response_model=Site, responses={404: {"description": "No such site"}})
async def get_site(
    request: Request, reader: ReaderDep, site_id: int, coordsys: geo.CoordSys = geo.CoordSys.wgs84
) -> Response:
    """One site; its ETag (the version) changes with every edit and is what PATCH/DELETE need in If-Match."""
    row = await service.get(reader, site_id)
    etag = service.etag(row["id"], row["version"])
    if coordsys != geo.CoordSys.wgs84:
        etag = etag[:-1] + f'-{coordsys}"'  # another representation of the same version
    return cached(request, _in_coordsys(row, coordsys), max_age=60, etag=etag)


BULK_FORMATS = {
    "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/SiteCreate"}}},
    "application/geo+json": {"schema": {"type": "object", "description": "FeatureCollection of Points"}},
    "text/csv": {"schema": {"type": "string"}},
    bulk.XLSX: {"schema": {"type": "string", "format": "binary"}},
}


@router.post(
    "/bulk",
    responses={**PROBLEMS, 401: {}, 403: {}, 413: {"description": "Body over the size limit"}, 415: {}},
    openapi_extra={"requestBody": {"required": True, "content": BULK_FORMATS}},
)
async def bulk_upsert(
    request: Request,
    writer: WriterDep,
    principal: Writer,
    source: Annotated[
        str | None, Query(max_length=100, description="Source of every row (else each row's own)")
    ] = None,
    coordsys: geo.CoordSys = geo.CoordSys.wgs84,
    dry_run: Annotated[bool, Query(description="Report what would happen; change nothing")] = False,
    atomic: Annotated[bool, Query(description="All or nothing (default); false applies the valid rows")] = True,
) -> Response:
    """Upsert many sites by (source, external_id) from JSON, GeoJSON, CSV (UTF-8 or GBK) or XLSX, with a row report.

    Bulk rows are full records: optional fields a row leaves out are cleared. A CSV or XLSX header may be in
    English (the field names) or as Chinese spreadsheets write it (名称, 类型, 地址, 纬度, 经度, 外部编号 …).
    """
    body = await bulk.read_body(request)
    records = bulk.parse(body, request.headers.get("content-type", ""))
    result = await bulk.import_sites(
        writer, principal, records, source=source, coordsys=coordsys, dry_run=dry_run, atomic=atomic
    )
    summary = result.summary()
    report = {
        "applied": result.applied,
        "dry_run": result.dry_run,
        "atomic": result.atomic,
        "summary": summary,
        "warnings": result.warnings,
        "rows": [r.as_dict() for r in result.rows],
    }
    rejected = summary["rejected"]
    if result.atomic and rejected:
        return problem(
            422,
            "Invalid request",
            f"{rejected} row(s) rejected; nothing was written (atomic import)",
            type_="/problems/bulk-rejected",
            extra=report,
        )
    return JSON(report)


@router.post("", status_code=201, response_model=Site, responses={**PROBLEMS, 401: {}, 403: {}, 409: {}})
async def create_site(writer: WriterDep, principal: Writer, body: SiteCreate) -> Response:
    """Add a site (key with the `write` scope, within the key's region)."""
    row = await service.create(writer, principal, body)
    return JSON(
        _in_coordsys(row, body.coordsys),
        status_code=201,
        headers={"ETag": service.etag(row["id"], row["version"]), "Location": f"/v1/sites/{row['id']}"},
    )


@router.patch("/{site_id}", response_model=Site, responses={**PROBLEMS, 401: {}, 403: {}, 404: {}, 412: {}, 428: {}})
async def update_site(
    writer: WriterDep,
    principal: Writer,
    site_id: int,
    body: SiteFields,
    if_match: Annotated[str | None, Header(description="The ETag read; a stale one gets 412")] = None,
) -> Response:
    """Change some fields of a site; `If-Match` is required, so concurrent edits never overwrite each other."""
    row = await service.update(writer, principal, site_id, body, if_match)
    return JSON(_in_coordsys(row, body.coordsys), headers={"ETag": service.etag(row["id"], row["version"])})


@router.delete("/{site_id}", status_code=204, responses={401: {}, 403: {}, 404: {}, 412: {}, 428: {}})
async def delete_site(
    writer: WriterDep,
    principal: Writer,
    site_id: int,
    if_match: Annotated[str | None, Header(description="The ETag read; a stale one gets 412")] = None,
) -> Response:
    """Soft-delete a site (kept, with its history; gone from reads and the change feed says so)."""
    await service.delete(writer, principal, site_id, if_match)
    return Response(status_code=204)
