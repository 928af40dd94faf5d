"""app.api.query: the hot path's query parser reads a query string exactly as Starlette's QueryParams would."""

import pytest
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import QueryParams
from starlette.requests import Request

from app.api.query import query_model
from app.problems import InvalidParameter
from app.sites.nearest.schemas import NearestQuery

parse, _ = query_model(NearestQuery)

QUERY_STRINGS = [
    b"lat=36.5&lon=117.9",
    b"lat=36.5&lon=117.9&kind=legal_aid&kind=outdoor_station&amenity=toilet",
    b"lat=36.5&lon=117.9&at=2026-11-23T10%3A00%3A00%2B08%3A00&open_now=true",  # percent-encoded offset
    b"lat=36.5&lon=117.9&at=2026-11-23T10:00:00+08:00",  # a raw '+' is a space, as in any form encoding
    b"lat=36.5&lon=117.9&amenity=",  # a blank value is kept (and then refused by the vocabulary)
    b"lat=36.5&lon=117.9&unknown=%E9%A9%BF%E7%AB%99&coordsys=gcj02",
]


def _request(query_string: bytes) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": query_string, "headers": []})


def _as_starlette_reads_it(query_string: bytes) -> NearestQuery:
    params = QueryParams(query_string)
    data = {k: params.getlist(k) if k in ("kind", "amenity") else v for k, v in params.items()}
    return NearestQuery.model_validate(data)


@pytest.mark.parametrize("query_string", QUERY_STRINGS)
async def test_parses_as_starlette_does(query_string: bytes) -> None:
    try:
        expected: NearestQuery | str = _as_starlette_reads_it(query_string)
    except ValueError as exc:
        expected = type(exc).__name__
    try:
        found: NearestQuery | str = await parse(_request(query_string))
    except RequestValidationError:
        found = "ValidationError"
    assert found == expected


async def test_a_single_valued_key_given_twice_is_refused() -> None:
    # Starlette would take the last one; which one the client meant is anybody's guess
    # (tests/api/test_hostile_input.py).
    for query_string in (b"lat=1&lat=36.5&lon=117.9", b"lat=36.5&lon=117.9&limit=3&limit=7"):
        with pytest.raises(InvalidParameter) as raised:
            await parse(_request(query_string))
        assert raised.value.errors[0]["field"] in ("lat", "limit")


async def test_errors_name_the_query_field() -> None:
    with pytest.raises(RequestValidationError) as raised:
        await parse(_request(b"lat=91&lon=117.9"))
    assert [e["loc"] for e in raised.value.errors()] == [("query", "lat")]
