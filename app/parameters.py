"""Request parameters every endpoint parses alike: bbox, coordsys, cursors, output format.

Each is one dependency or typed alias (tipg's `bbox_query`/`accept_media_type` pattern), so a rule such as "a
bbox is minLon,minLat,maxLon,maxLat" or "f= wins over Accept" is written once. Errors are InvalidParameter
(422 naming the field); OGC API routes answer the same errors with 400 (app.ogc.router).
"""

import base64
import binascii
from typing import Annotated

from fastapi import Query, Request

from app.errors import InvalidParameter
from app.geo import BBox, CoordSys

CoordSysQuery = Annotated[
    CoordSys, Query(description="Datum of coordinates in and out: wgs84, gcj02 (Amap, Tencent), bd09 (Baidu)")
]


def bbox_query(
    bbox: Annotated[
        str | None, Query(description="minLon,minLat,maxLon,maxLat, in the datum of `coordsys` (CRS84 under /ogc)")
    ] = None,
) -> BBox | None:
    return BBox.parse(bbox) if bbox is not None else None


def encode_cursor(tag: str, *values: int) -> str:
    """An opaque cursor: a tag naming what it pages through, and the position (integers) after which to go on."""
    text = ":".join([tag, *map(str, values)])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, tag: str, arity: int, field: str = "cursor") -> tuple[int, ...]:
    """The position in a cursor encode_cursor made with this tag; 422 naming `field` for anything else."""
    try:
        found, *values = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split(":")
        if found != tag or len(values) != arity or not all(v.isdigit() for v in values):
            raise ValueError
        return tuple(int(v) for v in values)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidParameter(field, "not a cursor this API issued; pass next_cursor back unchanged") from None


def output_format(request: Request, f: str | None, offered: dict[str, str]) -> str:
    """Which of the `offered` formats (name → media type; the first is the default) to answer in.

    `f=` wins (a link in a page or a spreadsheet cannot set Accept), then the first offered media type the Accept
    header names.
    """
    if f is not None:
        if f not in offered:
            raise InvalidParameter("f", f"one of {', '.join(offered)}")
        return f
    accept = request.headers.get("accept", "")
    for name, media_type in offered.items():
        if media_type in accept:
            return name
    return next(iter(offered))
