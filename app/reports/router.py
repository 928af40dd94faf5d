"""HTTP shape of reports: anyone reports, key holders review."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app.api.dependencies import ReaderDep, TransactionDep, VocabulariesDep, WriteKeyDep
from app.api.parameters import MAX_BIGINT, CursorText, IsoDate, ReportId, SiteId, decode_cursor, encode_cursor
from app.api.query import StrictQueryRoute
from app.api.responses import JSON
from app.regions.adcode import ADCODE_PATTERN
from app.reports import service
from app.reports.schemas import Filed, Report, ReportIn, ReportPage, ReportResolution
from app.vocabularies.closed import ReportStatus

router = APIRouter(prefix="/v1", tags=["reports"], route_class=StrictQueryRoute)
CURSOR_TAG = "report"


@router.post(
    "/sites/{site_id:int}/reports",
    status_code=201,
    response_model=Filed,
    responses={200: {"model": Filed, "description": "Merged into an open report"}, 404: {}, 422: {}, 429: {}},
)
async def report_site(request: Request, tx: TransactionDep, site_id: SiteId, body: ReportIn) -> Response:
    """Report that a site is closed, locked, needs an app to enter, moved … (public; repeats are merged)."""
    client = service.client_fingerprint(request.client.host if request.client else None)
    report = await service.report(tx, site_id, body, client)
    return JSON(report, status_code=201 if not report["merged"] else 200)


@router.get("/reports", response_model=ReportPage, responses={401: {}, 403: {}, 404: {}})
async def review_queue(
    reader: ReaderDep,
    principal: WriteKeyDep,
    status: ReportStatus = ReportStatus.open,
    site_id: Annotated[int | None, Query(ge=1, le=MAX_BIGINT)] = None,
    region: Annotated[
        str | None,
        Query(pattern=ADCODE_PATTERN, description="Only this region's (descendants included), within the key's region"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[CursorText | None, Query(description="next_cursor of the previous page")] = None,
    overdue_on: Annotated[
        IsoDate | None, Query(description="Only those still open on this day past their due date")
    ] = None,
) -> Response:
    """The review queue of the key's region, or of a region within it (key with the write scope), oldest first. A
    report is due 3 days after it was filed, as a call-back after its rating; an overdue one lowers the site's star
    level."""
    after = decode_cursor(cursor, CURSOR_TAG, 1)[0] if cursor is not None else 0
    rows = await service.queue(reader, principal, status, site_id, after, limit + 1, overdue_on, region)
    items = rows[:limit]
    next_cursor = encode_cursor(CURSOR_TAG, items[-1]["id"]) if len(rows) > limit else None
    return JSON({"items": items, "next_cursor": next_cursor})


@router.patch("/reports/{report_id:int}", response_model=Report, responses={401: {}, 403: {}, 404: {}, 422: {}})
async def resolve_report(
    principal: WriteKeyDep,
    tx: TransactionDep,
    vocabularies: VocabulariesDep,
    report_id: ReportId,
    body: ReportResolution,
) -> Response:
    """Accept or reject a report; accepting changes the site (closed → closed, needs_app → access app, or as given)."""
    return JSON(await service.resolve(tx, principal, vocabularies, report_id, body))
