"""The change feed partners sync from: every created, updated and deleted site, in order, resumable."""

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from app import geo
from app.dependencies import ReaderDep
from app.errors import InvalidParameter
from app.http import JSON
from app.partners import repository

router = APIRouter(prefix="/v1", tags=["partners"])


def _encode(txid: str, change_id: int) -> str:
    return base64.urlsafe_b64encode(f"c:{txid}:{change_id}".encode()).decode().rstrip("=")


def _decode(cursor: str | None) -> tuple[str, int]:
    if cursor is None:
        return "0", 0
    try:
        tag, txid, change_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split(":")
        if tag != "c" or not txid.isdigit():
            raise ValueError
        return txid, int(change_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidParameter("since", "not a cursor this feed issued; pass next_cursor back unchanged") from None


def _site(after: dict[str, Any] | None, coordsys: str) -> dict[str, Any] | None:
    if after is None:
        return None
    site = {k: v for k, v in after.items() if k != "deleted_at"}
    site["lon"], site["lat"] = geo.from_wgs84(site["lon"], site["lat"], coordsys)
    return site


@router.get("/changes", responses={422: {"description": "`since` is not a cursor of this feed"}})
async def changes(
    reader: ReaderDep,
    since: Annotated[
        str | None, Query(description="next_cursor of the previous call; omit to start at the beginning")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    coordsys: geo.CoordSys = geo.CoordSys.wgs84,
) -> Response:
    """Created, updated and deleted sites in the order they committed; `next_cursor` resumes exactly after them.

    Each item carries the site as it was after that change (null for a deletion). Poll with the last
    `next_cursor`: no change is ever skipped or repeated, even while writes happen between calls.
    """
    txid, change_id = _decode(since)
    rows = await repository.changes_after(reader, txid, change_id, limit)
    items = [
        {
            "change_id": r["id"],
            "site_id": r["site_id"],
            "action": r["action"],
            "version": r["version"],
            "changed_at": r["changed_at"],
            "actor": r["actor"],
            "site": _site(r["after"], coordsys),
        }
        for r in rows
    ]
    cursor = _encode(rows[-1]["txid"], rows[-1]["id"]) if rows else (since or _encode("0", 0))
    return JSON({"items": items, "next_cursor": cursor, "more": len(rows) == limit})
