"""HTTP shape of coverage: per point, per region, per child region (JSON, CSV, XLSX), gaps, siting."""

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app import geo
from app.api import bodies
from app.api.dependencies import ReaderDep, VocabulariesDep
from app.api.parameters import CoordSysQuery, output_format
from app.api.query import StrictQueryRoute
from app.api.responses import JSON, GeoJSON
from app.coverage import export, figures, gaps, point, siting
from app.coverage.evaluation import evaluation
from app.coverage.parameters import CoverageKeptDep, EvaluationDep
from app.coverage.schemas import ChildCoverage, Gaps, PointCoverage, RegionCoverage, Suggestions, SuggestRequest
from app.formats.spreadsheets import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE
from app.regions.adcode import Adcode

router = APIRouter(prefix="/v1/coverage", tags=["coverage"], route_class=StrictQueryRoute)

TABLE_FORMATS = {"json": "application/json", "csv": CSV_MEDIA_TYPE, "xlsx": XLSX_MEDIA_TYPE}


PROBLEMS: dict[int | str, dict[str, object]] = {
    404: {"description": "No such region"},
    410: {"description": "A retired region code: `replaced_by` names the region that took its place"},
    422: {"description": "A parameter is invalid; `errors` names each field"},
}


@router.get("/point", response_model=PointCoverage, responses=PROBLEMS)
async def point_coverage(
    reader: ReaderDep,
    lat: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False)],
    lon: Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False)],
    ev: EvaluationDep,
    coordsys: CoordSysQuery = geo.CoordSys.wgs84,
) -> Response:
    """Is this spot covered under its region's rule; the nearest serving site and its geodesic distance."""
    return JSON(await point.point_coverage(reader, *geo.to_wgs84(lon, lat, coordsys), ev))


@router.get("/regions/{adcode}", response_model=RegionCoverage, responses=PROBLEMS)
async def region_coverage(
    reader: ReaderDep,
    kept: CoverageKeptDep,
    adcode: Adcode,
    ev: EvaluationDep,
    coordsys: CoordSysQuery = geo.CoordSys.wgs84,
) -> Response:
    """Covered area and people, site count and the worst-served spot of a region (a parent aggregates its children)."""
    return JSON(_worst_served_in(await figures.region_coverage(reader, kept, adcode, ev), coordsys))


@router.get(
    "/regions/{adcode}/children",
    response_model=ChildCoverage,
    responses={
        **PROBLEMS,
        200: {"content": {CSV_MEDIA_TYPE: {}, XLSX_MEDIA_TYPE: {}}, "description": "JSON, CSV or XLSX"},
    },
)
async def children_coverage(
    request: Request,
    reader: ReaderDep,
    kept: CoverageKeptDep,
    adcode: Adcode,
    ev: EvaluationDep,
    coordsys: CoordSysQuery = geo.CoordSys.wgs84,
    f: Annotated[Literal["json", "csv", "xlsx"] | None, Query(description="Output format (else by Accept)")] = None,
) -> Response:
    """One coverage row per child region — the per-county table; CSV or XLSX for reports (`f=` or Accept)."""
    answer_in = output_format(request, f, TABLE_FORMATS)
    rows = [_worst_served_in(row, coordsys) for row in await figures.child_rows(reader, kept, adcode, ev)]
    filename = f"coverage_{adcode}_{ev.kind}_{ev.as_of.isoformat()}"
    if answer_in == "xlsx":
        return Response(
            export.to_xlsx(rows, f"{adcode} {ev.kind}"),
            media_type=XLSX_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'},
        )
    if answer_in == "csv":
        return Response(
            export.to_csv(rows),
            media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
        )
    return JSON({"kind": ev.kind, "as_of": ev.as_of.isoformat(), "items": rows})


@router.get("/regions/{adcode}/gaps", response_model=Gaps, responses=PROBLEMS, response_class=GeoJSON)
async def coverage_gaps(
    reader: ReaderDep,
    kept: CoverageKeptDep,
    adcode: Adcode,
    ev: EvaluationDep,
    coordsys: CoordSysQuery = geo.CoordSys.wgs84,
) -> Response:
    """Uncovered parts of the region as a GeoJSON FeatureCollection, largest first, slivers dropped."""
    collection = await gaps.gaps(reader, kept, adcode, ev)
    for feature in collection["features"]:
        feature["geometry"] = geo.geometry_from_wgs84(feature["geometry"], coordsys)
    return GeoJSON(collection)


@router.post(
    "/suggest", response_model=Suggestions, responses=PROBLEMS, openapi_extra=bodies.documented(SuggestRequest)
)
async def suggest_sites(
    request: Request, reader: ReaderDep, kept: CoverageKeptDep, vocabularies: VocabulariesDep
) -> Response:
    """Where the next `count` sites of a kind should go: greedy maximal coverage, existing sites fixed."""
    body = await bodies.read(request, SuggestRequest)
    ev = await evaluation(reader, vocabularies, body.kind, body.as_of, body.radius_m, body.min_sites)
    candidates = await asyncio.to_thread(body.candidates_wgs84) if body.candidates is not None else None
    result = await siting.suggest(reader, kept, body.region, ev, body.count, candidates)
    result["suggestions"] = [geo.record_from_wgs84(s, body.coordsys) for s in result["suggestions"]]
    return JSON(result)


def _worst_served_in(row: dict[str, Any], coordsys: str) -> dict[str, Any]:
    """The row with its worst-served spot in `coordsys` (a copy: the row itself may be kept)."""
    if row["worst_served"] is None:
        return row
    return {**row, "worst_served": geo.record_from_wgs84(row["worst_served"], coordsys)}
