"""HTTP shape of ratings: rated from the door (public, with the door token), read by anyone (comments the operator
hid left out), call-backs worked by the site's operator (a write key for its region)."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app.api.dependencies import ReaderDep, TransactionDep, WriteKeyDep
from app.api.parameters import (
    MAX_BIGINT,
    CallbackId,
    CursorText,
    IsoDate,
    RatingId,
    SiteId,
    decode_cursor,
    encode_cursor,
)
from app.api.query import StrictQueryRoute
from app.api.responses import JSON
from app.ratings import service
from app.ratings.schemas import Callback, CallbackOutcome, CallbackPage, Rated, RatingIn, RatingPage
from app.regions.adcode import ADCODE_PATTERN
from app.visits.router import client_of
from app.vocabularies.closed import CallbackStatus

router = APIRouter(prefix="/v1", tags=["ratings"], route_class=StrictQueryRoute)
RATINGS_CURSOR, CALLBACKS_CURSOR = "rating", "callback"


@router.post(
    "/sites/{site_id:int}/ratings",
    status_code=201,
    response_model=Rated,
    responses={404: {}, 422: {"description": "Not this site's door token, or a bad field"}, 429: {}},
)
async def rate_site(request: Request, tx: TransactionDep, site_id: SiteId, body: RatingIn) -> Response:
    """Rate a station from its door: 1–5 stars, tags, a comment of up to 500 characters. One rating per client and
    site counts per 30 days: a new one replaces it. 1–2 stars, or the `locked` tag, opens a call-back."""
    rated = await service.rate(tx, site_id, body, client_of(request))
    return JSON(rated, status_code=201, headers={"Cache-Control": "no-store"})


@router.get("/sites/{site_id:int}/ratings", response_model=RatingPage, responses={404: {}})
async def site_ratings(
    reader: ReaderDep,
    site_id: SiteId,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[CursorText | None, Query(description="next_cursor of the previous page")] = None,
) -> Response:
    """A site's rating (mean, count, the score to rank it by) and its current ratings, newest first."""
    before = decode_cursor(cursor, RATINGS_CURSOR, 1)[0] if cursor is not None else MAX_BIGINT
    rows = await service.ratings(reader, site_id, before, limit + 1)
    items = rows[:limit]
    next_cursor = encode_cursor(RATINGS_CURSOR, items[-1]["id"]) if len(rows) > limit else None
    summary = await service.summary(reader, site_id)
    return JSON({"worker_rating": summary, "items": items, "next_cursor": next_cursor})


@router.post("/ratings/{rating_id:int}/hide-comment", status_code=204, responses={401: {}, 403: {}, 404: {}})
async def hide_comment(principal: WriteKeyDep, tx: TransactionDep, rating_id: RatingId) -> Response:
    """Hide a rating's comment (a write key for the site's region). The rating's stars still count: an operator
    cannot hide a rating."""
    await service.hide_comment(tx, principal, rating_id)
    return Response(status_code=204)


@router.get("/callbacks", response_model=CallbackPage, responses={401: {}, 403: {}, 404: {}})
async def callbacks(
    reader: ReaderDep,
    principal: WriteKeyDep,
    status: CallbackStatus | None = None,
    region: Annotated[
        str | None,
        Query(pattern=ADCODE_PATTERN, description="Only this region's (descendants included), within the key's region"),
    ] = None,
    overdue_on: Annotated[
        IsoDate | None, Query(description="Only those still open on this day past their due date")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[CursorText | None, Query(description="next_cursor of the previous page")] = None,
) -> Response:
    """The call-backs of the key's region, or of a region within it, oldest first."""
    after = decode_cursor(cursor, CALLBACKS_CURSOR, 1)[0] if cursor is not None else 0
    rows = await service.callbacks(reader, principal, status, region, overdue_on, after, limit + 1)
    items = rows[:limit]
    next_cursor = encode_cursor(CALLBACKS_CURSOR, items[-1]["id"]) if len(rows) > limit else None
    return JSON({"items": items, "next_cursor": next_cursor})


@router.patch("/callbacks/{callback_id:int}", response_model=Callback, responses={401: {}, 403: {}, 404: {}, 422: {}})
async def resolve_callback(
    principal: WriteKeyDep, tx: TransactionDep, callback_id: CallbackId, body: CallbackOutcome
) -> Response:
    """Record a call-back's outcome (a write key for the site's region); it is then resolved."""
    return JSON(await service.resolve_callback(tx, principal, callback_id, body.outcome))
