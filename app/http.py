"""Response helpers shared by the routers: compact JSON, GeoJSON negotiation, opaque cursors."""

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import Request
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.errors import InvalidParameter

GEOJSON_MEDIA_TYPE = "application/geo+json"


class JSON(Response):
    """orjson-encoded JSON: dates and datetimes as ISO 8601 with offset, no whitespace."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class GeoJSON(JSON):
    media_type = GEOJSON_MEDIA_TYPE


def cached(
    request: Request, content: Any, *, max_age: int, response_class: type[JSON] = JSON, etag: str | None = None
) -> Response:
    """A read answer with an ETag (the content's hash unless given) and Cache-Control; 304 if the client has it."""
    body = orjson.dumps(content)
    tag = etag or f'W/"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
    headers = {"ETag": tag, "Cache-Control": f"public, max-age={max_age}"}
    presented = request.headers.get("if-none-match")
    if presented and tag.removeprefix("W/") in {t.strip().removeprefix("W/") for t in presented.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=response_class.media_type, headers=headers)


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


class GZipWhenAccepted(GZipMiddleware):
    """Starlette's gzip, entered only by clients that accept gzip (it wraps every response otherwise, ~10 µs)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"accept-encoding" and b"gzip" in value:
                    await super().__call__(scope, receive, send)
                    return
        await self.app(scope, receive, send)
