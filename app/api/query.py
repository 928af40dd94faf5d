"""Query strings validated against one pydantic model in a single pass.

FastAPI resolves query parameters field by field, with typing introspection, on every request, as part of its
dependency resolution (what that costs the nearest endpoint, the mobile app's hot path, is in LeanRoute).
`query_model` validates the whole query string in one pydantic-core call, reports errors exactly like FastAPI's
own (RequestValidationError with ("query", field) locations), and documents the parameters in OpenAPI from the
same model.

`LeanRoute` serves such an endpoint: it takes the Request and nothing else, so FastAPI has no dependencies to
resolve for it.
"""

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar, get_args, get_origin
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from app.problems import InvalidParameter, QueryTooLong

M = TypeVar("M", bound=BaseModel)


def _is_list(annotation: Any) -> bool:
    return get_origin(annotation) is list or any(get_origin(a) is list for a in get_args(annotation))


# Every parameter here fits in a few hundred bytes; 8 KB is what most proxies and CDNs let through.
MAX_QUERY_BYTES = 8192


def query_pairs(query_string: bytes) -> list[tuple[str, str]]:
    """The (key, value) pairs of a query string, as Starlette's QueryParams reads them (blank values kept), but
    refusing what it would take silently: a query string over MAX_QUERY_BYTES (414), and a percent-encoded value
    that is not UTF-8 (422 naming the parameter; Starlette would read U+FFFD in its place)."""
    if len(query_string) > MAX_QUERY_BYTES:
        raise QueryTooLong(len(query_string), MAX_QUERY_BYTES)
    text = query_string.decode("latin-1")
    try:
        return parse_qsl(text, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        for key, value in parse_qsl(text, keep_blank_values=True, encoding="latin-1"):
            try:
                key.encode("latin-1").decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidParameter("query", "a parameter name is not UTF-8 once percent-decoded") from None
            try:
                value.encode("latin-1").decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidParameter(key, "not UTF-8 once percent-decoded") from None
        raise


def query_model(model: type[M]) -> tuple[Callable[[Request], Awaitable[M]], list[dict[str, Any]]]:
    """A dependency that parses the query string into `model`, and the OpenAPI parameters that describe it."""
    repeatable = frozenset(name for name, field in model.model_fields.items() if _is_list(field.annotation))

    async def parse(request: Request) -> M:
        # The query string as Starlette's QueryParams reads it (latin-1, blank values kept, the last of a repeated
        # single-valued key), without building that multidict: building it costs more than the validation (~10
        # against ~4 µs).
        data: dict[str, Any] = {}
        for key, value in query_pairs(request.scope["query_string"]):
            if key in repeatable:
                data.setdefault(key, []).append(value)
            elif key in data:
                raise InvalidParameter(key, ONCE)
            else:
                data[key] = value
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            errors = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
            raise RequestValidationError(errors) from None

    schema = model.model_json_schema()
    definitions = schema.get("$defs", {})

    def inline(prop: dict[str, Any]) -> dict[str, Any]:
        # A parameter's schema stands alone in OpenAPI: the model's $defs (an enum such as CoordSys) are inlined.
        if "$ref" in prop:
            return {**definitions[prop["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in prop.items() if k != "$ref"}}
        if "anyOf" in prop:
            return {**prop, "anyOf": [inline(option) for option in prop["anyOf"]]}
        return prop

    required = set(schema.get("required", []))
    parameters = [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": {k: v for k, v in inline(prop).items() if k != "description"},
            **({"description": prop["description"]} if "description" in prop else {}),
        }
        for name, prop in schema["properties"].items()
    ]
    return parse, parameters


# A single-valued parameter given twice (`?dry_run=true&dry_run=false`) is refused: which one the client meant is
# anybody's guess, and taking the last one silently once turned a dry run into an import.
ONCE = "given more than once; a single value is expected"


def repeated(query_string: bytes, single: frozenset[str]) -> str | None:
    """The first single-valued parameter a query string gives twice, if any."""
    if not query_string:
        return None
    seen = set()
    for key, _ in query_pairs(query_string):
        if key in single:
            if key in seen:
                return key
            seen.add(key)
    return None


def _query_fields(dependant: Dependant) -> list[Any]:
    """A route's query parameters, its dependencies' included."""
    return [*dependant.query_params, *(f for sub in dependant.dependencies for f in _query_fields(sub))]


class StrictQueryRoute(APIRoute):
    """A route that refuses a single-valued query parameter given twice (422 naming it); FastAPI takes the last."""

    # Also refuse a parameter the route does not declare (ClosedQueryRoute).
    refuse_unknown = False

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        fields = _query_fields(self.dependant)
        single = frozenset(field.alias for field in fields if not _is_list(field.field_info.annotation))
        known = frozenset(field.alias for field in fields) if self.refuse_unknown else None

        async def answer(request: Request) -> Response:
            query_string = request.scope["query_string"]
            if (twice := repeated(query_string, single)) is not None:
                raise InvalidParameter(twice, ONCE)
            if known is not None and (unknown := _unknown(query_string, known)) is not None:
                raise InvalidParameter(unknown, f"not a parameter of this route; it takes {', '.join(sorted(known))}")
            return await handler(request)

        return answer


def _unknown(query_string: bytes, known: frozenset[str]) -> str | None:
    """The first parameter of a query string not in `known`, if any."""
    if not query_string:
        return None
    return next((key for key, _ in query_pairs(query_string) if key not in known), None)


class ClosedQueryRoute(StrictQueryRoute):
    """A StrictQueryRoute that also refuses a parameter it does not take (422 naming it): where a misspelt or
    misplaced parameter (`radius=` for `radius_m=`, a what-if on the sites layer) would silently answer something
    else, and a cache would keep it (the tiles)."""

    refuse_unknown = True


class LeanRoute(APIRoute):
    """A route whose endpoint is `async (request) -> Response`, called directly.

    FastAPI resolves an endpoint's dependencies afresh on every request, even when they are only the Request:
    in FastAPI 0.165 that machinery (solve_dependencies, cache keys, telemetry context) costs ~100 µs of a
    ~550 µs nearest request. An endpoint that parses its query with `query_model` and calls
    app.api.dependencies.get_reader with the request itself needs none of it. OpenAPI is still generated from the
    route's declarations (response_model, responses, openapi_extra parameters); exception handlers apply as to any
    route.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        return endpoint
