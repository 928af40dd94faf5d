"""Writes that never lose data: keys and scopes, region limits, If-Match, soft delete, history."""

import asyncio
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection
from typer.testing import CliRunner

from app import geo
from app.cli import cli
from app.config import Settings
from app.keys import service as keys
from tests.reference import GEOD

NEW_SITE = {
    "kind": "legal_aid",
    "name": "黄河五路职工法律援助工作站",
    "lat": 37.3805,
    "lon": 117.9702,
    "amenities": ["drinking_water"],
    "source": "partner-x",
    "external_id": "X-1",
}


@pytest.fixture
async def writer_key(sa_conn: AsyncConnection) -> str:
    return await keys.create(sa_conn, "滨州市总工会", ["read", "write"], None)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_writes_need_a_key_with_the_write_scope(client: httpx.AsyncClient, sa_conn: AsyncConnection) -> None:
    r = await client.post("/v1/sites", json=NEW_SITE)
    assert r.status_code == 401 and "Bearer" in r.headers["www-authenticate"]
    assert r.headers["content-type"] == "application/problem+json"
    assert (await client.post("/v1/sites", json=NEW_SITE, headers=bearer("yz_nope"))).status_code == 401
    reader = await keys.create(sa_conn, "地图厂商", ["read"], None)
    assert (await client.post("/v1/sites", json=NEW_SITE, headers=bearer(reader))).status_code == 403
    revoked = await keys.create(sa_conn, "old", ["write"], None)
    await keys.revoke(sa_conn, revoked.split("_")[1])
    assert (await client.post("/v1/sites", json=NEW_SITE, headers={"X-API-Key": revoked})).status_code == 401


async def test_create_read_edit_delete_with_history(
    client: httpx.AsyncClient, conn: asyncpg.Connection, writer_key: str
) -> None:
    created = await client.post("/v1/sites", json=NEW_SITE, headers=bearer(writer_key))
    assert created.status_code == 201, created.text
    site = created.json()
    assert site["region_adcode"] == "371602" and site["version"] == 1
    assert created.headers["location"] == f"/v1/sites/{site['id']}"
    etag = created.headers["etag"]
    read = (await client.get(f"/v1/sites/{site['id']}")).headers["etag"]
    assert read.startswith(etag[:-1] + "-")  # the same version, and the read's digest

    url = f"/v1/sites/{site['id']}"
    assert (await client.patch(url, json={"name": "新名字"}, headers=bearer(writer_key))).status_code == 428
    edited = await client.patch(url, json={"name": "新名字"}, headers={**bearer(writer_key), "If-Match": etag})
    assert edited.status_code == 200 and edited.json()["name"] == "新名字" and edited.json()["version"] == 2
    stale = await client.patch(url, json={"name": "旧的"}, headers={**bearer(writer_key), "If-Match": etag})
    assert stale.status_code == 412  # someone (we) changed it since that ETag
    assert (await client.get(url)).json()["name"] == "新名字"

    gone = await client.delete(url, headers={**bearer(writer_key), "If-Match": edited.headers["etag"]})
    assert gone.status_code == 204
    assert (await client.get(url)).status_code == 404
    near = await client.get("/v1/sites/nearest", params={"lat": 37.3805, "lon": 117.9702, "limit": 3})
    assert site["id"] not in [i["id"] for i in near.json()["items"]]
    assert await conn.fetchval("SELECT deleted_at IS NOT NULL FROM sites WHERE id = $1", site["id"])  # soft

    history = await conn.fetch(
        "SELECT action, version, actor, before ->> 'name' AS was, after ->> 'name' AS now "
        "FROM site_changes WHERE site_id = $1 ORDER BY id",
        site["id"],
    )
    assert [(h["action"], h["version"], h["actor"]) for h in history] == [
        ("created", 1, "滨州市总工会"),
        ("updated", 2, "滨州市总工会"),
        ("deleted", 3, "滨州市总工会"),
    ]
    assert (history[1]["was"], history[1]["now"]) == (NEW_SITE["name"], "新名字")


async def test_coordinates_in_a_chinese_datum_are_stored_as_wgs84(
    client: httpx.AsyncClient, conn: asyncpg.Connection, writer_key: str
) -> None:
    lon, lat = geo.from_wgs84(NEW_SITE["lon"], NEW_SITE["lat"], "gcj02")
    body = {**NEW_SITE, "lon": lon, "lat": lat, "coordsys": "gcj02"}
    site = (await client.post("/v1/sites", json=body, headers=bearer(writer_key))).json()
    stored = await conn.fetchrow("SELECT ST_X(geom) lon, ST_Y(geom) lat FROM sites WHERE id = $1", site["id"])
    assert GEOD.inv(stored["lon"], stored["lat"], NEW_SITE["lon"], NEW_SITE["lat"])[2] < 1.0
    assert GEOD.inv(site["lon"], site["lat"], lon, lat)[2] < 1.0  # answered in the datum it was sent in


