"""HTTP shape of inspections: recorded and listed as due with an inspector's key; a site's inspections and star
level read by anyone."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app import china_time
from app.api.dependencies import InspectKeyDep, ReaderDep, TransactionDep, VocabulariesDep
from app.api.parameters import IsoDate, SiteId
from app.api.query import StrictQueryRoute
from app.api.responses import JSON, cached
from app.inspections import service
from app.inspections.schemas import DueList, Inspection, InspectionIn, InspectionPage
from app.regions.adcode import ADCODE_PATTERN

router = APIRouter(prefix="/v1", tags=["inspections"], route_class=StrictQueryRoute)


@router.post(
    "/sites/{site_id:int}/inspections",
    status_code=201,
    response_model=Inspection,
    responses={401: {}, 403: {"description": "A site outside the key's region"}, 404: {}, 422: {}},
)
async def inspect_site(
    principal: InspectKeyDep, tx: TransactionDep, vocabularies: VocabulariesDep, site_id: SiteId, body: InspectionIn
) -> Response:
    """Record an inspection (a key with the `inspect` scope, within its region): the seven dimensions' scores set the
    site's star level; a failed inspection may suspend the site, with the reason kept."""
    return JSON(await service.record(tx, principal, vocabularies, site_id, body), status_code=201)


@router.get("/sites/{site_id:int}/inspections", response_model=InspectionPage, responses={404: {}})
async def site_inspections(
    request: Request, reader: ReaderDep, site_id: SiteId, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> Response:
    """A site's star level today and its inspections, latest first."""
    return cached(request, await service.inspections(reader, site_id, china_time.today(), limit), max_age=60)


@router.get("/inspections/due", response_model=DueList, responses={401: {}, 403: {}, 404: {}})
async def inspections_due(
    reader: ReaderDep,
    principal: InspectKeyDep,
    region: Annotated[str, Query(pattern=ADCODE_PATTERN, description="Region adcode, descendants included")],
    on: Annotated[IsoDate | None, Query(description="The day to judge on (default today)")] = None,
) -> Response:
    """The region's sites overdue for inspection (their region's interval, default 6 months, since the latest) or
    never inspected, longest waiting first (a key with the `inspect` scope covering the region)."""
    return JSON(await service.due(reader, principal, region, on or china_time.today()))
