"""HTTP shape of reports: anyone reports, key holders review."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app.dependencies import ReaderDep, Writer, WriterDep
from app.http import JSON, decode_cursor, encode_cursor
from app.reports import service
from app.reports.schemas import ReportIn, ReportResolution

router = APIRouter(prefix="/v1", tags=["reports"])


@router.post("/sites/{site_id}/reports", status_code=201, responses={404: {}, 422: {}, 429: {}})
async def report_site(request: Request, writer: WriterDep, site_id: int, body: ReportIn) -> Response:
    """Report that a site is closed, locked, needs an app to enter, moved … (public; repeats are merged)."""
    client = service.client_fingerprint(request.client.host if request.client else None)
    report = await service.report(writer, site_id, body, client)
    return JSON(report, status_code=201 if not report["merged"] else 200)


@router.get("/reports", responses={401: {}, 403: {}})
async def review_queue(
    reader: ReaderDep,
    principal: Writer,
    status: Literal["open", "accepted", "rejected"] = "open",
    site_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> Response:
    """The review queue (key with the write scope), oldest first."""
    rows = await service.queue(reader, status, site_id, decode_cursor(cursor), limit + 1)
    items = rows[:limit]
    return JSON({"items": items, "next_cursor": encode_cursor(items[-1]["id"]) if len(rows) > limit else None})


@router.patch("/reports/{report_id}", responses={401: {}, 403: {}, 404: {}, 422: {}})
async def resolve_report(writer: WriterDep, principal: Writer, report_id: int, body: ReportResolution) -> Response:
    """Accept or reject a report; accepting changes the site (closed → closed, needs_app → access app, or as given)."""
    return JSON(await service.resolve(writer, principal, report_id, body))
