"""POST /v1/sites/bulk: every format, all-or-nothing, dry runs, row reports, limits."""

import io
import json

import asyncpg
import httpx
import pytest
from openpyxl import Workbook
from sqlalchemy.ext.asyncio import AsyncConnection

from app import geo
from app.formats.spreadsheets import XLSX_MEDIA_TYPE
from app.keys import service as keys
from app.sites import bulk
from tests.reference import GEOD

ROWS = [
    {
        "external_id": "BZ-NEW-1",
        "kind": "outdoor_station",
        "name": "黄河八路爱心驿站",
        "lat": 37.39,
        "lon": 117.98,
        "amenities": ["drinking_water", "wifi"],
    },
    {"external_id": "BZ-NEW-2", "kind": "legal_aid", "name": "梁才街道法律援助站", "lat": 37.42, "lon": 118.03},
    {"external_id": "BZ-NEW-3", "kind": "outdoor_station", "name": "邹平黛溪驿站", "lat": 36.87, "lon": 117.74},
]


@pytest.fixture
async def key(sa_conn: AsyncConnection) -> str:
    return await keys.create(sa_conn, "滨州市开放数据平台", ["write"], None)


async def upload(
    client: httpx.AsyncClient, key: str, content: bytes | str, content_type: str, **params: object
) -> httpx.Response:
    return await client.post(
        "/v1/sites/bulk",
        content=content,
        params={"source": "open-data", **params},
        headers={"Authorization": f"Bearer {key}", "Content-Type": content_type},
    )


async def count(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM sites WHERE source = 'open-data' AND deleted_at IS NULL"))


async def test_json_upsert_reports_created_unchanged_updated(
    client: httpx.AsyncClient, conn: asyncpg.Connection, key: str
) -> None:
    first = await upload(client, key, json.dumps(ROWS), "application/json")
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["applied"] and body["summary"] == {"created": 3, "updated": 0, "unchanged": 0, "rejected": 0}
    assert [r["row"] for r in body["rows"]] == [1, 2, 3] and all(r["site_id"] for r in body["rows"])
    assert await count(conn) == 3
    again = (await upload(client, key, json.dumps(ROWS), "application/json")).json()
    assert again["summary"]["unchanged"] == 3
    changed = [ROWS[0], {**ROWS[1], "name": "梁才街道职工法律援助工作站"}, ROWS[2]]
    third = (await upload(client, key, json.dumps({"items": changed}), "application/json")).json()
    assert third["summary"] == {"created": 0, "updated": 1, "unchanged": 2, "rejected": 0}
    assert third["rows"][1]["outcome"] == "updated"
    version = await conn.fetchval("SELECT version FROM sites WHERE external_id = 'BZ-NEW-2'")
    assert version == 2


async def test_one_bad_row_and_nothing_is_written(
    client: httpx.AsyncClient, conn: asyncpg.Connection, key: str
) -> None:
    rows = [ROWS[0], {**ROWS[1], "lat": 95}, {**ROWS[2], "kind": "spa"}]
    r = await upload(client, key, json.dumps(rows), "application/json")
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["applied"] is False and body["summary"]["rejected"] == 2
    rejected = {row["row"]: row["reasons"] for row in body["rows"] if row["outcome"] == "rejected"}
    assert set(rejected) == {2, 3}
    assert any(reason.startswith("lat") for reason in rejected[2])
    assert any(reason.startswith("kind") for reason in rejected[3])
    assert await count(conn) == 0
    partial = await upload(client, key, json.dumps(rows), "application/json", atomic="false")
    assert partial.status_code == 200 and partial.json()["summary"]["created"] == 1
    assert await count(conn) == 1


async def test_dry_run_changes_nothing(client: httpx.AsyncClient, conn: asyncpg.Connection, key: str) -> None:
    r = (await upload(client, key, json.dumps(ROWS), "application/json", dry_run="true")).json()
    assert r["dry_run"] and not r["applied"] and r["summary"]["created"] == 3
    assert await count(conn) == 0


CSV_TEXT = (
    "外部编号,名称,类型,纬度,经度,地址,设施\n"
    "C-1,市中街道爱心驿站,outdoor_station,37.38,117.97,山东省滨州市滨城区黄河五路1号,drinking_water；wifi\n"
    "C-2,北镇法律援助站,legal_aid,37.40,117.99,,\n"
)


@pytest.mark.parametrize(
    ("encoding", "content_type"), [("utf-8", "text/csv"), ("gbk", "text/csv"), ("gbk", "text/csv; charset=gbk")]
)
async def test_csv_from_chinese_spreadsheets(
    client: httpx.AsyncClient, conn: asyncpg.Connection, key: str, encoding: str, content_type: str
) -> None:
    r = await upload(client, key, CSV_TEXT.encode(encoding), content_type)
    assert r.status_code == 200, r.text
    assert r.json()["summary"]["created"] == 2
    row = await conn.fetchrow("SELECT name, address, amenities FROM sites WHERE external_id = 'C-1'")
    assert row["name"] == "市中街道爱心驿站" and row["address"].startswith("山东省滨州市")
    assert row["amenities"] == ["drinking_water", "wifi"]
    assert [r["row"] for r in r.json()["rows"]] == [2, 3]  # spreadsheet row numbers


async def test_xlsx(client: httpx.AsyncClient, conn: asyncpg.Connection, key: str) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["external_id", "name", "kind", "lat", "lon", "opened_on"])
    sheet.append([1001, "魏桥镇爱心驿站", "outdoor_station", 37.0, 117.6, None])
    sheet.append(["1002", "长山镇法律援助站", "legal_aid", 36.9, 117.8, "2026-03-01"])
    out = io.BytesIO()
    book.save(out)
    r = await upload(client, key, out.getvalue(), XLSX_MEDIA_TYPE)
    assert r.status_code == 200, r.text
    assert r.json()["summary"]["created"] == 2
    assert await conn.fetchval("SELECT opened_on::text FROM sites WHERE external_id = '1002'") == "2026-03-01"


