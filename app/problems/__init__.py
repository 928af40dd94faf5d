"""Every problem the service answers with (RFC 9457), as exceptions that know their status, type and title.

Framework-free on purpose: the geometry rules, the workers of app.compute.offload and the HTTP server's own
protocol class raise or render these without importing the web framework or the database. The HTTP rendering is
app.problems.http, the OpenAPI documentation app.problems.openapi, what the database's refusals mean
app.problems.database.
"""

from typing import Any, ClassVar

import orjson

MEDIA_TYPE = "application/problem+json"


class YizhanError(Exception):
    """Base of the service's problems; each subclass carries its HTTP status and a stable problem type."""

    status: int = 500
    type: str = "about:blank"
    title: str = "Internal Server Error"
    default_headers: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = {**self.default_headers, **(headers or {})}
        self.extra = extra  # RFC 9457 extension members (a rejected bulk import's row report)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled whole whatever a subclass's __init__ takes: work that raises these may run in a process pool.
        return (_rebuilt, (type(self), self.args), self.__dict__)

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """The problem document; `instance` names this occurrence (the request's id)."""
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail}
        if instance is not None:
            body["instance"] = instance
        if self.errors is not None:
            body["errors"] = self.errors
        if self.extra:
            body.update(self.extra)
        return body

    def json(self, instance: str | None = None) -> bytes:
        return orjson.dumps(self.body(instance))


def _rebuilt(cls: type[YizhanError], args: tuple[Any, ...]) -> YizhanError:
    error = cls.__new__(cls)
    error.args = args
    return error


class Internal(YizhanError):
    """A bug, not a client error: the client learns only that it happened (the log has the traceback)."""


class BadRequest(YizhanError):
    """A parameter OGC API - Features answers with 400 (it has no 422): unknown, or invalid (see app.ogc.router)."""

    status = 400
    type = "/problems/bad-request"
    title = "Bad Request"


class MalformedRequest(YizhanError):
    """Bytes the HTTP parser refuses before the application sees them (app.api.server)."""

    status = 400
    type = "/problems/malformed-request"
    title = "Bad Request"


class Unauthorized(YizhanError):
    status = 401
    type = "/problems/unauthorized"
    title = "Unauthorized"
    default_headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": 'Bearer realm="yizhan"'}


class Forbidden(YizhanError):
    status = 403
    type = "/problems/forbidden"
    title = "Forbidden"


class NotFound(YizhanError):
    status = 404
    type = "/problems/not-found"
    title = "Not Found"


class Gone(YizhanError):
    """A code that named something once and names nothing now (a region whose code was retired for another's)."""

    status = 410
    type = "/problems/gone"
    title = "Gone"


class RequestTimeout(YizhanError):
    """A request's head or body stopped arriving; the connection is closed."""

    status = 408
    type = "/problems/request-timeout"
    title = "Request Timeout"
    default_headers: ClassVar[dict[str, str]] = {"Connection": "close"}


class Conflict(YizhanError):
    status = 409
    type = "/problems/conflict"
    title = "Conflict"


class LostRace(YizhanError):
    """Another write to the same sites won (a deadlock or a serialization failure): nothing was written; again."""

    status = 409
    type = "/problems/concurrent-write"
    title = "Conflict"
    default_headers: ClassVar[dict[str, str]] = {"Retry-After": "1"}


class PreconditionFailed(YizhanError):
    """The client edited a version that is no longer current (optimistic concurrency)."""

    status = 412
    type = "/problems/stale-version"
    title = "Precondition Failed"


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


class InvalidRequest(YizhanError):
    """What request validation (pydantic) refused: `errors` names each field."""

    status = 422
    type = "/problems/validation"
    title = "Invalid request"


class InvalidParameter(InvalidRequest):
    """A query or body field that parsed but makes no sense (bbox with min > max, unknown amenity …)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", errors=[{"field": field, "message": message}])

    @classmethod
    def of(cls, problems: list[tuple[str, str]]) -> "InvalidParameter":
        """One error naming several fields."""
        error = cls(*problems[0])
        error.errors = [{"field": field, "message": message} for field, message in problems]
        error.detail = "; ".join(f"{field}: {message}" for field, message in problems)
        return error


class BulkRejected(YizhanError):
    """An atomic import with rejected rows: nothing was written; the row report is in the problem's members."""

    status = 422
    type = "/problems/bulk-rejected"
    title = "Invalid request"


class NotOnNetwork(YizhanError):
    status = 422
    type = "/problems/not-on-a-road-network"
    title = "Not on a road network"


class PreconditionRequired(YizhanError):
    status = 428
    type = "/problems/if-match-required"
    title = "Precondition Required"


class RateLimited(YizhanError):
    status = 429
    type = "/problems/rate-limited"
    title = "Too Many Requests"


class HeadersTooLarge(YizhanError):
    status = 431
    type = "/problems/request-header-fields-too-large"
    title = "Request Header Fields Too Large"


class ClientLeft(YizhanError):
    """Not a status of RFC 9110: nginx's, for a request whose client left before the answer, which nobody receives.
    In the log and the metrics it says what happened: neither the server's failure nor a request answered."""

    status = 499
    title = "Client Closed Request"


class ServiceUnavailable(YizhanError):
    """The database cannot be reached (a restart, a failover): the client should try again shortly."""

    status = 503
    type = "/problems/database-unavailable"
    title = "Service Unavailable"
    default_headers: ClassVar[dict[str, str]] = {"Retry-After": "5"}


class DatabaseBusy(ServiceUnavailable):
    """Every connection of the write pool stayed busy for db_pool_timeout_s: the client should try again shortly."""

    type = "/problems/database-busy"
    default_headers: ClassVar[dict[str, str]] = {"Retry-After": "2"}


class NotReady(ServiceUnavailable):
    """The readiness probe: the primary does not answer, or its schema is not the one this code expects."""

    type = "/problems/not-ready"


class OverBudget(YizhanError):
    """A request still working when its time budget ran out (app.api.budget): cancelled, nothing half-done kept."""

    status = 503
    type = "/problems/over-budget"
    title = "Service Unavailable"
