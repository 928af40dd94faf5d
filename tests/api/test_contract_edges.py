"""Answers at the edges of the contract: each one is a 4xx the OpenAPI document declares (the value violates the
parameter's declared schema, or the status is one the operation documents), or an accepted value it documents."""

import asyncio
import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import httpx
import jsonschema_rs  # schemathesis validates with it too
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection

from app.keys import service as keys
from app.observability import requests as observability


@pytest.fixture
async def auth(sa_conn: AsyncConnection) -> dict[str, str]:
    return {"Authorization": f"Bearer {await keys.create(sa_conn, '契约', ['write'], None)}"}


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    return (await client.get("/openapi.json")).json()


def parameter_schema(document: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    for parameter in document["paths"][path][method]["parameters"]:
        if parameter["name"] == name:
            return dict(parameter["schema"])
    raise AssertionError(f"{method} {path} declares no parameter {name}")


def allowed_by(schema: dict[str, Any], value: Any) -> bool:
    return bool(jsonschema_rs.validator_for(schema).is_valid(value))


def refused(response: httpx.Response, field: str, status: int = 422) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]], response.text


EMPTY_VALUES = [
    # (operation path in the document, request path, parameter, repeatable, status)
    ("/v1/sites", "/v1/sites", "kind", True, 422),
    ("/v1/sites", "/v1/sites", "bbox", False, 422),
    ("/v1/sites", "/v1/sites", "cursor", False, 422),
    ("/v1/changes", "/v1/changes", "since", False, 422),
    ("/v1/reports", "/v1/reports", "cursor", False, 422),
    ("/v1/sites/nearest", "/v1/sites/nearest?lat=37.38&lon=117.97", "kind", True, 422),
    ("/v1/sites/nearest", "/v1/sites/nearest?lat=37.38&lon=117.97", "amenity", True, 422),
    ("/v1/coverage/point", "/v1/coverage/point?lat=37.38&lon=117.97", "kind", False, 422),
    ("/v1/coverage/regions/{adcode}", "/v1/coverage/regions/371600", "kind", False, 422),
    ("/v1/coverage/regions/{adcode}/children", "/v1/coverage/regions/371600/children", "f", False, 422),
    ("/v1/tiles/sites/{z}/{x}/{y}.mvt", "/v1/tiles/sites/0/0/0.mvt", "kind", True, 422),
    ("/v1/tiles/regions/{z}/{x}/{y}.mvt", "/v1/tiles/regions/0/0/0.mvt", "kind", False, 422),
    ("/v1/tiles/{layer}.json", "/v1/tiles/sites.json", "kind", True, 422),
    ("/ogc/collections/{collection_id}/items", "/ogc/collections/legal_aid/items", "bbox", False, 400),
]


@pytest.mark.parametrize(("operation", "path", "name", "repeatable", "status"), EMPTY_VALUES)
async def test_an_empty_value_is_refused_as_the_document_declares(
    client: httpx.AsyncClient,
    document: dict[str, Any],
    auth: dict[str, str],
    operation: str,
    path: str,
    name: str,
    repeatable: bool,
    status: int,
) -> None:
    schema = parameter_schema(document, operation, "get", name)
    assert not allowed_by(schema, [""] if repeatable else ""), schema
    separator = "&" if "?" in path else "?"
    refused(await client.get(f"{path}{separator}{name}=", headers=auth), name, status)


RADIUS_ROUTES = [
    "/v1/coverage/regions/371600",
    "/v1/coverage/regions/371621/gaps",
    "/v1/coverage/point?lat=37.38&lon=117.97",
    "/v1/tiles/regions/0/0/0.mvt",
    "/v1/tiles/regions.json",
]


@pytest.mark.parametrize("radius", ["5e-324", "1e-300", "0.5", "0"])
async def test_a_radius_is_at_least_a_metre_wherever_it_is_asked(
    client: httpx.AsyncClient, document: dict[str, Any], radius: str
) -> None:
    for path in RADIUS_ROUTES:
        separator = "&" if "?" in path else "?"
        refused(await client.get(f"{path}{separator}radius_m={radius}"), "radius_m")
    for operation in ("/v1/coverage/regions/{adcode}", "/v1/tiles/{layer}.json", "/v1/tiles/gaps/{z}/{x}/{y}.mvt"):
        assert not allowed_by(parameter_schema(document, operation, "get", "radius_m"), float(radius))
    suggest = {"region": "371621", "count": 1, "radius_m": float(radius)}
    refused(await client.post("/v1/coverage/suggest", json=suggest), "radius_m")
    near = await client.get("/v1/sites/nearest", params={"lat": 37.38, "lon": 117.97, "max_distance_m": radius})
    refused(near, "max_distance_m")


