"""Shared request parameters: content negotiation by f= and by the client's preferences, cursors."""

import pytest
from starlette.requests import Request

from app.api.parameters import decode_cursor, encode_cursor, output_format
from app.problems import InvalidParameter

OFFERED = {"json": "application/json", "geojson": "application/geo+json", "csv": "text/csv"}


def request(accept: str | None) -> Request:
    headers = [(b"accept", accept.encode())] if accept is not None else []
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "query_string": b""})


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "json"),
        ("application/geo+json", "geojson"),
        ("application/geo+json, application/json;q=0.9", "geojson"),
        ("application/json, application/geo+json;q=0.5", "json"),
        ("text/csv, application/json;q=0.1", "csv"),
        ("application/json;q=0.2, text/csv;q=0.8", "csv"),
        ("text/html,application/xhtml+xml,*/*;q=0.8", "json"),  # a browser
        ("application/geo+json;q=0", "json"),
        ("image/png", "json"),
    ],
)
def test_the_clients_preference_among_what_is_offered(accept: str | None, chosen: str) -> None:
    assert output_format(request(accept), None, OFFERED) == chosen


def test_f_wins_over_accept_and_is_checked() -> None:
    assert output_format(request("text/csv"), "geojson", OFFERED) == "geojson"
    with pytest.raises(InvalidParameter) as refused:
        output_format(request(None), "xml", OFFERED)
    assert refused.value.errors == [{"field": "f", "message": "one of json, geojson, csv"}]


def test_a_cursor_is_read_back_only_by_what_issued_it() -> None:
    cursor = encode_cursor("c", 123456789, 42)
    assert decode_cursor(cursor, "c", 2) == (123456789, 42)
    for wrong in (encode_cursor("id", 5), encode_cursor("c", 1), "not-base64!", encode_cursor("c", 2**70, 1)):
        with pytest.raises(InvalidParameter):
            decode_cursor(wrong, "c", 2, "since")
