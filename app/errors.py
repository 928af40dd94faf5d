"""Domain errors and the one place that turns every error into RFC 9457 problem+json."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any, ClassVar

import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import Match

from app import metrics
from app.observability import request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger(__name__)


class YizhanError(Exception):
    """Base of domain errors; each subclass carries its HTTP status and a stable problem type."""

    status: int = 500
    type: str = "about:blank"
    title: str = "Internal Server Error"

    headers: ClassVar[dict[str, str] | None] = None

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled whole whatever a subclass's __init__ takes: work that raises these may run in a process pool.
        return (_rebuilt, (type(self), self.args), self.__dict__)


def _rebuilt(cls: type[YizhanError], args: tuple[Any, ...]) -> YizhanError:
    error = cls.__new__(cls)
    error.args = args
    return error


class NotFound(YizhanError):
    status = 404
    type = "/problems/not-found"
    title = "Not Found"


class Unauthorized(YizhanError):
    status = 401
    type = "/problems/unauthorized"
    title = "Unauthorized"
    headers: ClassVar[dict[str, str] | None] = {"WWW-Authenticate": 'Bearer realm="yizhan"'}


class Forbidden(YizhanError):
    status = 403
    type = "/problems/forbidden"
    title = "Forbidden"


class Conflict(YizhanError):
    status = 409
    type = "/problems/conflict"
    title = "Conflict"


class LostRace(YizhanError):
    """Another write to the same sites won (a deadlock or a serialization failure): nothing was written; again."""

    status = 409
    type = "/problems/concurrent-write"
    title = "Conflict"
    headers: ClassVar[dict[str, str] | None] = {"Retry-After": "1"}


class PreconditionFailed(YizhanError):
    """The client edited a version that is no longer current (optimistic concurrency)."""

    status = 412
    type = "/problems/stale-version"
    title = "Precondition Failed"


class PreconditionRequired(YizhanError):
    status = 428
    type = "/problems/if-match-required"
    title = "Precondition Required"


class InvalidParameter(YizhanError):
    """A query or body field that parsed but makes no sense (bbox with min > max, unknown amenity …)."""

    status = 422
    type = "/problems/validation"
    title = "Invalid request"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", errors=[{"field": field, "message": message}])

    @classmethod
    def of(cls, problems: list[tuple[str, str]]) -> "InvalidParameter":
        """One error naming several fields."""
        error = cls(*problems[0])
        error.errors = [{"field": field, "message": message} for field, message in problems]
        error.detail = "; ".join(f"{field}: {message}" for field, message in problems)
        return error


class ServiceUnavailable(YizhanError):
    """The database cannot be reached (a restart, a failover): the client should try again shortly."""

    status = 503
    type = "/problems/database-unavailable"
    title = "Service Unavailable"
    headers: ClassVar[dict[str, str] | None] = {"Retry-After": "5"}


class DatabaseBusy(ServiceUnavailable):
    """Every connection of the write pool stayed busy for db_pool_timeout_s: the client should try again shortly."""

    type = "/problems/database-busy"
    headers: ClassVar[dict[str, str] | None] = {"Retry-After": "2"}


# What the driver raises when the database is not there: gone (a restart, a failover, a network cut), refusing
# connections, or shutting down. A query that fails for any other reason is a bug or a client error, not these.
DATABASE_UNREACHABLE: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused or reset while connecting or talking
    TimeoutError,
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.OperatorInterventionError,  # 57P01 admin shutdown, 57P02 crash, 57P03 cannot connect now
    asyncpg.exceptions.ConnectionDoesNotExistError,
)


def _driver_error(exc: BaseException) -> BaseException:
    """asyncpg's exception, under SQLAlchemy's wrapping when there is one."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return exc.orig.__cause__ or exc.orig
    return exc


