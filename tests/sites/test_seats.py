"""seats, how many people a site can seat: written by POST, PATCH and bulk imports (CSV, XLSX, GeoJSON, under its
Chinese header 座位数 as well), read back by GET /v1/sites, exports, OGC API items and the change feed; refused
naming `seats` when it is negative or not a whole number, by validation and by the database's own check."""

import asyncio
import csv
import io
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from openpyxl import Workbook, load_workbook
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.formats.spreadsheets import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE
from app.keys import service as keys
from app.problems import InvalidParameter
from app.problems.database import database_errors
from app.sites import export
from tests.changes.test_changes import read_all

SITE = {"kind": "legal_aid", "name": "座位测试站", "lat": 37.3805, "lon": 117.9702, "source": "seats-test"}


@pytest.fixture
async def auth(sa_conn: AsyncConnection) -> dict[str, str]:
    return {"Authorization": f"Bearer {await keys.create(sa_conn, '座位', ['write'], None)}"}


def refused_naming_seats(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["seats"], response.text


async def test_written_by_post_and_patch_and_read_back(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    created = await client.post("/v1/sites", json={**SITE, "external_id": "S-1", "seats": 12}, headers=auth)
    assert created.status_code == 201, created.text
    site_id = created.json()["id"]
    assert created.json()["seats"] == 12
    assert (await client.get(f"/v1/sites/{site_id}")).json()["seats"] == 12
    listed = (await client.get("/v1/sites", params={"q": "座位测试站"})).json()["items"]
    assert [(s["id"], s["seats"]) for s in listed] == [(site_id, 12)]
    feature = (await client.get("/v1/sites", params={"q": "座位测试站", "f": "geojson"})).json()["features"][0]
    assert feature["properties"]["seats"] == 12

    etag = created.headers["etag"]
    edited = await client.patch(f"/v1/sites/{site_id}", json={"seats": 0}, headers={**auth, "If-Match": etag})
    assert edited.status_code == 200 and edited.json()["seats"] == 0
    cleared = await client.patch(
        f"/v1/sites/{site_id}", json={"seats": None}, headers={**auth, "If-Match": edited.headers["etag"]}
    )
    assert cleared.status_code == 200 and cleared.json()["seats"] is None  # unknown again
    unknown = await client.post("/v1/sites", json={**SITE, "external_id": "S-2"}, headers=auth)
    assert unknown.json()["seats"] is None


@pytest.mark.parametrize("seats", [-1, 2.5, "12", "many", True, 2**31])
async def test_a_negative_or_not_whole_number_is_refused_naming_seats(
    client: httpx.AsyncClient, auth: dict[str, str], seats: Any
) -> None:
    refused_naming_seats(await client.post("/v1/sites", json={**SITE, "seats": seats}, headers=auth))
    site_id = await client.post("/v1/sites", json={**SITE, "external_id": "S-3"}, headers=auth)
    etag = site_id.headers["etag"]
    edit = await client.patch(
        f"/v1/sites/{site_id.json()['id']}", json={"seats": seats}, headers={**auth, "If-Match": etag}
    )
    refused_naming_seats(edit)


async def test_the_database_refuses_a_negative_count_naming_seats(conn: asyncpg.Connection) -> None:
    site_id = await conn.fetchval("SELECT min(id) FROM sites")
    with pytest.raises(InvalidParameter) as refused, database_errors():
        async with conn.transaction():
            await conn.execute("UPDATE sites SET seats = -1 WHERE id = $1", site_id)
    assert refused.value.errors == [{"field": "seats", "message": "must not be negative"}]


async def upload(client: httpx.AsyncClient, auth: dict[str, str], content: bytes, content_type: str) -> httpx.Response:
    return await client.post(
        "/v1/sites/bulk",
        content=content,
        params={"source": "seats-test", "atomic": "false"},
        headers={**auth, "Content-Type": content_type},
    )


async def seats_of(conn: asyncpg.Connection) -> dict[str, int | None]:
    rows = await conn.fetch("SELECT external_id, seats FROM sites WHERE source = 'seats-test'")
    return {r["external_id"]: r["seats"] for r in rows}


def xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize("header", ["seats", "座位数"])
async def test_bulk_csv_and_xlsx(
    client: httpx.AsyncClient, conn: asyncpg.Connection, auth: dict[str, str], header: str
) -> None:
    csv_text = (
        f"外部编号,名称,类型,纬度,经度,{header}\n"
        "C-1,座位测试站一,legal_aid,37.38,117.97,12\n"
        "C-2,座位测试站二,legal_aid,37.39,117.98,\n"
        "C-3,座位测试站三,legal_aid,37.40,117.99,-1\n"
        "C-4,座位测试站四,legal_aid,37.41,118.00,2.5\n"
    )
    r = await upload(client, auth, csv_text.encode(), CSV_MEDIA_TYPE)
    assert r.status_code == 200, r.text
    reasons = {row["external_id"]: row.get("reasons") for row in r.json()["rows"]}
    assert reasons["C-1"] is None and reasons["C-2"] is None
    assert [reason.split(":")[0] for reason in reasons["C-3"] + reasons["C-4"]] == ["seats", "seats"]
    assert await seats_of(conn) == {"C-1": 12, "C-2": None}

    cells = [
        ["external_id", "name", "kind", "lat", "lon", header],
        ["X-1", "座位测试站五", "legal_aid", 37.4, 118.0, 30],
        ["C-1", "座位测试站一", "legal_aid", 37.38, 117.97, 8.0],
    ]
    r = await upload(client, auth, xlsx(cells), XLSX_MEDIA_TYPE)
    assert r.status_code == 200, r.text
    assert r.json()["summary"]["created"] == 1 and r.json()["summary"]["updated"] == 1
    assert await seats_of(conn) == {"C-1": 8, "C-2": None, "X-1": 30}


async def test_bulk_geojson(client: httpx.AsyncClient, conn: asyncpg.Connection, auth: dict[str, str]) -> None:
    def feature(external_id: str, seats: Any) -> dict[str, Any]:
        properties = {"external_id": external_id, "name": f"座位{external_id}", "kind": "legal_aid", "seats": seats}
        point = {"type": "Point", "coordinates": [117.97, 37.38]}
        return {"type": "Feature", "geometry": point, "properties": properties}

    collection = {"type": "FeatureCollection", "features": [feature("G-1", 6), feature("G-2", "6"), feature("G-3", -2)]}
    r = await upload(client, auth, json.dumps(collection).encode(), "application/geo+json")
    assert r.status_code == 200, r.text
    rejected = {row["external_id"]: row["reasons"] for row in r.json()["rows"] if row["outcome"] == "rejected"}
    assert {k: [reason.split(":")[0] for reason in v] for k, v in rejected.items()} == {
        "G-2": ["seats"],
        "G-3": ["seats"],
    }
    assert await seats_of(conn) == {"G-1": 6}


async def test_exports_carry_seats_and_read_back(
    client: httpx.AsyncClient, conn: asyncpg.Connection, auth: dict[str, str]
) -> None:
    created = await client.post("/v1/sites", json={**SITE, "external_id": "E-1", "seats": 9}, headers=auth)
    assert created.status_code == 201, created.text
    sites = [s for s in await export.rows(conn, "legal_aid", "wgs84") if s["source"] == "seats-test"]

    [row] = list(csv.DictReader(io.StringIO(export.to_csv(sites).decode("utf-8-sig"))))
    assert row["seats"] == "9"
    sheet = load_workbook(io.BytesIO(export.to_xlsx(sites))).active
    header, values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert dict(zip(header, values, strict=True))["seats"] == 9
    [feature] = json.loads(export.to_geojson(sites))["features"]
    assert feature["properties"]["seats"] == 9

    # Each export re-imports as it is: the seats read back unchanged.
    for content, content_type in [
        (export.to_csv(sites), CSV_MEDIA_TYPE),
        (export.to_xlsx(sites), XLSX_MEDIA_TYPE),
        (export.to_geojson(sites), "application/geo+json"),
    ]:
        again = await upload(client, auth, content, content_type)
        assert again.status_code == 200 and again.json()["summary"]["unchanged"] == 1, again.text


async def test_ogc_items(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    created = await client.post("/v1/sites", json={**SITE, "external_id": "O-1", "seats": 4}, headers=auth)
    site_id = created.json()["id"]
    item = (await client.get(f"/ogc/collections/legal_aid/items/{site_id}")).json()
    assert item["properties"]["seats"] == 4
    box = {"bbox": "117.9701,37.3804,117.9703,37.3806", "limit": 1000}
    items = (await client.get("/ogc/collections/legal_aid/items", params=box)).json()["features"]
    assert [f["properties"]["seats"] for f in items if f["id"] == site_id] == [4]


@pytest.fixture
async def committed_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the app's own pools (no test transaction): its writes commit, so the feed shows them."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://yizhan.test") as http:
        yield http


@pytest.fixture
async def committed_auth(engine: AsyncEngine) -> AsyncIterator[dict[str, str]]:
    async with engine.begin() as conn:
        key = await keys.create(conn, "座位-feed", ["write"], None)
    yield {"Authorization": f"Bearer {key}"}
    async with engine.begin() as conn:
        ids = "SELECT id FROM sites WHERE source = 'seats-feed'"
        await conn.execute(text(f"DELETE FROM site_changes WHERE site_id IN ({ids})"))
        await conn.execute(text("DELETE FROM sites WHERE source = 'seats-feed'"))
        await conn.execute(text("DELETE FROM api_keys WHERE name = '座位-feed'"))


async def test_the_change_feed_carries_seats(
    committed_client: httpx.AsyncClient, committed_auth: dict[str, str]
) -> None:
    _, cursor = await read_all(committed_client, None)
    site = {**SITE, "source": "seats-feed", "external_id": "F-1", "seats": 15}
    created = await committed_client.post("/v1/sites", json=site, headers=committed_auth)
    assert created.status_code == 201, created.text
    etag = created.headers["etag"]
    edit = await committed_client.patch(
        f"/v1/sites/{created.json()['id']}", json={"seats": 3}, headers={**committed_auth, "If-Match": etag}
    )
    assert edit.status_code == 200, edit.text
    # The feed holds back a change until every transaction that began before it has ended, in the whole cluster
    # (pg_snapshot_xmin): another database's work on the same server may delay it a little.
    changes: list[tuple[str, int]] = []
    deadline = time.monotonic() + 30
    while len(changes) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        seen, cursor = await read_all(committed_client, cursor)
        changes += [(c["action"], c["site"]["seats"]) for c in seen if c["site_id"] == created.json()["id"]]
    assert changes == [("created", 15), ("updated", 3)]
