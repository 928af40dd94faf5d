"""Door tokens: issued on first use, rotated by the site's operator (a write key for its region), checked on every
visit and rating from the door."""

import secrets
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.database.connections import reader_in
from app.database.read_pool import Reader
from app.door import repository
from app.keys.service import Principal
from app.problems import Forbidden, InvalidParameter
from app.sites import service as sites
from app.vocabularies import repository as vocabularies

# 16 random bytes, URL-safe base64: 22 characters that fit a small QR code.
TOKEN_BYTES = 16
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{22}$"
DOOR_PATH = "/d/"


def door_url(base: str, token: str) -> str:
    """The short URL the QR code encodes: the door page of the site the token stands for."""
    return f"{base}{DOOR_PATH}{token}"


async def _operated_site(conn: AsyncConnection, principal: Principal, site_id: int) -> Any:
    """The site, locked, after checking the key may act for it (its region)."""
    current = await sites.lock(conn, site_id)
    if not principal.may_write_in(current.region_adcode):
        raise Forbidden(sites.outside_region(principal, "site", current.region_adcode).reason())
    return current


async def current(conn: AsyncConnection, principal: Principal, site_id: int) -> dict[str, Any]:
    await _operated_site(conn, principal, site_id)
    row = await repository.issue(conn, site_id, secrets.token_urlsafe(TOKEN_BYTES))
    return {"site_id": site_id, "token": row.token, "issued_at": row.issued_at}


async def rotate(conn: AsyncConnection, principal: Principal, site_id: int) -> dict[str, Any]:
    """A new token for the site: the old one (and every poster printed with it) stops working at once."""
    await _operated_site(conn, principal, site_id)
    row = await repository.rotate(conn, site_id, secrets.token_urlsafe(TOKEN_BYTES))
    return {"site_id": site_id, "token": row.token, "issued_at": row.issued_at}


async def site_of(reader: Reader, token: str, field: str = "token") -> int:
    """The site a door token stands for now; a forged, rotated or deleted site's token is refused naming `field`."""
    site_id = await repository.site_of(reader, token)
    if site_id is None:
        raise InvalidParameter(field, "not a current door token (forged, or rotated since it was printed)")
    return site_id


async def check_door_of(reader: Reader, token: str, site_id: int) -> None:
    """Refuse, naming `token`, a token that is not `site_id`'s current door token (forged, rotated, another's)."""
    if await site_of(reader, token) != site_id:
        raise InvalidParameter("token", f"not the door token of site {site_id}")


async def door_page_fields(reader: Reader, token: str) -> dict[str, Any] | None:
    """What the door page shows of the site a token stands for now; None for a forged or rotated token."""
    site_id = await repository.site_of(reader, token)
    if site_id is None:
        return None
    site = await sites.get(reader, site_id)
    labels = {k["code"]: k["zh"] for k in await vocabularies.labelled(reader, "site_kinds")}
    return {"id": site_id, "name": site["name"], "address": site["address"], "kind_label": labels.get(site["kind"], "")}


async def poster_fields(conn: AsyncConnection, site_id: int) -> dict[str, Any]:
    """What the poster prints of a site: its name, its kind's Chinese label, its hours."""
    reader = await reader_in(conn)
    site = await sites.get(reader, site_id)
    labels = {k["code"]: k["zh"] for k in await vocabularies.labelled(reader, "site_kinds")}
    return {
        "name": site["name"],
        "kind_label": labels.get(site["kind"], site["kind"]),
        "opening_hours": site["opening_hours"],
    }
