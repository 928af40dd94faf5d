"""Every write to a site — POST/PATCH/DELETE, bulk, an accepted report — applies the same checks: vocabulary,
required fields, and the key's region against both the site's current region and its new one."""

import datetime as dt
import json

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.keys import service as keys

HUIMIN = "371621"  # 惠民县
BINCHENG = "371602"  # 滨城区
HUIMIN_SEAT = {"lat": 37.34, "lon": 117.60}
BINCHENG_CENTRE = {"lat": 37.3805, "lon": 117.9702}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def county_key(sa_conn: AsyncConnection) -> str:
    return await keys.create(sa_conn, "惠民县总工会", ["write"], HUIMIN)


@pytest.fixture
async def city_key(sa_conn: AsyncConnection) -> str:
    return await keys.create(sa_conn, "滨州市总工会", ["write"], None)


async def snapshot(conn: asyncpg.Connection, site_id: int) -> dict:
    row = await conn.fetchrow(
        "SELECT name, phone, amenities, region_adcode, version, ST_X(geom) lon, ST_Y(geom) lat "
        "FROM sites WHERE id = $1",
        site_id,
    )
    return dict(row)


async def upload(client: httpx.AsyncClient, key: str, rows: list[dict], **params: str) -> httpx.Response:
    headers = {**bearer(key), "Content-Type": "application/json"}
    return await client.post("/v1/sites/bulk", content=json.dumps(rows), params=params, headers=headers)


async def a_site_in(conn: asyncpg.Connection, region: str) -> int:
    return int(
        await conn.fetchval(
            "SELECT id FROM sites WHERE region_adcode = $1 AND deleted_at IS NULL AND source IS NOT NULL "
            "AND external_id IS NOT NULL ORDER BY id LIMIT 1",
            region,
        )
    )


async def test_bulk_cannot_take_over_another_countys_site(
    client: httpx.AsyncClient, conn: asyncpg.Connection, county_key: str
) -> None:
    victim = await a_site_in(conn, BINCHENG)
    before = await snapshot(conn, victim)
    source, external_id = await conn.fetchrow("SELECT source, external_id FROM sites WHERE id = $1", victim)
    row = {"external_id": external_id, "kind": "legal_aid", "name": "被接管的站点", **HUIMIN_SEAT}
    r = await upload(client, county_key, [row], source=source)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert await snapshot(conn, victim) == before  # nothing written


async def test_bulk_with_partial_rejects_only_the_foreign_row(
    client: httpx.AsyncClient, conn: asyncpg.Connection, county_key: str
) -> None:
    victim = await a_site_in(conn, BINCHENG)
    before = await snapshot(conn, victim)
    source, external_id = await conn.fetchrow("SELECT source, external_id FROM sites WHERE id = $1", victim)
    rows = [
        {"external_id": external_id, "kind": "legal_aid", "name": "被接管的站点", **HUIMIN_SEAT},
        {"external_id": "HM-NEW-1", "kind": "legal_aid", "name": "惠民新站", **HUIMIN_SEAT},
    ]
    r = await upload(client, county_key, rows, source=source, atomic="false")
    assert r.status_code == 200, r.text
    outcomes = [row["outcome"] for row in r.json()["rows"]]
    assert outcomes == ["rejected", "created"]
    assert "region" in r.json()["rows"][0]["reasons"][0]
    assert await snapshot(conn, victim) == before


async def report_on(client: httpx.AsyncClient, site_id: int, type_: str = "moved") -> int:
    r = await client.post(f"/v1/sites/{site_id}/reports", json={"type": type_})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def test_accepting_a_report_cannot_move_a_site_out_of_the_keys_county(
    client: httpx.AsyncClient, conn: asyncpg.Connection, county_key: str
) -> None:
    site = await a_site_in(conn, HUIMIN)
    before = await snapshot(conn, site)
    report = await report_on(client, site)
    r = await client.patch(
        f"/v1/reports/{report}",
        json={"status": "accepted", "site": BINCHENG_CENTRE},
        headers=bearer(county_key),
    )
    assert r.status_code == 403, r.text
    assert await snapshot(conn, site) == before
    assert await conn.fetchval("SELECT status FROM site_reports WHERE id = $1", report) == "open"


