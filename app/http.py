"""Response helpers shared by the routers: compact JSON, GeoJSON negotiation, opaque cursors."""

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from app.errors import InvalidParameter

GEOJSON_MEDIA_TYPE = "application/geo+json"


class JSON(Response):
    """orjson-encoded JSON: dates and datetimes as ISO 8601 with offset, no whitespace."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class GeoJSON(JSON):
    media_type = GEOJSON_MEDIA_TYPE


def wants_geojson(request: Request, f: str | None) -> bool:
    if f is not None:
        return f == "geojson"
    return GEOJSON_MEDIA_TYPE in request.headers.get("accept", "")


def point_feature(item: Mapping[str, Any]) -> dict[str, Any]:
    """A record with lat/lon as a GeoJSON Feature ([lon, lat]), the other fields as properties."""
    properties = {k: v for k, v in item.items() if k not in ("lat", "lon")}
    return {
        "type": "Feature",
        "id": item["id"],
        "geometry": {"type": "Point", "coordinates": [item["lon"], item["lat"]]},
        "properties": properties,
    }


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = raw.partition(":")
        if prefix != "id":
            raise ValueError
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidParameter("cursor", "not a cursor this API issued; pass next_cursor back unchanged") from None