async def test_geojson_in_gcj02(client: httpx.AsyncClient, conn: asyncpg.Connection, key: str) -> None:
    lon, lat = geo.from_wgs84(117.97, 37.38, "gcj02")
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {"external_id": "G-1", "name": "驿站", "kind": "outdoor_station"},
            },
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[117, 37], [118, 37]]},
                "properties": {"external_id": "G-2", "name": "路", "kind": "outdoor_station"},
            },
        ],
    }
    r = await upload(client, key, json.dumps(collection), "application/geo+json", coordsys="gcj02", atomic="false")
    rows = r.json()["rows"]
    assert rows[0]["outcome"] == "created" and rows[1]["outcome"] == "rejected"
    assert "Point" in rows[1]["reasons"][0]
    stored = await conn.fetchrow("SELECT ST_X(geom) lon, ST_Y(geom) lat FROM sites WHERE external_id = 'G-1'")
    assert GEOD.inv(stored["lon"], stored["lat"], 117.97, 37.38)[2] < 1.0


async def test_repeats_and_missing_ids_are_rejected(client: httpx.AsyncClient, key: str) -> None:
    rows = [ROWS[0], ROWS[0], {k: v for k, v in ROWS[1].items() if k != "external_id"}]
    body = (await upload(client, key, json.dumps(rows), "application/json")).json()
    reasons = {row["row"]: row.get("reasons", []) for row in body["rows"]}
    assert "repeats row 1" in reasons[2][0] and reasons[3][0].startswith("external_id")


async def test_a_county_key_cannot_import_elsewhere(
    client: httpx.AsyncClient, conn: asyncpg.Connection, sa_conn: AsyncConnection
) -> None:
    county = await keys.create(sa_conn, "邹平市总工会", ["write"], "371681")
    body = (await upload(client, county, json.dumps(ROWS), "application/json", atomic="false")).json()
    assert [r["outcome"] for r in body["rows"]] == ["rejected", "rejected", "created"]
    assert "371681" in body["rows"][0]["reasons"][0]


async def test_limits_and_formats(client: httpx.AsyncClient, key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "MAX_BODY_BYTES", 1000)
    big = await upload(client, key, json.dumps(ROWS * 20), "application/json")
    assert big.status_code == 413 and big.headers["content-type"] == "application/problem+json"
    assert (await upload(client, key, "hello", "text/plain")).status_code == 415
    assert (await upload(client, key, "{not json", "application/json")).status_code == 422
    anonymous = await client.post(
        "/v1/sites/bulk", content=json.dumps(ROWS), headers={"Content-Type": "application/json"}
    )
    assert anonymous.status_code == 401


async def test_points_shifted_by_the_chinese_datum_are_flagged(
    client: httpx.AsyncClient, conn: asyncpg.Connection, key: str
) -> None:
    """A partner sends Amap (GCJ-02) coordinates labelled as WGS-84: updates that move by exactly the shift, and
    new points that land outside the county their address names, are warned about; the batch too."""
    seed = await conn.fetch(
        "SELECT external_id, kind, name, address, ST_X(geom) lon, ST_Y(geom) lat FROM sites "
        "WHERE source = 'generated-demo:binzhou' ORDER BY id LIMIT 8"
    )
    rows = []
    for site in seed:
        lon, lat = geo.from_wgs84(site["lon"], site["lat"], "gcj02")  # what Amap shows for this site
        rows.append(
            {
                "external_id": site["external_id"],
                "kind": site["kind"],
                "name": site["name"],
                "address": site["address"],
                "lat": lat,
                "lon": lon,
            }
        )
    r = await client.post(
        "/v1/sites/bulk",
        content=json.dumps(rows),
        params={"source": "generated-demo:binzhou", "dry_run": "true"},
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    body = r.json()
    assert all(any("GCJ-02 shift" in w for w in row.get("warnings", [])) for row in body["rows"])
    assert body["warnings"] and "coordsys=gcj02" in body["warnings"][0]
    # Sent with the right label, nothing is flagged.
    fixed = await client.post(
        "/v1/sites/bulk",
        content=json.dumps(rows),
        params={"source": "generated-demo:binzhou", "dry_run": "true", "coordsys": "gcj02"},
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert fixed.json()["warnings"] == [] and all("warnings" not in row for row in fixed.json()["rows"])


async def test_a_point_outside_the_county_its_address_names(client: httpx.AsyncClient, key: str) -> None:
    row = {
        "external_id": "W-1",
        "kind": "outdoor_station",
        "name": "驿站",
        "address": "山东省滨州市无棣县人民路1号",
        "lat": 37.38,
        "lon": 117.97,
    }  # 滨城区, not 无棣县
    body = (await upload(client, key, json.dumps([row]), "application/json", dry_run="true")).json()
    assert "address names 371623" in body["rows"][0]["warnings"][0]


async def test_the_source_parameter_is_the_source_of_every_row(
    client: httpx.AsyncClient, conn: asyncpg.Connection, key: str
) -> None:
    rows = [{**ROWS[0], "source": "row-source"}]
    r = await upload(client, key, json.dumps(rows), "application/json")
    assert r.status_code == 200, r.text
    assert await conn.fetchval("SELECT source FROM sites WHERE id = $1", r.json()["rows"][0]["site_id"]) == "open-data"
