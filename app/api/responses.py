"""Responses: compact JSON, conditional reads (ETag, 304), gzip for the clients that accept it."""

import asyncio
import hashlib
from typing import Any

import orjson
from fastapi import Request
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.formats import geojson
from app.problems import PayloadTooLarge
from app.problems.http import answer


class JSON(JSONResponse):
    """orjson-encoded JSON: dates and datetimes as ISO 8601 with offset, no whitespace. (A JSONResponse, so that
    FastAPI documents a route's response model as its answer.)"""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class GeoJSON(JSON):
    media_type = geojson.MEDIA_TYPE


def cached(
    request: Request, content: Any, *, max_age: int, response_class: type[JSON] = JSON, etag: str | None = None
) -> Response:
    """A read answer with an ETag (the content's hash unless given) and Cache-Control; 304 if the client has it."""
    return conditional(request, orjson.dumps(content), response_class.media_type, max_age=max_age, etag=etag)


def conditional(request: Request, body: bytes, media_type: str, *, max_age: int, etag: str | None = None) -> Response:
    """`body` with an ETag (its hash unless given) and Cache-Control; 304 if the client has it already."""
    tag = etag or f'W/"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
    headers = {"ETag": tag, "Cache-Control": f"public, max-age={max_age}"}
    presented = request.headers.get("if-none-match")
    if presented and tag.removeprefix("W/") in {t.strip().removeprefix("W/") for t in presented.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def public_base_url(request: Request) -> str:
    """The base of every absolute link the service hands out, without a trailing slash: PUBLIC_BASE_URL, else the
    address and port the connection came in on. Never the Host or X-Forwarded-Host header, which the client picks:
    links built from them would point a cache or a GIS client wherever an attacker likes. (The scheme is the
    connection's, or a trusted proxy's X-Forwarded-Proto: uvicorn believes it only from FORWARDED_ALLOW_IPS.)"""
    configured = request.app.state.settings.public_base_url
    if configured is not None:
        return str(configured).rstrip("/")
    scheme = request.scope.get("scheme", "http")
    server = request.scope.get("server")
    if server is None:
        return f"{scheme}://localhost"
    host, port = server[0], server[1]
    host = f"[{host}]" if ":" in host else host
    default_port = {"http": 80, "https": 443}.get(scheme)
    authority = host if port in (None, default_port) else f"{host}:{port}"
    return f"{scheme}://{authority}{request.scope.get('root_path', '')}".rstrip("/")


class GZipWhenAccepted(GZipMiddleware):
    """Starlette's gzip, entered only by clients that accept gzip (it wraps every response otherwise, ~10 µs)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"accept-encoding" and b"gzip" in value:
                    await super().__call__(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuses request bodies over `max_bytes` with 413 before reading them (Content-Length) or as soon as they pass
    it (chunked): a JSON body is read whole before the handler, or the key check, even starts. `exempt` paths
    (bulk imports) keep their own, larger limit."""

    def __init__(self, app: ASGIApp, max_bytes: int, exempt: tuple[str, ...]) -> None:
        self.app, self.max_bytes, self.exempt = app, max_bytes, exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received, refused = 0, False

        async def counted() -> Message:
            # Past the limit the application is told the client went away, and its answer is replaced by the 413.
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                refused = True
                return {"type": "http.disconnect"}
            return message

        async def unless_refused(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counted, unless_refused)
        if refused:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"the body is over {self.max_bytes} bytes (bulk imports: POST /v1/sites/bulk)"
        await answer(PayloadTooLarge(detail))(scope, receive, send)


class BodyTimeout:
    """A request whose body stops arriving for `seconds` is answered 408 and its connection closed: a client that
    sends its headers and a few bytes, then nothing, holds a socket for that long at most (and never a database
    connection: bodies are read before one is taken). Only the body is timed; once it is whole, waiting on
    `receive` (for a disconnect) is not."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        whole = False

        async def timed() -> Message:
            nonlocal whole
            if whole:
                return await receive()
            try:
                async with asyncio.timeout(self.seconds):
                    message = await receive()
            except TimeoutError:
                # An HTTPException, which FastAPI passes on while reading a body (it answers 400 for anything else).
                detail = f"no part of the request body arrived for {self.seconds:g} s; send it again"
                raise HTTPException(408, detail, headers={"Connection": "close"}) from None
            whole = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, timed, send)
