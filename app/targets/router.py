"""HTTP shape of targets: set, read, change and withdraw (writes with a `plan` key and If-Match, as sites)."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from starlette.responses import Response

from app.api.dependencies import PlanKeyDep, ReaderDep, TransactionDep, VocabulariesDep
from app.api.parameters import MAX_BIGINT, CursorText, VocabularyCode, decode_cursor, encode_cursor
from app.api.query import StrictQueryRoute
from app.api.responses import JSON
from app.coverage.parameters import CoverageKeptDep
from app.regions import repository as region_repository
from app.regions.adcode import ADCODE_PATTERN, Adcode
from app.regions.service import absent
from app.targets import repository, service
from app.targets.schemas import Target, TargetCreate, TargetFields, TargetHistory, TargetPage
from app.vocabularies.closed import TargetStatus

router = APIRouter(prefix="/v1", tags=["targets"], route_class=StrictQueryRoute)

TargetId = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="The target's id")]
IfMatch = Annotated[str | None, Header(description="The ETag read; a stale one gets 412")]
PROBLEMS: dict[int | str, dict[str, Any]] = {422: {"description": "A field is invalid; `errors` names each field"}}
CURSOR_TAG = "target"


def _answer(target: dict[str, Any], status_code: int = 200) -> Response:
    headers = {"ETag": service.etag(target["id"], target["version"])}
    if status_code == 201:
        headers["Location"] = f"/v1/targets/{target['id']}"
    return JSON(target, status_code=status_code, headers=headers)


@router.post("/targets", status_code=201, response_model=Target, responses={**PROBLEMS, 401: {}, 403: {}})
async def create_target(
    principal: PlanKeyDep,
    reader: ReaderDep,
    tx: TransactionDep,
    vocabularies: VocabulariesDep,
    kept: CoverageKeptDep,
    body: TargetCreate,
) -> Response:
    """Set a target for a region and kind (key with the `plan` scope, within the key's region): a count of active
    sites, or a covered share of the area or of the people, to reach by `due_on`. Its line runs from `start_value`
    on `starts_on` (default: the region's figure today) to `value` on `due_on`."""
    return _answer(await service.create(tx, reader, principal, vocabularies, kept, body), 201)


async def _page(
    reader: ReaderDep,
    region: str | None,
    kind: str | None,
    status: list[TargetStatus] | None,
    limit: int,
    cursor: str | None,
) -> Response:
    after = decode_cursor(cursor, CURSOR_TAG, 1)[0] if cursor is not None else 0
    statuses = list(status) if status else [TargetStatus.active]
    rows = await repository.page(reader, region, kind, statuses, after, limit + 1)
    items = [dict(r) for r in rows[:limit]]
    next_cursor = encode_cursor(CURSOR_TAG, items[-1]["id"]) if len(rows) > limit else None
    return JSON({"items": items, "next_cursor": next_cursor})


Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[CursorText | None, Query(description="next_cursor of the previous page")]
Statuses = Annotated[list[TargetStatus] | None, Query(description="Repeatable; default active")]


@router.get("/targets", response_model=TargetPage, responses=PROBLEMS)
async def list_targets(
    reader: ReaderDep,
    region: Annotated[
        str | None, Query(pattern=ADCODE_PATTERN, description="A region's adcode: its targets and those below it")
    ] = None,
    kind: Annotated[VocabularyCode | None, Query()] = None,
    status: Statuses = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """Targets in the order they were set (active ones unless `status` says otherwise)."""
    return await _page(reader, region, kind, status, limit, cursor)


@router.get("/regions/{adcode}/targets", response_model=TargetPage, responses={**PROBLEMS, 404: {}})
async def region_targets(
    reader: ReaderDep,
    adcode: Adcode,
    kind: Annotated[VocabularyCode | None, Query()] = None,
    status: Statuses = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """The targets of a region and of the regions below it."""
    if not await region_repository.exists(reader, adcode):
        raise await absent(reader, adcode)
    return await _page(reader, adcode, kind, status, limit, cursor)


@router.get("/targets/{target_id:int}", response_model=Target, responses={404: {}})
async def get_target(request: Request, reader: ReaderDep, target_id: TargetId) -> Response:
    """One target, withdrawn ones too; its ETag is what PATCH and DELETE need in If-Match."""
    return _answer(await service.get(reader, target_id))


@router.get("/targets/{target_id:int}/history", response_model=TargetHistory, responses={404: {}})
async def target_history(reader: ReaderDep, target_id: TargetId) -> Response:
    """Every change to the target, oldest first, with the name of the key that made it."""
    await service.get(reader, target_id)
    return JSON({"items": [dict(r) for r in await repository.history(reader, target_id)]})


@router.patch(
    "/targets/{target_id:int}",
    response_model=Target,
    responses={**PROBLEMS, 401: {}, 403: {}, 404: {}, 409: {}, 412: {}, 428: {}},
)
async def update_target(
    principal: PlanKeyDep, tx: TransactionDep, target_id: TargetId, body: TargetFields, if_match: IfMatch = None
) -> Response:
    """Change a target's value, dates or note; `If-Match` is required. The change is kept in its history."""
    return _answer(await service.update(tx, principal, target_id, body, if_match))


@router.delete(
    "/targets/{target_id:int}", status_code=204, responses={401: {}, 403: {}, 404: {}, 409: {}, 412: {}, 428: {}}
)
async def withdraw_target(
    principal: PlanKeyDep, tx: TransactionDep, target_id: TargetId, if_match: IfMatch = None
) -> Response:
    """Withdraw a target: it stays readable, with its history, and progress no longer measures against it."""
    await service.withdraw(tx, principal, target_id, if_match)
    return Response(status_code=204)
