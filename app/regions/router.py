"""HTTP shape of regions: the administrative units and their boundaries."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app import geo
from app.api.dependencies import ReaderDep
from app.api.parameters import CoordSysQuery
from app.api.query import StrictQueryRoute
from app.api.responses import cached
from app.regions import repository, service
from app.regions.adcode import ADCODE_PATTERN, Adcode
from app.regions.schemas import RegionDetail, RegionList
from app.vocabularies.closed import RegionLevel

router = APIRouter(prefix="/v1/regions", tags=["regions"], route_class=StrictQueryRoute)


def _round_area(row: dict[str, Any]) -> dict[str, Any]:
    row["area_km2"] = round(float(row["area_km2"]), 3)
    return row


@router.get("", response_model=RegionList)
async def list_regions(
    request: Request,
    reader: ReaderDep,
    level: Annotated[RegionLevel | None, Query()] = None,
    parent: Annotated[str | None, Query(pattern=ADCODE_PATTERN, description="Children of this adcode")] = None,
) -> Response:
    """Regions (without boundaries), in adcode order."""
    rows = await repository.list_regions(reader, level, parent)
    return cached(request, {"items": [_round_area(dict(r)) for r in rows]}, max_age=3600)


@router.get(
    "/{adcode}",
    response_model=RegionDetail,
    responses={
        404: {"description": "No such region"},
        410: {"description": "A retired code: `replaced_by` names the region that took its place"},
    },
)
async def get_region(
    request: Request, reader: ReaderDep, adcode: Adcode, coordsys: CoordSysQuery = geo.CoordSys.wgs84
) -> Response:
    """One region with its boundary as GeoJSON."""
    row = await repository.get(reader, adcode)
    if row is None:
        raise await service.absent(reader, adcode)
    region = _round_area(dict(row))
    region["boundary"] = geo.geometry_from_wgs84(region["boundary"], coordsys)
    if region["seat"] is not None:
        region["seat"] = geo.geometry_from_wgs84(region["seat"], coordsys)
    return cached(request, region, max_age=3600)