async def test_a_county_key_writes_only_in_its_county(
    client: httpx.AsyncClient, conn: asyncpg.Connection, sa_conn: AsyncConnection
) -> None:
    county_key = await keys.create(sa_conn, "惠民县总工会", ["write"], "371621")
    before = await conn.fetchval("SELECT count(*) FROM sites")
    elsewhere = await client.post("/v1/sites", json=NEW_SITE, headers=bearer(county_key))  # in 滨城区
    assert elsewhere.status_code == 403
    assert await conn.fetchval("SELECT count(*) FROM sites") == before  # nothing half-written
    inside = {**NEW_SITE, "lat": 37.34, "lon": 117.60, "external_id": "X-2"}  # 惠民县 seat
    site = await client.post("/v1/sites", json=inside, headers=bearer(county_key))
    assert site.status_code == 201 and site.json()["region_adcode"] == "371621"
    moved = await client.patch(
        f"/v1/sites/{site.json()['id']}",
        json={"lat": 37.38, "lon": 117.97},
        headers={**bearer(county_key), "If-Match": site.headers["etag"]},
    )
    assert moved.status_code == 403  # may not move it out of the county
    row = await conn.fetchrow("SELECT region_adcode, version FROM sites WHERE id = $1", site.json()["id"])
    assert (row["region_adcode"], row["version"]) == ("371621", 1)
    other = await conn.fetchval("SELECT id FROM sites WHERE region_adcode = '371602' LIMIT 1")
    etag = (await client.get(f"/v1/sites/{other}")).headers["etag"]
    assert (
        await client.patch(f"/v1/sites/{other}", json={"name": "x"}, headers={**bearer(county_key), "If-Match": etag})
    ).status_code == 403


async def test_duplicate_partner_id_is_a_conflict(client: httpx.AsyncClient, writer_key: str) -> None:
    assert (await client.post("/v1/sites", json=NEW_SITE, headers=bearer(writer_key))).status_code == 201
    again = await client.post("/v1/sites", json=NEW_SITE, headers=bearer(writer_key))
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "spa"}, "kind"),
        ({"amenities": ["sauna"]}, "amenities"),
        ({"lat": 91}, "lat"),
        ({"name": "   "}, "name"),
        ({"status": "open"}, "status"),
        ({"colour": "red"}, "colour"),
        ({"photos": ["file:///etc/passwd"]}, "photos.0"),
        ({"opened_on": "2025-02-01", "closed_on": "2025-01-01"}, "body"),
    ],
)
async def test_bad_sites_are_refused_naming_the_field(
    client: httpx.AsyncClient, conn: asyncpg.Connection, writer_key: str, change: dict, field: str
) -> None:
    before = await conn.fetchval("SELECT count(*) FROM sites")
    r = await client.post("/v1/sites", json={**NEW_SITE, **change}, headers=bearer(writer_key))
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert await conn.fetchval("SELECT count(*) FROM sites") == before


def test_import_and_export_from_the_command_line(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Export the register, import it back unchanged; import a CSV with a bad row (nothing written), then --partial."""
    monkeypatch.setenv("DATABASE_URL", str(settings.database_url))
    runner = CliRunner()
    exported = tmp_path / "legal_aid.csv"
    made = runner.invoke(cli, ["export", str(exported), "--kind", "legal_aid"])
    assert made.exit_code == 0, made.output
    assert "wrote 134 sites" in made.output
    again = runner.invoke(cli, ["import", str(exported), "--dry-run"])
    assert again.exit_code == 0, again.output
    assert "unchanged 134" in again.output and "nothing written" in again.output
    for suffix in (".geojson", ".xlsx"):
        assert runner.invoke(cli, ["export", str(tmp_path / f"all{suffix}")]).exit_code == 0

    upload = tmp_path / "new.csv"
    upload.write_text(
        "external_id,name,kind,lat,lon\ncli-1,新驿站,outdoor_station,37.38,117.97\ncli-2,坏行,outdoor_station,95,117\n",
        encoding="utf-8",
    )
    refused = runner.invoke(cli, ["import", str(upload), "--source", "cli-test"])
    assert refused.exit_code == 1 and "row 3" in refused.output and "nothing written" in refused.output
    applied = runner.invoke(cli, ["import", str(upload), "--source", "cli-test", "--partial", "--actor", "运维"])
    assert applied.exit_code == 0 and "created 1" in applied.output and "applied" in applied.output

    async def cleanup() -> str:
        conn = await asyncpg.connect(str(settings.database_url))
        try:
            actor = await conn.fetchval(
                "SELECT actor FROM site_changes c JOIN sites s ON s.id = c.site_id WHERE s.source = 'cli-test'"
            )
            await conn.execute(
                "DELETE FROM site_changes WHERE site_id IN (SELECT id FROM sites WHERE source = 'cli-test')"
            )
            await conn.execute("DELETE FROM sites WHERE source = 'cli-test'")
            return str(actor)
        finally:
            await conn.close()

    assert asyncio.run(cleanup()) == "运维"
