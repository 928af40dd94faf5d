"""/openapi.json describes what clients get: every JSON endpoint declares its response model, and each one's real
responses validate against it, with no field the model does not declare."""

import json
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import Response

from app import demo
from app.keys import service as keys


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI's wrapper of an included router
            yield from api_routes(route.original_router.routes)


async def samples(client: httpx.AsyncClient, conn: asyncpg.Connection, key: str) -> list[tuple[str, str, Any]]:
    """(method, route path, the response of a real request to it) for every JSON endpoint."""
    auth = {"Authorization": f"Bearer {key}"}
    site = await conn.fetchval("SELECT min(id) FROM sites WHERE kind = 'legal_aid' AND deleted_at IS NULL")
    new_site = {"kind": "legal_aid", "name": "契约测试站", "lat": 37.3805, "lon": 117.9702, "external_id": "C-1"}
    created = await client.post("/v1/sites", json=new_site, headers=auth)
    edited = await client.patch(
        f"/v1/sites/{created.json()['id']}",
        json={"phone": "0543-1"},
        headers={**auth, "If-Match": created.headers["etag"]},
    )
    bulk_row = {**new_site, "external_id": "C-2", "name": "批量契约测试站"}
    bulk = await client.post(
        "/v1/sites/bulk", content=json.dumps([bulk_row]), headers={**auth, "Content-Type": "application/json"}
    )
    report = await client.post(f"/v1/sites/{site}/reports", json={"type": "locked"})
    resolved = await client.patch(f"/v1/reports/{report.json()['id']}", json={"status": "rejected"}, headers=auth)
    await client.post(f"/v1/sites/{site}/reports", json={"type": "closed"})
    target = {"region": "371621", "kind": "legal_aid", "measure": "count", "value": 40, "due_on": "2099-12-31"}
    set_target = await client.post("/v1/targets", json=target, headers=auth)
    target_url = f"/v1/targets/{set_target.json()['id']}"
    changed = await client.patch(
        target_url, json={"value": 41}, headers={**auth, "If-Match": set_target.headers["etag"]}
    )
    closed = await client.post("/v1/progress/371600/months/2026-10", headers=auth)
    months = {"from": "2026-10-01", "to": "2026-11-30"}
    near = {"lat": 37.38, "lon": 117.97}
    huangpu = {"lat": 31.23, "lon": 121.474}
    get = client.get
    door = await get(f"/v1/sites/{site}/door", headers=auth)
    rotated = await client.post(f"/v1/sites/{site}/door/rotate", headers=auth)
    at_the_door = {"token": rotated.json()["token"]}
    worker = {"X-Client-Id": "contract-phone-1"}
    visit = await client.post("/v1/visits", json={**at_the_door, "worker_group": "courier"}, headers=worker)
    rating = await client.post(
        f"/v1/sites/{site}/ratings",
        json={**at_the_door, "stars": 1, "tags": ["locked"], "comment": "锁门"},
        headers=worker,
    )
    called_back = await client.patch(
        f"/v1/callbacks/{rating.json()['callback']['id']}", json={"outcome": "已回访"}, headers=auth
    )
    scores = dict.fromkeys(("hardware", "equipment", "signage", "rules", "funding", "use", "activities"), 75)
    inspection = await client.post(
        f"/v1/sites/{site}/inspections", json={"unannounced": True, "inspector": "契约", "scores": scores}, headers=auth
    )
    return [
        ("GET", "/v1/sites/{site_id}/door", door),
        ("POST", "/v1/sites/{site_id}/door/rotate", rotated),
        ("POST", "/v1/visits", visit),
        ("GET", "/v1/sites/{site_id}/usage", await get(f"/v1/sites/{site}/usage", params={"by": "hour"})),
        ("GET", "/v1/coverage/regions/{adcode}/usage", await get("/v1/coverage/regions/371600/usage")),
        (
            "GET",
            "/v1/coverage/regions/{adcode}/usage/children",
            await get("/v1/coverage/regions/371600/usage/children"),
        ),
        ("POST", "/v1/sites/{site_id}/ratings", rating),
        ("GET", "/v1/sites/{site_id}/ratings", await get(f"/v1/sites/{site}/ratings")),
        ("GET", "/v1/callbacks", await get("/v1/callbacks", headers=auth)),
        ("PATCH", "/v1/callbacks/{callback_id}", called_back),
        ("POST", "/v1/sites/{site_id}/inspections", inspection),
        ("GET", "/v1/sites/{site_id}/inspections", await get(f"/v1/sites/{site}/inspections")),
        ("GET", "/v1/regions/{adcode}/station-rules", await get("/v1/regions/371602/station-rules")),
        (
            "PUT",
            "/v1/regions/{adcode}/station-rules",
            await client.put(
                "/v1/regions/371602/station-rules",
                json={"idle_below_visits": 12, "inspection_interval_months": None},
                headers=auth,
            ),
        ),
        ("GET", "/v1/inspections/due", await get("/v1/inspections/due", params={"region": "371600"}, headers=auth)),
        ("GET", "/v1/sites/nearest", await get("/v1/sites/nearest", params={**near, "limit": 5})),
        ("GET", "/v1/sites/nearest", await get("/v1/sites/nearest", params={**huangpu, "limit": 3, "mode": "walk"})),
        ("GET", "/v1/sites", await get("/v1/sites", params={"limit": 5})),
        ("GET", "/v1/sites/{site_id}", await get(f"/v1/sites/{site}")),
        ("POST", "/v1/sites", created),
        ("PATCH", "/v1/sites/{site_id}", edited),
        ("POST", "/v1/sites/bulk", bulk),
        ("GET", "/v1/regions", await get("/v1/regions")),
        ("GET", "/v1/regions/{adcode}", await get("/v1/regions/371602")),
        ("GET", "/v1/coverage/point", await get("/v1/coverage/point", params=near)),
        ("GET", "/v1/coverage/regions/{adcode}", await get("/v1/coverage/regions/371600")),
        ("GET", "/v1/coverage/regions/{adcode}/children", await get("/v1/coverage/regions/371600/children")),
        ("GET", "/v1/coverage/regions/{adcode}/gaps", await get("/v1/coverage/regions/371621/gaps")),
        (
            "POST",
            "/v1/coverage/suggest",
            await client.post("/v1/coverage/suggest", json={"region": "371621", "count": 2}),
        ),
        ("GET", "/v1/changes", await get("/v1/changes", params={"limit": 20})),
        ("GET", "/v1/isochrones", await get("/v1/isochrones", params={**huangpu, "minutes": [5, 10]})),
        ("POST", "/v1/sites/{site_id}/reports", report),
        ("GET", "/v1/reports", await get("/v1/reports", headers=auth)),
        ("PATCH", "/v1/reports/{report_id}", resolved),
        ("GET", "/v1/vocabularies", await get("/v1/vocabularies")),
        ("POST", "/v1/targets", set_target),
        ("PATCH", "/v1/targets/{target_id}", changed),
        ("GET", "/v1/targets", await get("/v1/targets")),
        ("GET", "/v1/regions/{adcode}/targets", await get("/v1/regions/371600/targets")),
        ("GET", "/v1/targets/{target_id}", await get(target_url)),
        ("GET", "/v1/targets/{target_id}/history", await get(f"{target_url}/history")),
        ("GET", "/v1/progress/{adcode}", await get("/v1/progress/371621", params=months)),
        ("GET", "/v1/progress/{adcode}/children", await get("/v1/progress/371600/children", params=months)),
        ("POST", "/v1/progress/{adcode}/months/{month}", closed),
        ("GET", "/ogc", await get("/ogc")),
        ("GET", "/ogc/conformance", await get("/ogc/conformance")),
        ("GET", "/ogc/collections", await get("/ogc/collections")),
        ("GET", "/ogc/collections/{collection_id}", await get("/ogc/collections/legal_aid")),
        ("GET", "/ogc/collections/{collection_id}/items", await get("/ogc/collections/legal_aid/items")),
        (
            "GET",
            "/ogc/collections/{collection_id}/items/{feature_id}",
            await get(f"/ogc/collections/legal_aid/items/{site}"),
        ),
        ("GET", "/ogc/api", await get("/ogc/api")),
        ("GET", "/ogc/tileMatrixSets", await get("/ogc/tileMatrixSets")),
        ("GET", "/ogc/tileMatrixSets/{tile_matrix_set}", await get("/ogc/tileMatrixSets/WebMercatorQuad")),
        ("GET", "/ogc/collections/{collection_id}/tiles", await get("/ogc/collections/legal_aid/tiles")),
        (
            "GET",
            "/ogc/collections/{collection_id}/tiles/{tile_matrix_set}",
            await get("/ogc/collections/legal_aid/tiles/WebMercatorQuad"),
        ),
        ("GET", "/v1/tiles/{layer}.json", await get("/v1/tiles/sites.json")),
        ("GET", "/healthz", await get("/healthz")),
        ("GET", "/readyz", await get("/readyz")),
    ]


