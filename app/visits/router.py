"""HTTP shape of visits: the door's POST /v1/visits (the hot path, a lean route), a site's usage, a region's."""

import datetime as dt
import re
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.responses import Response

from app import china_time
from app.api.bodies import documented
from app.api.dependencies import ReaderDep, TransactionDep, VocabulariesDep, WriteKeyDep
from app.api.parameters import IsoDate, SiteId, VocabularyCode
from app.api.query import LeanRoute, StrictQueryRoute
from app.api.responses import JSON, cached
from app.coverage.parameters import AsOf
from app.problems import InvalidParameter
from app.regions.adcode import Adcode
from app.sites import service as sites
from app.visits import service
from app.visits.schemas import (
    ChildrenUsage,
    RegionUsage,
    SiteUsage,
    StationRules,
    StationRulesIn,
    VisitCounted,
    VisitIn,
)

VISITS_PATH = "/v1/visits"
router = APIRouter(prefix="/v1", tags=["visits"], route_class=StrictQueryRoute)
CLIENT_ID = re.compile(r"[A-Za-z0-9._-]{8,128}")
DEFAULT_DAYS = 30


def client_of(request: Request) -> str:
    """Who is visiting: the app's X-Client-Id (a random id per installation), else the connection's address."""
    given = request.headers.get("x-client-id")
    if given is not None:
        if not CLIENT_ID.fullmatch(given):
            raise InvalidParameter("X-Client-Id", "8–128 letters, digits, '.', '_' or '-'")
        return "id:" + given
    return "ip:" + address_of(request)


def address_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def post_visit(request: Request) -> Response:
    """Count a scan of a station's QR code: once per client, site and clock hour (a repeat answers 200,
    `counted: false`). Nothing personal is kept: the client only as a keyed hash under a salt destroyed daily."""
    try:
        body = VisitIn.model_validate_json(await request.body())
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False, include_context=False)]
        raise RequestValidationError(errors) from None
    client = client_of(request)
    at = service.when(body.visited_at, service.now())
    visit = service.Visit(body.token, client, address_of(request), body.worker_group, at)
    db = request.app.state.db
    counted = await service.record(request.app.state.visit_desk, db.engine, db.primary, visit, time.time())
    return JSON(counted, status_code=201 if counted["counted"] else 200, headers={"Cache-Control": "no-store"})


def mount_visits(app_router: APIRouter) -> None:
    """POST /v1/visits on the application's own router, a lean route as the nearest query's (every scan at every
    station's door comes here)."""
    app_router.add_api_route(
        VISITS_PATH,
        post_visit,
        methods=["POST"],
        tags=["visits"],
        status_code=201,
        response_model=VisitCounted,
        responses={
            200: {"model": VisitCounted, "description": "Counted already this hour"},
            422: {"description": "A forged or rotated token, or a bad field; `errors` names it"},
            429: {"description": "Too many visits from this client, at this site or from this network address"},
        },
        openapi_extra=documented(VisitIn),
        route_class_override=LeanRoute,
    )


def _period(first: dt.date | None, last: dt.date | None, ending: dt.date) -> tuple[dt.date, dt.date]:
    last = last or ending
    return first or last - dt.timedelta(days=DEFAULT_DAYS - 1), last


FromDay = Annotated[IsoDate | None, Query(alias="from", description="First day (China date); default 30 days back")]
ToDay = Annotated[IsoDate | None, Query(alias="to", description="Last day, included; default today (or `as_of`)")]
PROBLEMS: dict[int | str, dict[str, Any]] = {404: {}, 422: {"description": "A parameter is invalid"}}
OfKind = Annotated[VocabularyCode | None, Query(description="Only sites of this kind (default: every kind)")]


@router.get("/sites/{site_id:int}/usage", response_model=SiteUsage, responses=PROBLEMS)
async def site_usage(
    request: Request,
    reader: ReaderDep,
    site_id: SiteId,
    first: FromDay = None,
    last: ToDay = None,
    by: Annotated[Literal["hour", "day", "week", "month"], Query(description="Series step")] = "day",
) -> Response:
    """A site's visits by hour, day, week or month, the worker-group mix and its busiest hours. Hours come from the
    raw visits (kept VISITS_RETENTION_MONTHS whole months), days and longer from the daily counts (kept for good)."""
    await sites.get(reader, site_id)
    first, last = _period(first, last, china_time.today())
    return cached(request, await service.site_usage(reader, site_id, first, last, by), max_age=60)


@dataclass(frozen=True, slots=True)
class UsageQuery:
    """What a region's usage is asked for: the period, the day the idle rule is judged on, the kind (checked)."""

    first: dt.date
    last: dt.date
    as_of: dt.date
    kind: str | None


async def usage_query(
    reader: ReaderDep,
    vocabularies: VocabulariesDep,
    first: FromDay = None,
    last: ToDay = None,
    as_of: AsOf = None,
    kind: OfKind = None,
) -> UsageQuery:
    if kind is not None:
        await vocabularies.site_kinds.check(reader, "kind", [kind])
    day = as_of or china_time.today()
    first, last = _period(first, last, day)
    return UsageQuery(first, last, day, kind)


UsageQueryDep = Annotated[UsageQuery, Depends(usage_query)]


@router.get("/coverage/regions/{adcode}/usage", response_model=RegionUsage, responses=PROBLEMS)
async def region_usage(request: Request, reader: ReaderDep, adcode: Adcode, q: UsageQueryDep) -> Response:
    """Visits per site of a region, the worker-group mix, and its idle stations on `as_of`: serving that day (as
    coverage counts a site), with fewer visits in the 30 days ending that day than the region's rule, default 30."""
    usage = await service.region_usage(reader, adcode, q.first, q.last, q.as_of, q.kind)
    return cached(request, usage, max_age=60)


@router.get("/coverage/regions/{adcode}/usage/children", response_model=ChildrenUsage, responses=PROBLEMS)
async def children_usage(request: Request, reader: ReaderDep, adcode: Adcode, q: UsageQueryDep) -> Response:
    """Visits and idle stations of each child region (on `as_of`, as the region's usage)."""
    usage = await service.children_usage(reader, adcode, q.first, q.last, q.as_of, q.kind)
    return cached(request, usage, max_age=60)


@router.get("/regions/{adcode}/station-rules", response_model=StationRules, responses={404: {}})
async def station_rules(reader: ReaderDep, adcode: Adcode) -> Response:
    """A region's rules for its stations in use: the idle threshold and the inspection interval, its own and those
    that apply."""
    return JSON(await service.station_rules(reader, adcode))


@router.put(
    "/regions/{adcode}/station-rules", response_model=StationRules, responses={401: {}, 403: {}, 404: {}, 422: {}}
)
async def set_station_rules(
    principal: WriteKeyDep, tx: TransactionDep, adcode: Adcode, body: StationRulesIn
) -> Response:
    """Set a region's own idle threshold and inspection interval (a write key whose region holds the region)."""
    rules = await service.set_station_rules(
        tx, principal, adcode, body.idle_below_visits, body.inspection_interval_months
    )
    return JSON(rules)