@pytest.mark.parametrize("minutes", ["1e-300", "0.5", "5e-324"])
async def test_minutes_are_at_least_one(client: httpx.AsyncClient, document: dict[str, Any], minutes: str) -> None:
    refused(await client.get("/v1/isochrones", params={"lat": 31.23, "lon": 121.47, "minutes": minutes}), "minutes")
    assert not allowed_by(parameter_schema(document, "/v1/isochrones", "get", "minutes"), [float(minutes)])


@pytest.mark.parametrize("day", ["0", "1", "20240101", "2024-1-1", "1e3", "2024-01-01T00:00:00"])
async def test_a_date_is_an_iso_date(client: httpx.AsyncClient, auth: dict[str, str], day: str) -> None:
    for path in ("/v1/coverage/regions/371600", "/v1/tiles/catchments/0/0/0.mvt", "/v1/tiles/sites.json"):
        refused(await client.get(path, params={"as_of": day}), "as_of")
    refused(await client.post("/v1/coverage/suggest", json={"region": "371621", "count": 1, "as_of": day}), "as_of")
    site = {"kind": "legal_aid", "name": "日期测试站", "lat": 37.38, "lon": 117.97, "opened_on": day}
    refused(await client.post("/v1/sites", json=site, headers=auth), "opened_on")


@pytest.mark.parametrize("number", [0, 1700000000, 1.5])
async def test_a_date_or_an_instant_is_never_a_number(
    client: httpx.AsyncClient, auth: dict[str, str], number: float
) -> None:
    refused(await client.post("/v1/coverage/suggest", json={"region": "371621", "count": 1, "as_of": number}), "as_of")
    site = {"kind": "legal_aid", "name": "时间测试站", "lat": 37.38, "lon": 117.97, "last_verified_at": number}
    refused(await client.post("/v1/sites", json=site, headers=auth), "last_verified_at")
    refused(await client.get("/v1/sites", params={"updated_since": str(number)}), "updated_since")
    near = await client.get("/v1/sites/nearest", params={"lat": 37.38, "lon": 117.97, "at": str(number)})
    refused(near, "at")


async def test_an_iso_date_is_taken(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v1/coverage/regions/371600", params={"as_of": "2024-03-01"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["as_of"] == "2024-03-01"


@pytest.mark.parametrize("value", [False, True, "117.97", ""])
async def test_a_coordinate_in_a_body_is_a_number(
    client: httpx.AsyncClient, conn: asyncpg.Connection, auth: dict[str, str], value: Any
) -> None:
    site = {"kind": "legal_aid", "name": "坐标测试站", "lat": 37.38, "lon": value}
    refused(await client.post("/v1/sites", json=site, headers=auth), "lon")
    site_id = await conn.fetchval("SELECT min(id) FROM sites WHERE deleted_at IS NULL")
    report = {"type": "moved", "lat": value, "lon": 117.97}
    refused(await client.post(f"/v1/sites/{site_id}/reports", json=report), "lat")
    point = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [value, 37.38]}}
    candidates = {"type": "FeatureCollection", "features": [point]}
    suggest = await client.post("/v1/coverage/suggest", json={"region": "371621", "count": 1, "candidates": candidates})
    assert suggest.status_code == 422, suggest.text


@pytest.mark.parametrize(("z", "x", "y", "field"), [(0, 1, 0, "x"), (1, 2, 0, "x"), (1, 0, 2, "y"), (3, 0, 8, "y")])
async def test_a_tile_outside_the_matrix_is_not_found(
    client: httpx.AsyncClient, document: dict[str, Any], z: int, x: int, y: int, field: str
) -> None:
    for layer in ("sites", "regions", "catchments", "gaps"):
        refused(await client.get(f"/v1/tiles/{layer}/{z}/{x}/{y}.mvt"), field, 404)
        assert "404" in document["paths"][f"/v1/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt"]["get"]["responses"]
    # OGC API - Tiles: row y, column x
    ogc = await client.get(f"/ogc/collections/legal_aid/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert ogc.status_code == 404, ogc.text
    assert ogc.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("tile_matrix", [23, 10337930])
async def test_a_tile_matrix_outside_the_set_is_declared(
    client: httpx.AsyncClient, document: dict[str, Any], tile_matrix: int
) -> None:
    answer = await client.get(f"/ogc/collections/legal_aid/tiles/WebMercatorQuad/{tile_matrix}/0/0")
    assert answer.status_code in (400, 404), answer.text
    operation = "/ogc/collections/{collection_id}/tiles/{tile_matrix_set}/{tile_matrix}/{tile_row}/{tile_col}"
    schema = next(p for p in document["paths"][operation]["get"]["parameters"] if p["name"] == "tile_matrix")["schema"]
    assert not allowed_by(schema, tile_matrix)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"radius_m": "1e308"}, "radius_m"),
        ({"radius_m": "0.5"}, "radius_m"),
        ({"min_sites": "9"}, "min_sites"),
        ({"min_sites": "0"}, "min_sites"),
        ({"kind": ["legal_aid", "outdoor_station"]}, "kind"),
        ({"kind": "no_such_kind"}, "kind"),
    ],
)
async def test_tilejson_takes_what_the_tiles_take(client: httpx.AsyncClient, query: dict[str, Any], field: str) -> None:
    refused(await client.get("/v1/tiles/regions.json", params=query), field)