async def test_a_report_outside_the_keys_region_is_forbidden(
    client: httpx.AsyncClient, conn: asyncpg.Connection, county_key: str
) -> None:
    report = await report_on(client, await a_site_in(conn, BINCHENG), "closed")
    r = await client.patch(f"/v1/reports/{report}", json={"status": "accepted"}, headers=bearer(county_key))
    assert r.status_code == 403, r.text


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": None}, "site.name"),
        ({"kind": None}, "site.kind"),
        ({"kind": "no_such_kind"}, "site.kind"),
        ({"amenities": ["no_such_amenity"]}, "site.amenities"),
        ({"lat": None, "lon": None}, "site.lat"),
    ],
)
async def test_accepting_a_report_validates_the_site_changes(
    client: httpx.AsyncClient, conn: asyncpg.Connection, city_key: str, changes: dict, field: str
) -> None:
    site = await a_site_in(conn, BINCHENG)
    before = await snapshot(conn, site)
    report = await report_on(client, site, "other")
    r = await client.patch(
        f"/v1/reports/{report}", json={"status": "accepted", "site": changes}, headers=bearer(city_key)
    )
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]]
    assert await snapshot(conn, site) == before


async def test_creating_a_site_without_a_source_uses_the_documented_default(
    client: httpx.AsyncClient, city_key: str
) -> None:
    body = {"kind": "legal_aid", "name": "无来源的站点", **BINCHENG_CENTRE}
    r = await client.post("/v1/sites", json=body, headers=bearer(city_key))
    assert r.status_code == 201, r.text
    assert r.json()["source"] == "api"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": None}, "kind"),
        ({"name": None}, "name"),
        ({"lat": None, "lon": None}, "lat"),
        ({"status": None}, "status"),
        ({"access": None}, "access"),
        ({"amenities": None}, "amenities"),
    ],
)
async def test_patch_refuses_null_for_required_fields(
    client: httpx.AsyncClient, conn: asyncpg.Connection, city_key: str, changes: dict, field: str
) -> None:
    site = await a_site_in(conn, BINCHENG)
    etag = (await client.get(f"/v1/sites/{site}")).headers["etag"]
    r = await client.patch(f"/v1/sites/{site}", json=changes, headers={**bearer(city_key), "If-Match": etag})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in r.json()["errors"]]


async def test_closed_on_of_an_accepted_closed_report_is_the_date_in_china(
    client: httpx.AsyncClient, conn: asyncpg.Connection, city_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 2026-12-01 20:30 UTC is already 2026-12-02 in China.
    from app import china_time

    instant = dt.datetime(2026, 12, 1, 20, 30, tzinfo=dt.UTC)
    monkeypatch.setattr(china_time, "_utc_now", lambda: instant)
    site = await a_site_in(conn, BINCHENG)
    report = await report_on(client, site, "closed")
    r = await client.patch(f"/v1/reports/{report}", json={"status": "accepted"}, headers=bearer(city_key))
    assert r.status_code == 200, r.text
    assert await conn.fetchval("SELECT closed_on FROM sites WHERE id = $1", site) == dt.date(2026, 12, 2)


async def test_bulk_cannot_bring_back_a_deleted_site_of_another_county(
    client: httpx.AsyncClient, conn: asyncpg.Connection, county_key: str
) -> None:
    victim = await a_site_in(conn, BINCHENG)
    await conn.execute("UPDATE sites SET deleted_at = now() WHERE id = $1", victim)
    before = await snapshot(conn, victim)
    source, external_id = await conn.fetchrow("SELECT source, external_id FROM sites WHERE id = $1", victim)
    row = {"external_id": external_id, "kind": "legal_aid", "name": "复活的站点", **HUIMIN_SEAT}
    r = await upload(client, county_key, [row], source=source)
    assert r.status_code == 403, r.text
    assert await snapshot(conn, victim) == before
    assert await conn.fetchval("SELECT deleted_at IS NOT NULL FROM sites WHERE id = $1", victim)
