"""What the register derives on write for the nearest query: each site's GCJ-02 twin and its access-reported flag.

Both must follow every write path, or the nearest answer would send a worker to a stale point or rank a site by a
report that is long resolved.
"""

import importlib.util

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app import geo
from app.keys import service as keys
from app.paths import PROJECT_ROOT
from app.vocabularies.closed import ACCESS_PROBLEMS, ReportType
from tests.sites.test_site_writes import NEW_SITE, bearer

MOVED = {"lat": 37.40, "lon": 117.99}


@pytest.fixture
async def writer_key(sa_conn: AsyncConnection) -> str:
    return await keys.create(sa_conn, "滨州市总工会", ["read", "write"], None)


async def gcj_pair(conn: asyncpg.Connection, site_id: int) -> tuple[tuple[float, float], tuple[float, float] | None]:
    row = await conn.fetchrow(
        "SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat, gcj02_lon, gcj02_lat FROM sites WHERE id = $1", site_id
    )
    stored = (row["gcj02_lon"], row["gcj02_lat"]) if row["gcj02_lon"] is not None else None
    return geo.from_wgs84(row["lon"], row["lat"], geo.CoordSys.gcj02), stored


async def test_the_gcj02_twin_follows_api_writes_and_bulk(
    client: httpx.AsyncClient, conn: asyncpg.Connection, writer_key: str
) -> None:
    created = await client.post("/v1/sites", json=NEW_SITE, headers=bearer(writer_key))
    site_id = created.json()["id"]
    expected, stored = await gcj_pair(conn, site_id)
    assert stored == pytest.approx(expected, abs=1e-9)
    # GCJ-02 is shifted hundreds of metres from WGS-84 here: a stale twin would be visible.
    assert geo.GEOD.inv(*expected, NEW_SITE["lon"], NEW_SITE["lat"])[2] > 300

    moved = await client.patch(
        f"/v1/sites/{site_id}", json=MOVED, headers={**bearer(writer_key), "If-Match": created.headers["etag"]}
    )
    assert moved.status_code == 200
    expected, stored = await gcj_pair(conn, site_id)
    assert stored == pytest.approx(expected, abs=1e-9)
    assert expected == pytest.approx(geo.from_wgs84(MOVED["lon"], MOVED["lat"], geo.CoordSys.gcj02), abs=1e-9)

    bulk_row = {**NEW_SITE, "external_id": "X-2", "lat": 37.41, "lon": 118.01}
    r = await client.post("/v1/sites/bulk", json=[bulk_row], headers=bearer(writer_key))
    assert r.status_code == 200, r.text
    bulk_id = await conn.fetchval("SELECT id FROM sites WHERE external_id = 'X-2'")
    expected, stored = await gcj_pair(conn, bulk_id)
    assert stored == pytest.approx(expected, abs=1e-9)


async def test_the_seeded_register_has_its_twins(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch("SELECT id FROM sites WHERE source <> 'test' ORDER BY id LIMIT 50")
    assert rows
    for row in rows:
        expected, stored = await gcj_pair(conn, row["id"])
        assert stored == pytest.approx(expected, abs=1e-9)


async def test_a_move_that_bypasses_the_application_clears_the_twin(
    client: httpx.AsyncClient, conn: asyncpg.Connection, writer_key: str
) -> None:
    site_id = (await client.post("/v1/sites", json=NEW_SITE, headers=bearer(writer_key))).json()["id"]
    await conn.execute(
        "UPDATE sites SET location = ST_SetSRID(ST_MakePoint($2, $3), 4326)::geography WHERE id = $1",
        site_id,
        MOVED["lon"],
        MOVED["lat"],
    )
    _, stored = await gcj_pair(conn, site_id)
    assert stored is None
    # The answer converts on the fly then: the Amap link points at the moved site.
    items = (await client.get("/v1/sites/nearest", params={**MOVED, "limit": 1})).json()["items"]
    gcj = geo.from_wgs84(MOVED["lon"], MOVED["lat"], geo.CoordSys.gcj02)
    assert items[0]["id"] == site_id and f"position={gcj[0]:.6f},{gcj[1]:.6f}" in items[0]["links"]["amap"]
    in_gcj = {"lon": gcj[0], "lat": gcj[1], "limit": 1, "coordsys": "gcj02"}
    (item,) = (await client.get("/v1/sites/nearest", params=in_gcj)).json()["items"]
    assert item["id"] == site_id and (item["lon"], item["lat"]) == pytest.approx(gcj, abs=1e-9)
    # A derived column is not history: nothing recorded beyond the creation and the move.
    assert await conn.fetchval("SELECT count(*) FROM site_changes WHERE site_id = $1", site_id) == 2


def test_the_trigger_knows_the_same_access_problems_as_the_application() -> None:
    (path,) = PROJECT_ROOT.glob("migrations/versions/*_0006_*.py")
    spec = importlib.util.spec_from_file_location("migration_0006", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration.ACCESS_PROBLEMS == ACCESS_PROBLEMS


async def flag(conn: asyncpg.Connection, site_id: int) -> bool:
    return bool(await conn.fetchval("SELECT access_reported FROM sites WHERE id = $1", site_id))


async def test_the_access_flag_follows_the_open_reports(
    client: httpx.AsyncClient, conn: asyncpg.Connection, sa_conn: AsyncConnection, writer_key: str
) -> None:
    site_id = (await client.post("/v1/sites", json=NEW_SITE, headers=bearer(writer_key))).json()["id"]
    other_id = (
        await client.post("/v1/sites", json={**NEW_SITE, "external_id": "X-3"}, headers=bearer(writer_key))
    ).json()["id"]
    for report_type in ReportType:
        if report_type not in ACCESS_PROBLEMS:
            await client.post(f"/v1/sites/{site_id}/reports", json={"type": report_type})
    assert not await flag(conn, site_id)  # amenity missing, wrong location …: not a door problem

    locked = (await client.post(f"/v1/sites/{site_id}/reports", json={"type": "locked"})).json()
    closed = (await client.post(f"/v1/sites/{site_id}/reports", json={"type": "closed"})).json()
    assert await flag(conn, site_id) and not await flag(conn, other_id)
    reviewer = {"Authorization": f"Bearer {await keys.create(sa_conn, '审核员', ['write'], None)}"}
    await client.patch(f"/v1/reports/{locked['id']}", json={"status": "rejected"}, headers=reviewer)
    assert await flag(conn, site_id)  # the "closed" report is still open
    await conn.execute("UPDATE site_reports SET site_id = $2 WHERE id = $1", closed["id"], other_id)
    assert not await flag(conn, site_id) and await flag(conn, other_id)
    await conn.execute("DELETE FROM site_reports WHERE id = $1", closed["id"])
    assert not await flag(conn, other_id)
    for report_type in ACCESS_PROBLEMS:
        filed = (await client.post(f"/v1/sites/{other_id}/reports", json={"type": report_type})).json()
        assert await flag(conn, other_id), report_type
        await conn.execute("UPDATE site_reports SET status = 'rejected' WHERE id = $1", filed["id"])
        assert not await flag(conn, other_id), report_type