async def test_tilejson_carries_every_parameter_into_the_tile_url(client: httpx.AsyncClient) -> None:
    query = {"kind": "outdoor_station", "as_of": "2025-01-02", "radius_m": "1500", "min_sites": "2"}
    for layer in ("regions", "catchments", "gaps"):
        answer = await client.get(f"/v1/tiles/{layer}.json", params={**query, "coordsys": "gcj02"})
        assert answer.status_code == 200, answer.text
        url = httpx.URL(answer.json()["tiles"][0].replace("{z}/{x}/{y}", "0/0/0"))
        carried = dict(url.params)
        assert float(carried.pop("radius_m")) == float(query["radius_m"])
        assert carried == {k: v for k, v in {**query, "coordsys": "gcj02"}.items() if k != "radius_m"}
        tile = await client.get(url.path, params=url.params)
        assert tile.status_code in (200, 204), tile.text


@pytest.mark.parametrize("query", [{"radius_m": "1500"}, {"min_sites": "2"}])
async def test_the_sites_layer_refuses_what_only_coverage_layers_take(
    client: httpx.AsyncClient, query: dict[str, str]
) -> None:
    name = next(iter(query))
    refused(await client.get("/v1/tiles/sites.json", params=query), name)
    refused(await client.get("/v1/tiles/sites/0/0/0.mvt", params=query), name)


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v1/tiles/sites/0/0/0.mvt", "bogus"),
        ("/v1/tiles/regions/0/0/0.mvt", "radius"),
        ("/v1/tiles/gaps/0/0/0.mvt", "minsites"),
        ("/v1/tiles/regions.json", "kinds"),
    ],
)
async def test_a_tile_route_refuses_an_unknown_parameter(client: httpx.AsyncClient, path: str, name: str) -> None:
    refused(await client.get(path, params={name: "1"}), name)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("OPTIONS", "/v1/sites/1", {"GET", "PATCH", "DELETE"}),
        ("PUT", "/v1/sites/1", {"GET", "PATCH", "DELETE"}),
        ("PATCH", "/v1/sites/bulk", {"POST"}),
        ("GET", "/v1/sites/bulk", {"POST"}),
        ("PUT", "/v1/sites", {"GET", "POST"}),
        ("DELETE", "/v1/reports/1", {"PATCH"}),
    ],
)
async def test_a_method_not_allowed_is_405_listing_every_allowed_method(
    client: httpx.AsyncClient, method: str, path: str, allowed: set[str]
) -> None:
    answer = await client.request(method, path)
    assert answer.status_code == 405, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert {m.strip() for m in answer.headers["allow"].split(",")} - {"HEAD"} == allowed


async def test_if_match_star_matches_the_current_version(
    client: httpx.AsyncClient, conn: asyncpg.Connection, auth: dict[str, str]
) -> None:
    site = await conn.fetchval("SELECT min(id) FROM sites WHERE deleted_at IS NULL")
    edited = await client.patch(f"/v1/sites/{site}", json={"phone": "0543-2"}, headers={**auth, "If-Match": "*"})
    assert edited.status_code == 200, edited.text
    current = edited.headers["etag"]
    listed = await client.patch(
        f"/v1/sites/{site}", json={"phone": "0543-3"}, headers={**auth, "If-Match": f'"{site}-0", {current}'}
    )
    assert listed.status_code == 200, listed.text
    stale = await client.patch(f"/v1/sites/{site}", json={"phone": "0543-4"}, headers={**auth, "If-Match": current})
    assert stale.status_code == 412, stale.text
    deleted = await client.delete(f"/v1/sites/{site}", headers={**auth, "If-Match": "*"})
    assert deleted.status_code == 204, deleted.text
    gone = await client.patch(f"/v1/sites/{site}", json={"phone": "0543-5"}, headers={**auth, "If-Match": "*"})
    assert gone.status_code in (404, 412), gone.text


