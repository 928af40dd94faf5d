"""The change feed partners sync from: every created, updated and deleted site, in order, resumable."""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from app import geo
from app.api.dependencies import PrimaryReaderDep
from app.api.parameters import CoordSysQuery, CursorText, decode_cursor, encode_cursor
from app.api.query import StrictQueryRoute
from app.api.responses import JSON
from app.changes import repository
from app.changes.schemas import ChangePage
from app.problems import InvalidParameter
from app.stations import service as stations

router = APIRouter(prefix="/v1", tags=["partners"], route_class=StrictQueryRoute)
CURSOR_TAG = "c"


def _site(after: dict[str, Any] | None, coordsys: str) -> dict[str, Any] | None:
    if after is None:
        return None
    return geo.record_from_wgs84({k: v for k, v in after.items() if k != "deleted_at"}, coordsys)


@router.get(
    "/changes", response_model=ChangePage, responses={422: {"description": "`since` is not a cursor of this feed"}}
)
async def changes(
    reader: PrimaryReaderDep,
    since: Annotated[
        CursorText | None, Query(description="next_cursor of the previous call; omit to start at the beginning")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    coordsys: CoordSysQuery = geo.CoordSys.wgs84,
) -> Response:
    """Created, updated and deleted sites in the order they committed; `next_cursor` resumes exactly after them.

    Each item carries the site as it was after that change (null for a deletion) and its workers' rating and star
    level as they stand now. A new rating that changes the rating's mean or count, or an inspection or a resolved
    call-back that changes the star level, is an `updated` item too, at the site's unchanged version, with
    `register_changed` false. Poll with the last `next_cursor`: no change is ever skipped or repeated, even while
    writes happen between calls.
    """
    txid, change_id = decode_cursor(since, CURSOR_TAG, 2, "since") if since is not None else (0, 0)
    if txid >= await repository.next_transaction(reader):
        # Not one this feed issued (another database's, or made up): a sync from it would wait forever, silently.
        raise InvalidParameter("since", "a cursor from past the feed's end; pass next_cursor back unchanged")
    rows = await repository.changes_after(reader, str(txid), change_id, limit)
    in_use = await stations.published(reader, list({r["site_id"] for r in rows}))
    items = [
        {
            "change_id": r["id"],
            "site_id": r["site_id"],
            "action": r["action"],
            "version": r["version"],
            "changed_at": r["changed_at"],
            "actor": r["actor"],
            "site": _site(r["after"], coordsys),
            "in_use": in_use[r["site_id"]],
            "register_changed": r["register_changed"],
        }
        for r in rows
    ]
    cursor = (
        encode_cursor(CURSOR_TAG, int(rows[-1]["txid"]), rows[-1]["id"])
        if rows
        else (since or encode_cursor(CURSOR_TAG, 0, 0))
    )
    return JSON({"items": items, "next_cursor": cursor, "more": len(rows) == limit})
