"""Problems as HTTP answers: the one place that turns every error a request meets into RFC 9457 problem+json."""

import logging
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import Match

from app.observability import metrics
from app.observability.requests import request_id
from app.problems import (
    MEDIA_TYPE,
    ClientLeft,
    DatabaseBusy,
    Internal,
    InvalidParameter,
    InvalidRequest,
    LostRace,
    ServiceUnavailable,
    YizhanError,
)
from app.problems.database import data_problem, lost_race, unreachable

log = logging.getLogger(__name__)


def answer(error: YizhanError, request: Request | None = None) -> Response:
    """The problem as a response; with the request, its id as the problem's instance (to find its log line)."""
    rid = request_id(request.scope) if request is not None else None
    instance = f"urn:request:{rid}" if rid is not None else None
    return Response(error.json(instance), error.status, headers=error.headers, media_type=MEDIA_TYPE)


class HTTPProblem(YizhanError):
    """A plain HTTP status the framework answers itself (no route at this path, a method it does not take)."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, headers=headers)
        self.status, self.title = status, HTTPStatus(status).phrase


def _field_name(loc: tuple[int | str, ...]) -> str:
    """("query", "status", 0) → "status"; ("body", "items", 3, "name") → "items.3.name"."""
    if len(loc) >= 2 and loc[0] in {"query", "path", "header"}:
        return str(loc[1])  # the index of a repeated query parameter means nothing to the client
    parts = loc[1:] if loc and loc[0] == "body" else loc
    return ".".join(str(p) for p in parts) or "body"


def field_errors(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    """A validation error as a detail line and the `errors` member: one {field, message} per problem."""
    errors = [
        # A body that is not JSON: FastAPI puts the character's position where the field goes.
        {"field": "body", "message": f"not JSON ({e['msg']} at character {e['loc'][-1]})"}
        if e["type"] == "json_invalid"
        else {"field": _field_name(tuple(e["loc"])), "message": e["msg"]}
        for e in exc.errors()
    ]
    return f"invalid value for: {', '.join(dict.fromkeys(e['field'] for e in errors))}", errors


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    detail, errors = field_errors(exc)
    return answer(InvalidRequest(detail, errors=errors), request)


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, YizhanError)
    return answer(exc, request)


def client_left(detail: str) -> Response:
    """The answer to a request whose client has gone: nobody receives it, the log and the metrics count it."""
    return answer(ClientLeft(detail))


async def _client_left(request: Request, exc: Exception) -> Response:
    log.info("client left mid-request on %s %s", request.method, request.url.path)
    return client_left("the client left before the request was read")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this path (Starlette's 405 names only the first route's)."""

    def routes(candidates: list[Any]) -> Iterator[Any]:
        for route in candidates:
            # FastAPI keeps an included router's routes behind a wrapper (0.165: _IncludedRouter).
            nested = getattr(route, "effective_candidates", None)
            yield from routes(nested()) if callable(nested) else (route,)

    methods: set[str] = set()
    for route in routes(request.app.router.routes):
        if route.matches(request.scope)[0] != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.__cause__, ClientDisconnect):
        return await _client_left(request, exc.__cause__)
    if isinstance(exc.__cause__, UnicodeDecodeError):  # FastAPI's "There was an error parsing the body"
        return answer(InvalidParameter("body", "not UTF-8; JSON is sent as UTF-8"), request)
    headers = dict(exc.headers or {})
    if exc.status_code == 405 and (allowed := allowed_methods(request)):
        headers["Allow"] = ", ".join(allowed)
    return answer(HTTPProblem(exc.status_code, str(exc.detail), headers), request)


async def _data_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, asyncpg.DataError)
    return answer(data_problem(exc), request)


async def _pool_exhausted(request: Request, exc: Exception) -> Response:
    metrics.DATABASE_ERRORS.labels("pool_exhausted").inc()
    log.warning("write pool exhausted on %s %s", request.method, request.url.path)
    return answer(DatabaseBusy("every database connection is busy; try again shortly"), request)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    if unreachable(exc):
        metrics.DATABASE_ERRORS.labels("unreachable").inc()
        log.warning("database unreachable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return answer(ServiceUnavailable("the database cannot be reached; try again shortly"), request)
    if lost_race(exc):
        metrics.DATABASE_ERRORS.labels("lost_race").inc()
        detail = "another write to the same sites went first; nothing was written, send it again"
        return answer(LostRace(detail), request)
    # A bug, not a client error: log it with its traceback, tell the client only that it happened.
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return answer(Internal("the server failed to answer this request"), request)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(YizhanError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _client_left)
    # A read whose parameter the database refuses (validation should have caught it): the client's error.
    app.add_exception_handler(asyncpg.DataError, _data_error)
    # No write connection came free in time (SQLAlchemy's pool; an asyncpg acquire timeout is a TimeoutError).
    app.add_exception_handler(PoolTimeout, _pool_exhausted)
    app.add_exception_handler(Exception, _unexpected_error)