@pytest.mark.parametrize("body", [b'{"type": "closed", "note": "\xff"}', b"\xfe\xff\x00{", b'{"type": "\xc3"}'])
async def test_a_body_that_is_not_utf8_names_the_body(
    client: httpx.AsyncClient, conn: asyncpg.Connection, auth: dict[str, str], body: bytes
) -> None:
    site = await conn.fetchval("SELECT min(id) FROM sites WHERE deleted_at IS NULL")
    json_type = {"Content-Type": "application/json"}
    refused(await client.post(f"/v1/sites/{site}/reports", content=body, headers=json_type), "body")
    refused(await client.post("/v1/sites", content=body, headers={**auth, **json_type}), "body")
    refused(await client.post("/v1/coverage/suggest", content=body, headers=json_type), "body")


@pytest.mark.parametrize("body", [b'{"type": "clo', b"[1,", b"{"])
async def test_a_body_that_is_not_json_names_the_body(
    client: httpx.AsyncClient, conn: asyncpg.Connection, body: bytes
) -> None:
    site = await conn.fetchval("SELECT min(id) FROM sites WHERE deleted_at IS NULL")
    answer = await client.post(f"/v1/sites/{site}/reports", content=body, headers={"Content-Type": "application/json"})
    refused(answer, "body")


@pytest.fixture
def logged(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The request log lines written so far while the test runs."""
    out = io.BytesIO()
    recorder = observability.Recorder(out, every=0.1)
    monkeypatch.setattr(observability, "recorder", recorder)

    def lines() -> list[dict[str, Any]]:
        recorder.flush()
        return [json.loads(line) for line in out.getvalue().splitlines()]

    yield lines
    recorder.close()


async def _leave_mid_upload(app: FastAPI, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Send the headers and part of the body, then leave; what the app sent back."""
    messages = [
        {"type": "http.request", "body": b'[{"kind": "legal_aid", "na', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    raw_headers = [(k.lower().encode(), v.encode()) for k, v in {**headers, "content-length": "5000"}.items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"yizhan.test"), *raw_headers],
        "client": ("127.0.0.1", 5000),
        "server": ("yizhan.test", 80),
        "app": app,
    }
    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "json"])
async def test_a_client_leaving_mid_upload_is_not_a_server_error(
    app: FastAPI,
    client: httpx.AsyncClient,
    conn: asyncpg.Connection,
    auth: dict[str, str],
    logged: Callable[[], list[dict[str, Any]]],
    caplog: pytest.LogCaptureFixture,
    bulk: bool,
) -> None:
    site = await conn.fetchval("SELECT min(id) FROM sites WHERE deleted_at IS NULL")
    path = "/v1/sites/bulk" if bulk else f"/v1/sites/{site}/reports"
    with caplog.at_level(logging.ERROR):
        await _leave_mid_upload(app, path, {**auth, "Content-Type": "application/json"})
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    (line,) = [line for line in logged() if line["route"] in ("/v1/sites/bulk", "/v1/sites/{site_id}/reports")]
    assert line["status"] == 499, line


@pytest.mark.parametrize(("first", "second"), [("ＤＵＰ", "DUP"), ("ｄｕｐ－１", "dup-1"), ("Ａ１", "A1")])
async def test_external_ids_are_compared_as_nfkc(
    client: httpx.AsyncClient, auth: dict[str, str], first: str, second: str
) -> None:
    site = {"kind": "legal_aid", "name": "全角测试站", "lat": 37.38, "lon": 117.97}
    created = await client.post(
        "/v1/sites", json={**site, "external_id": first, "source": "ｐａｒｔｎｅｒ"}, headers=auth
    )
    assert created.status_code == 201, created.text
    assert (created.json()["external_id"], created.json()["source"]) == (second, "partner")
    again = await client.post("/v1/sites", json={**site, "external_id": second, "source": "partner"}, headers=auth)
    assert again.status_code == 409, again.text
    rows = [{**site, "external_id": first}, {**site, "external_id": second}]
    bulk = await client.post("/v1/sites/bulk", params={"source": "bulk-nfkc"}, json=rows, headers=auth)
    assert bulk.status_code == 422, bulk.text
    assert "repeats row 1" in " ".join(bulk.json()["rows"][1]["reasons"])
    updated = await client.post("/v1/sites/bulk", params={"source": "ｐａｒｔｎｅｒ"}, json=rows[1:], headers=auth)
    assert updated.status_code == 200, updated.text
    assert updated.json()["summary"]["created"] == 0, updated.text  # the site POST made, matched


@pytest.mark.parametrize("body", ["{}", "", "foo,bar\n1,2\n", "[]"])
async def test_a_table_that_names_no_field_of_a_site_is_refused(
    client: httpx.AsyncClient, auth: dict[str, str], body: str
) -> None:
    headers = {**auth, "Content-Type": "text/csv"}
    refused(await client.post("/v1/sites/bulk", params={"dry_run": "true"}, content=body, headers=headers), "body")
