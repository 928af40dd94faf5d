"""Request parameters every endpoint parses alike: bbox, coordsys, cursors, output format.

Each is one dependency or typed alias (tipg's `bbox_query`/`accept_media_type` pattern), so a rule such as "a
bbox is minLon,minLat,maxLon,maxLat" or "f= wins over Accept" is written once. Errors are InvalidParameter
(422 naming the field); OGC API routes answer the same errors with 400 (app.ogc.router).
"""

import base64
import binascii
import datetime as dt
import re
from typing import Annotated, Any

from fastapi import Path, Query, Request
from pydantic import AfterValidator, BeforeValidator, StringConstraints

from app.geo import BBox, CoordSys
from app.problems import InvalidParameter

# What a cursor position, an id or an offset may be: PostgreSQL's bigint.
MAX_BIGINT = 2**63 - 1

# Ids in paths: a number the register could hold (past bigint the database would refuse it with a 500).
SiteId = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="The site's id")]
ReportId = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="The report's id")]
RatingId = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="The rating's id")]
CallbackId = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="The call-back's id")]


def _plausible(instant: dt.datetime) -> dt.datetime:
    # Years the register can mean; at the edges of datetime's range converting between time zones overflows.
    if not 1900 <= instant.year <= 2999:
        raise ValueError("year outside 1900–2999")
    return instant


# pydantic reads a number (or a string of digits) as seconds since 1970 for a date or a datetime: `as_of=0` was
# 1970-01-01. A date or an instant in this API is written out, as ISO 8601 writes it.
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ISO_INSTANT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}.*)?", re.DOTALL)


def _written_as(pattern: re.Pattern[str], what: str) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, str) and not pattern.fullmatch(value):
            raise ValueError(f"{what}, as ISO 8601 writes it")
        if isinstance(value, int | float):  # bool included
            raise ValueError(f"{what}, as ISO 8601 writes it, not a number")
        return value

    return BeforeValidator(check)


IsoDate = Annotated[dt.date, _written_as(ISO_DATE, "a date YYYY-MM-DD")]
Instant = Annotated[dt.datetime, _written_as(ISO_INSTANT, "a date and time"), AfterValidator(_plausible)]

# A vocabulary's code (a site kind, an amenity): what /v1/vocabularies lists.
VocabularyCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,49}$")]
# What encode_cursor makes: URL-safe base64 without padding.
CursorText = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,200}$")]
_NUMBER = r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?"
BBOX_PATTERN = rf"^{_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER}$"

CoordSysQuery = Annotated[
    CoordSys, Query(description="Datum of coordinates in and out: wgs84, gcj02 (Amap, Tencent), bd09 (Baidu)")
]


def bbox_query(
    bbox: Annotated[
        str | None,
        Query(
            pattern=BBOX_PATTERN,
            description="minLon,minLat,maxLon,maxLat, in the datum of `coordsys` (CRS84 under /ogc)",
        ),
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
        position = tuple(int(v) for v in values if v.isascii() and v.isdigit())
        if found != tag or len(position) != arity or len(values) != arity or max(position, default=0) > MAX_BIGINT:
            raise ValueError
        return position
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidParameter(field, "not a cursor this API issued; pass next_cursor back unchanged") from None


def _accepted(header: str) -> list[str]:
    """The media types an Accept header names, most preferred first (by q, then in the order given); q=0 dropped."""
    ranked = []
    for position, entry in enumerate(header.split(",")):
        media_type, *params = (part.strip() for part in entry.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media_type and q > 0:
            ranked.append((-q, position, media_type.lower()))
    return [media_type for _, _, media_type in sorted(ranked)]


def output_format(request: Request, f: str | None, offered: dict[str, str]) -> str:
    """Which of the `offered` formats (name → media type; the first is the default) to answer in.

    `f=` wins (a link in a page or a spreadsheet cannot set Accept), then the client's most preferred media type
    among those offered; anything else (*/*, nothing offered, no Accept) gets the default.
    """
    if f is not None:
        if f not in offered:
            raise InvalidParameter("f", f"one of {', '.join(offered)}")
        return f
    by_media_type = {media_type: name for name, media_type in offered.items()}
    for media_type in _accepted(request.headers.get("accept", "")):
        if media_type in by_media_type:
            return by_media_type[media_type]
        if media_type == "*/*":
            break
    return next(iter(offered))
