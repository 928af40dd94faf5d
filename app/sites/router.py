"""HTTP shape of the register: list, read and write sites, bulk upserts. (Nearest: app.sites.nearest.)"""

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from starlette.responses import Response

from app import china_time, geo
from app.api.dependencies import ReaderDep, TransactionDep, VocabulariesDep, WriteKeyDep
from app.api.parameters import (
    CoordSysQuery,
    CursorText,
    Instant,
    SiteId,
    VocabularyCode,
    bbox_query,
    decode_cursor,
    encode_cursor,
    output_format,
)
from app.api.query import StrictQueryRoute
from app.api.responses import JSON, GeoJSON, cached, conditional
from app.compute import offload
from app.formats import geojson
from app.formats.spreadsheets import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE
from app.formats.text import LINE_PATTERN
from app.geo import BBox
from app.problems import BulkRejected
from app.problems.http import answer
from app.regions.adcode import ADCODE_PATTERN
from app.sites import bulk, repository, service, worker_view
from app.sites.schemas import BulkReport, Site, SiteCreate, SiteFields, SiteForWorker, SitePage
from app.stations import service as stations
from app.vocabularies.closed import SiteStatus

router = APIRouter(prefix="/v1/sites", tags=["sites"], route_class=StrictQueryRoute)

PROBLEMS: dict[int | str, dict[str, Any]] = {422: {"description": "A parameter is invalid; `errors` names each field"}}
CURSOR_TAG = "id"
LIST_FORMATS = {"json": "application/json", "geojson": geojson.MEDIA_TYPE}


@router.get(
    "",
    response_model=SitePage,
    responses={**PROBLEMS, 200: {"content": {"application/geo+json": {}}}},
)
async def list_sites(
    request: Request,
    reader: ReaderDep,
    vocabularies: VocabulariesDep,
    bbox: Annotated[BBox | None, Depends(bbox_query)],
    kind: Annotated[list[VocabularyCode] | None, Query(description="Site kind (repeatable)")] = None,
    region: Annotated[
        str | None, Query(pattern=ADCODE_PATTERN, description="Region adcode, descendants included")
    ] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, pattern=LINE_PATTERN, description="Text in name or address")
    ] = None,
    status: Annotated[list[SiteStatus] | None, Query()] = None,
    updated_since: Annotated[Instant | None, Query(description="ISO 8601 with offset")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[CursorText | None, Query(description="next_cursor of the previous page")] = None,
    f: Annotated[Literal["json", "geojson"] | None, Query(description="Output format")] = None,
    coordsys: CoordSysQuery = geo.CoordSys.wgs84,
) -> Response:
    """List and search the register in stable id order, with cursor pagination."""
    await vocabularies.site_kinds.check(reader, "kind", kind)
    where = repository.SiteFilter(
        bbox=bbox.to_wgs84(coordsys) if bbox is not None else None,
        kinds=kind,
        region=region,
        q=(q or "").strip() or None,
        statuses=list(status) if status else None,
        updated_since=updated_since,
    )
    after = decode_cursor(cursor, CURSOR_TAG, 1)[0] if cursor is not None else 0
    rows = await repository.page(reader, where, after, limit + 1)
    items = [geo.record_from_wgs84(r, coordsys) for r in rows[:limit]]
    next_cursor = encode_cursor(CURSOR_TAG, items[-1]["id"]) if len(rows) > limit else None
    if output_format(request, f, LIST_FORMATS) == "geojson":
        collection = geojson.feature_collection([geojson.point_feature(i) for i in items], next_cursor=next_cursor)
        return cached(request, collection, max_age=60, response_class=GeoJSON)
    return cached(request, {"items": items, "next_cursor": next_cursor}, max_age=60)


@router.get("/{site_id:int}", response_model=SiteForWorker, responses={404: {"description": "No such site"}})
async def get_site(
    request: Request, reader: ReaderDep, site_id: SiteId, coordsys: CoordSysQuery = geo.CoordSys.wgs84
) -> Response:
    """One site, with whether it is open now as the nearest answer gives it. Its ETag names the version, which
    PATCH/DELETE need in If-Match, and the answer (a new one when the open status or trust flags change)."""
    instant = china_time.now()
    at = china_time.local_time(instant)
    row = await service.get_for_worker(reader, site_id, at.date())
    standing = await stations.standing(reader, [site_id], instant)
    body = orjson.dumps(worker_view.site(row, at, coordsys) | standing[site_id])
    etag = service.etag(row["id"], row["version"], body)
    return conditional(request, body, JSON.media_type, max_age=worker_view.MAX_AGE_S, etag=etag)