def unreachable(exc: BaseException) -> bool:
    """Whether `exc` (or what SQLAlchemy wraps) says the database cannot be reached."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(_driver_error(exc), DATABASE_UNREACHABLE)


def lost_race(exc: BaseException) -> bool:
    """Whether the database refused a transaction for another's sake (40001 serialization failure, 40P01
    deadlock): nothing of it was written, and the same request may well succeed now."""
    return isinstance(_driver_error(exc), asyncpg.TransactionRollbackError)


class BadRequest(YizhanError):
    """A parameter OGC API - Features answers with 400 (it has no 422): unknown, or invalid (see app.ogc.router)."""

    status = 400
    type = "/problems/bad-request"
    title = "Bad Request"


class PayloadTooLarge(YizhanError):
    status = 413
    type = "/problems/payload-too-large"
    title = "Payload Too Large"


class QueryTooLong(YizhanError):
    status = 414
    type = "/problems/query-too-long"
    title = "URI Too Long"

    def __init__(self, size: int, limit: int) -> None:
        message = f"{size} bytes; the limit is {limit} (a list of ids or a long filter belongs in a request body)"
        super().__init__(f"query: {message}", errors=[{"field": "query", "message": message}])


class UnsupportedMediaType(YizhanError):
    status = 415
    type = "/problems/unsupported-media-type"
    title = "Unsupported Media Type"


# What a constraint of the register means to the client that broke it: the field, and what to do. Every one the
# schema names; a violation not listed (a bug: validation should have caught it first) still names its column.
CONSTRAINT_PROBLEMS: dict[str, tuple[str, str]] = {
    "uq_sites_source_external_id": (
        "external_id",
        "a site with this source and external_id exists; PATCH it or use POST /v1/sites/bulk",
    ),
    "fk_sites_kind_site_kinds": ("kind", "not a known site kind"),
    "ck_sites_name_not_blank": ("name", "must not be blank"),
    "ck_sites_location_in_range": ("lat", "lat/lon out of range"),
    "ck_sites_status_known": ("status", "not a known status"),
    "ck_sites_access_known": ("access", "not a known access mode"),
    "ck_sites_verified_by_known": ("verified_by", "not a known verification method"),
    "ck_sites_closed_after_opened": ("closed_on", "closed_on is before opened_on"),
    "ck_sites_seats_not_negative": ("seats", "must not be negative"),
}


def _constraint_problem(exc: asyncpg.IntegrityConstraintViolationError) -> YizhanError:
    metrics.DATABASE_ERRORS.labels("constraint").inc()
    name = getattr(exc, "constraint_name", None) or ""
    column = getattr(exc, "column_name", None)
    field, message = CONSTRAINT_PROBLEMS.get(name, (column or "body", f"refused by the register ({name or column})"))
    if isinstance(exc, asyncpg.UniqueViolationError):
        return Conflict(f"{field}: {message}", errors=[{"field": field, "message": message}])
    if isinstance(exc, asyncpg.NotNullViolationError):
        return InvalidParameter(field, "required")
    return InvalidParameter(field, message)


@contextmanager
def database_errors() -> Iterator[None]:
    """Turn the register's constraint violations into client errors, by exception class and constraint name.

    SQLAlchemy wraps the driver's exception (its __cause__ is asyncpg's); raw asyncpg calls raise it directly.
    """
    try:
        yield
    except DBAPIError as exc:
        cause = exc.orig.__cause__ if exc.orig is not None else None
        if isinstance(cause, asyncpg.IntegrityConstraintViolationError):
            raise _constraint_problem(cause) from None
        if isinstance(cause, asyncpg.DataError):
            raise _data_problem(cause) from None
        raise
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise _constraint_problem(exc) from None
    except asyncpg.DataError as exc:
        raise _data_problem(exc) from None


def _data_problem(exc: asyncpg.DataError) -> YizhanError:
    metrics.DATABASE_ERRORS.labels("data").inc()
    # A value validation let through that the database cannot hold (out of its range, a character it refuses).
    return InvalidParameter(getattr(exc, "column_name", None) or "body", f"the register cannot hold it ({exc})")


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    type_: str = "about:blank",
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    request: Request | None = None,
) -> Response:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail}
    if request is not None and (rid := request_id(request.scope)) is not None:
        body["instance"] = f"urn:request:{rid}"  # the X-Request-ID, to find the request's log line
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)  # RFC 9457 extension members
    return Response(orjson.dumps(body), status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


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
    return problem(422, "Invalid request", detail, type_="/problems/validation", errors=errors, request=request)


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, YizhanError)
    return problem(
        exc.status, exc.title, exc.detail, type_=exc.type, errors=exc.errors, headers=exc.headers, request=request
    )


# Not a status of RFC 9110: nginx's, for a request whose client left before the answer, which nobody receives. In
# the log and the metrics it says what happened: neither the server's failure nor a request answered.
CLIENT_LEFT = 499


def client_left(detail: str) -> Response:
    """The answer to a request whose client has gone: nobody receives it, the log and the metrics count it."""
    return problem(CLIENT_LEFT, "Client Closed Request", detail)


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
        return await _domain_error(request, InvalidParameter("body", "not UTF-8; JSON is sent as UTF-8"))
    headers = dict(exc.headers or {})
    if exc.status_code == 405 and (allowed := allowed_methods(request)):
        headers["Allow"] = ", ".join(allowed)
    title = HTTPStatus(exc.status_code).phrase
    return problem(exc.status_code, title, str(exc.detail), headers=headers, request=request)


async def _data_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, asyncpg.DataError)
    return await _domain_error(request, _data_problem(exc))


async def _pool_exhausted(request: Request, exc: Exception) -> Response:
    metrics.DATABASE_ERRORS.labels("pool_exhausted").inc()
    log.warning("write pool exhausted on %s %s", request.method, request.url.path)
    return await _domain_error(request, DatabaseBusy("every database connection is busy; try again shortly"))


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    if unreachable(exc):
        metrics.DATABASE_ERRORS.labels("unreachable").inc()
        log.warning("database unreachable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return await _domain_error(request, ServiceUnavailable("the database cannot be reached; try again shortly"))
    if lost_race(exc):
        metrics.DATABASE_ERRORS.labels("lost_race").inc()
        detail = "another write to the same sites went first; nothing was written, send it again"
        return await _domain_error(request, LostRace(detail))
    # A bug, not a client error: log it with its traceback, tell the client only that it happened.
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "Internal Server Error", "the server failed to answer this request", request=request)


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


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; `errors` names each bad field",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "urn:request:<X-Request-ID>"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,  # RFC 9457 extension members (a rejected bulk import's row report)
}


def _possible_errors(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    """The errors any operation of this kind can answer, whatever its own declarations say."""
    codes = ["429", "503"]  # the rate limit (/v1, /ogc), the database away
    if operation.get("parameters") or operation.get("requestBody"):
        codes.append("400" if path.startswith("/ogc") else "422")
    if "{" in path:
        codes.append("404")
    if operation.get("requestBody"):
        codes += ["400", "408", "413", "422"]  # a body that does not parse, stops arriving, is too large, or is invalid
    if (method in ("post", "patch", "put", "delete") and not path.endswith("/reports")) or path == "/v1/reports":
        codes += ["401", "403", "409"]  # a key is needed; its scope or region; a concurrent write
    return codes


def document_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Every error answer in an OpenAPI document as what it is: problem+json (FastAPI documents its own
    HTTPValidationError, which this service never sends)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    problem_content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in _possible_errors(path, method, operation):
                responses.setdefault(code, {"description": HTTPStatus(int(code)).phrase})
            for code, answer in responses.items():
                if code[0] in "45":
                    answer["content"] = problem_content
                    if answer.get("description") in (None, "", "Validation Error"):
                        answer["description"] = HTTPStatus(int(code)).phrase
    return document