def undeclared(sent: Any, declared: Any, where: str = "") -> list[str]:
    """Paths of fields in `sent` that the validated model does not carry (and so would not document)."""
    if isinstance(sent, dict) and isinstance(declared, dict):
        missing = [f"{where}.{k}" for k in sent if k not in declared]
        return missing + [p for k in sent if k in declared for p in undeclared(sent[k], declared[k], f"{where}.{k}")]
    if isinstance(sent, list) and isinstance(declared, list):
        return [
            p for i, (s, d) in enumerate(zip(sent, declared, strict=True)) for p in undeclared(s, d, f"{where}[{i}]")
        ]
    return []


@pytest.fixture
async def key(sa_conn: AsyncConnection) -> str:
    return await keys.create(sa_conn, "契约测试", ["write", "plan", "inspect"], None)


async def test_every_json_endpoint_answers_what_its_model_declares(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, sa_conn: AsyncConnection, key: str
) -> None:
    await demo.load_huangpu_in(sa_conn)  # a road network, for the answers made on one (rolled back afterwards)
    routes = {(method, r.path_format): r for r in api_routes(app.router.routes) for method in r.methods}
    answered = await samples(client, conn, key)
    json_routes = {
        k
        for k, r in routes.items()
        if r.status_code != 204 and r.include_in_schema and r.response_class is not Response
    }
    assert json_routes == {(method, path) for method, path, _ in answered}, "every JSON endpoint has a sample"
    for method, path, response in answered:
        route = routes[method, path]
        assert response.status_code in (200, 201), (method, path, response.text)
        assert route.response_model is not None, f"{method} {path} declares no response model"
        adapter: TypeAdapter[Any] = TypeAdapter(route.response_model)
        body = response.json()
        model = adapter.validate_python(body)
        dumped = model.model_dump(mode="json", by_alias=True) if isinstance(model, BaseModel) else body
        assert undeclared(body, dumped) == [], f"{method} {path} sends fields its model does not declare"


async def test_the_openapi_document_names_a_schema_for_each_json_answer(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            ok = operation["responses"].get("200") or operation["responses"].get("201")
            if ok is None:
                continue  # 204
            media = ok.get("content", {})
            if "application/vnd.mapbox-vector-tile" in media:
                continue  # a tile, described by its TileJSON
            if media and all(m.get("schema", {}).get("format") == "binary" for m in media.values()):
                continue  # a file (the monthly report's PDF or XLSX)
            if media and set(media) <= {"image/svg+xml", "image/png", "application/pdf"}:
                continue  # a QR code or a poster
            json_media = media.get("application/json") or media.get("application/geo+json")
            assert json_media and json_media.get("schema"), f"{method.upper()} {path} documents no answer"