BULK_FORMATS = {
    "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/SiteCreate"}}},
    "application/geo+json": {"schema": {"type": "object", "description": "FeatureCollection of Points"}},
    CSV_MEDIA_TYPE: {"schema": {"type": "string"}},
    XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
}


async def bulk_upload(request: Request) -> list[tuple[int, dict[str, Any]]]:
    """The upload, read whole and parsed: a dependency the route lists before its transaction, so a slow or bad
    upload holds no write connection while it arrives."""
    body = await bulk.read_body(request)
    # In a worker process: a large spreadsheet takes seconds to read, and a stopped request stops the reading.
    return await offload.run_listed(bulk.parse, body, request.headers.get("content-type", ""))


@router.post(
    "/bulk",
    response_model=BulkReport,
    responses={
        **PROBLEMS,
        401: {},
        403: {"description": "A row outside the key's region (all or nothing)"},
        413: {"description": "Body over the size limit"},
        415: {},
    },
    openapi_extra={"requestBody": {"required": True, "content": BULK_FORMATS}},
)
async def bulk_upsert(
    request: Request,
    # In this order (FastAPI resolves dependencies as listed): the key, then the upload, then the transaction.
    principal: WriteKeyDep,
    records: Annotated[list[tuple[int, dict[str, Any]]], Depends(bulk_upload)],
    tx: TransactionDep,
    vocabularies: VocabulariesDep,
    source: Annotated[
        str | None, Query(max_length=100, pattern=LINE_PATTERN, description="Source of every row (else each row's own)")
    ] = None,
    coordsys: CoordSysQuery = geo.CoordSys.wgs84,
    dry_run: Annotated[bool, Query(description="Report what would happen; change nothing")] = False,
    atomic: Annotated[bool, Query(description="All or nothing (default); false applies the valid rows")] = True,
) -> Response:
    """Upsert many sites by (source, external_id) from JSON, GeoJSON, CSV (UTF-8 or GBK) or XLSX, with a row report.

    Bulk rows are full records: optional fields a row leaves out are cleared. A CSV or XLSX header may be in
    English (the field names) or as Chinese spreadsheets write it (名称, 类型, 地址, 纬度, 经度, 外部编号 …).
    """
    result = await bulk.import_sites(
        tx, principal, vocabularies, records, source=source, coordsys=coordsys, dry_run=dry_run, atomic=atomic
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
        detail = f"{rejected} row(s) rejected; nothing was written (atomic import)"
        return answer(BulkRejected(detail, extra=report), request)
    return JSON(report)


@router.post("", status_code=201, response_model=Site, responses={**PROBLEMS, 401: {}, 403: {}, 409: {}})
async def create_site(
    principal: WriteKeyDep, tx: TransactionDep, vocabularies: VocabulariesDep, body: SiteCreate
) -> Response:
    """Add a site (key with the `write` scope, within the key's region)."""
    row = await service.create(tx, principal, vocabularies, body)
    return JSON(
        geo.record_from_wgs84(row, body.coordsys),
        status_code=201,
        headers={"ETag": service.etag(row["id"], row["version"]), "Location": f"/v1/sites/{row['id']}"},
    )


@router.patch(
    "/{site_id:int}", response_model=Site, responses={**PROBLEMS, 401: {}, 403: {}, 404: {}, 412: {}, 428: {}}
)
async def update_site(
    principal: WriteKeyDep,
    tx: TransactionDep,
    vocabularies: VocabulariesDep,
    site_id: SiteId,
    body: SiteFields,
    if_match: Annotated[str | None, Header(description="The ETag read; a stale one gets 412")] = None,
) -> Response:
    """Change some fields of a site; `If-Match` is required, so concurrent edits never overwrite each other."""
    row = await service.update(tx, principal, vocabularies, site_id, body, if_match)
    return JSON(geo.record_from_wgs84(row, body.coordsys), headers={"ETag": service.etag(row["id"], row["version"])})


@router.delete("/{site_id:int}", status_code=204, responses={401: {}, 403: {}, 404: {}, 412: {}, 428: {}})
async def delete_site(
    principal: WriteKeyDep,
    tx: TransactionDep,
    vocabularies: VocabulariesDep,
    site_id: SiteId,
    if_match: Annotated[str | None, Header(description="The ETag read; a stale one gets 412")] = None,
) -> Response:
    """Soft-delete a site (kept, with its history; gone from reads and the change feed says so)."""
    await service.delete(tx, principal, vocabularies, site_id, if_match)
    return Response(status_code=204)
