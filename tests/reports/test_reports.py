"""Workers' reports: merged per client, lowering a site's rank until reviewed; review applies them to the site."""

import secrets

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.keys import service as keys
from app.vocabularies.closed import AccessMode, VerificationMethod

LON, LAT = 100.0, 45.0  # far from the demo data


@pytest.fixture
async def two_sites(conn: asyncpg.Connection) -> tuple[int, int]:
    """A at 100 m, B at 130 m from the probe point, both verified yesterday."""
    ids = []
    for name, metres in (("A", 100), ("B", 130)):
        ids.append(
            await conn.fetchval(
                "INSERT INTO sites (kind, name, location, source, external_id, last_verified_at, verified_by) VALUES "
                "('outdoor_station', $1, ST_Project(ST_SetSRID(ST_MakePoint($2, $3), 4326)::geography, $4, 0), "
                "'test', $1, now() - interval '1 day', 'inspection') RETURNING id",
                name,
                LON,
                LAT,
                metres,
            )
        )
    return ids[0], ids[1]


async def nearest(client: httpx.AsyncClient) -> list[dict]:
    return (await client.get("/v1/sites/nearest", params={"lat": LAT, "lon": LON, "limit": 2})).json()["items"]


async def test_a_locked_report_ranks_a_site_after_an_equally_near_one(
    client: httpx.AsyncClient, two_sites: tuple[int, int]
) -> None:
    a, b = two_sites
    before = await nearest(client)
    assert [i["id"] for i in before] == [a, b] and before[0]["trust"] == []
    r = await client.post(f"/v1/sites/{a}/reports", json={"type": "locked", "note": "门锁着"})
    assert r.status_code == 201 and r.json()["status"] == "open"
    after = await nearest(client)
    assert [i["id"] for i in after] == [b, a]  # 100 m × 1.5 = 150 > 130
    assert after[1]["trust"] == ["reported_access_problem"]
    assert after[1]["distance_m"] == pytest.approx(100, abs=0.5)  # the distance itself is never changed


async def test_an_unverified_site_yields_to_an_equally_near_verified_one(
    client: httpx.AsyncClient, conn: asyncpg.Connection, two_sites: tuple[int, int]
) -> None:
    a, b = two_sites
    await conn.execute("UPDATE sites SET last_verified_at = now() - interval '400 days' WHERE id = $1", a)
    await conn.execute(
        "UPDATE sites SET location = ST_Project(ST_SetSRID(ST_MakePoint($2, $3), 4326)::geography, "
        "105, 0) WHERE id = $1",
        b,
        LON,
        LAT,
    )
    items = await nearest(client)
    assert [i["id"] for i in items] == [b, a]  # 100 m × 1.1 = 110 > 105
    assert items[1]["trust"] == ["not_verified_recently"]


async def test_repeats_from_one_client_are_merged(
    client: httpx.AsyncClient, conn: asyncpg.Connection, two_sites: tuple[int, int]
) -> None:
    a, _ = two_sites
    first = await client.post(f"/v1/sites/{a}/reports", json={"type": "closed"})
    for _ in range(19):
        again = await client.post(f"/v1/sites/{a}/reports", json={"type": "closed"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["merged"] and again.json()["times_reported"] == 20 and again.json()["id"] == first.json()["id"]
    assert await conn.fetchval("SELECT count(*) FROM site_reports WHERE site_id = $1", a) == 1
    other = await client.post(f"/v1/sites/{a}/reports", json={"type": "amenity_missing"})
    assert other.status_code == 201  # another kind of problem is another report


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "smelly"}, "type"),
        ({"type": "other", "photo_url": "file:///x"}, "photo_url"),
        ({"type": "other", "lat": 95, "lon": 1}, "lat"),
        ({"type": "other", "spam": 1}, "spam"),
    ],
)
async def test_bad_reports(client: httpx.AsyncClient, two_sites: tuple[int, int], body: dict, field: str) -> None:
    r = await client.post(f"/v1/sites/{two_sites[0]}/reports", json=body)
    assert r.status_code == 422 and field in [e["field"] for e in r.json()["errors"]]


async def test_reporting_a_missing_site(client: httpx.AsyncClient) -> None:
    assert (await client.post("/v1/sites/999999999/reports", json={"type": "closed"})).status_code == 404


async def test_review_closes_the_site(
    client: httpx.AsyncClient, conn: asyncpg.Connection, sa_conn: AsyncConnection, two_sites: tuple[int, int]
) -> None:
    a, b = two_sites
    report = (await client.post(f"/v1/sites/{a}/reports", json={"type": "closed"})).json()
    assert (await client.get("/v1/reports")).status_code == 401
    reviewer = await keys.create(sa_conn, "市总工会审核员", ["write"], None)
    auth = {"Authorization": f"Bearer {reviewer}"}
    queue = (await client.get("/v1/reports", params={"site_id": a}, headers=auth)).json()["items"]
    assert [q["id"] for q in queue] == [report["id"]] and queue[0]["site_name"] == "A"
    done = await client.patch(
        f"/v1/reports/{report['id']}", json={"status": "accepted", "resolution": "已核实"}, headers=auth
    )
    assert done.status_code == 200 and done.json()["status"] == "accepted"
    site = await conn.fetchrow("SELECT status, closed_on, verified_by, version FROM sites WHERE id = $1", a)
    assert site["status"] == "closed" and site["closed_on"] is not None and site["verified_by"] == "inspection"
    assert [i["id"] for i in await nearest(client)] == [b]
    actor = await conn.fetchval("SELECT actor FROM site_changes WHERE site_id = $1 ORDER BY id DESC LIMIT 1", a)
    assert actor == "市总工会审核员"
    again = await client.patch(f"/v1/reports/{report['id']}", json={"status": "rejected"}, headers=auth)
    assert again.status_code == 422


async def test_a_rejected_report_restores_the_rank(
    client: httpx.AsyncClient, sa_conn: AsyncConnection, two_sites: tuple[int, int]
) -> None:
    a, b = two_sites
    report = (await client.post(f"/v1/sites/{a}/reports", json={"type": "locked"})).json()
    assert [i["id"] for i in await nearest(client)] == [b, a]
    reviewer = await keys.create(sa_conn, "审核员", ["write"], None)
    await client.patch(
        f"/v1/reports/{report['id']}",
        json={"status": "rejected", "resolution": "门开着"},
        headers={"Authorization": f"Bearer {reviewer}"},
    )
    items = await nearest(client)
    assert [i["id"] for i in items] == [a, b] and items[0]["trust"] == []


async def test_vocabularies_match_the_register(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    body = (await client.get("/v1/vocabularies")).json()
    assert [k["code"] for k in body["kinds"]] == ["outdoor_station", "legal_aid", "service_centre"]
    assert {a["code"] for a in body["amenities"]} == {r["code"] for r in await conn.fetch("SELECT code FROM amenities")}
    assert [a["code"] for a in body["access"]] == list(AccessMode)
    assert [v["code"] for v in body["verification_methods"]] == list(VerificationMethod)
    assert {"closed", "locked", "needs_app"} <= {t["code"] for t in body["report_types"]}
    assert all(item["zh"] and item["en"] for group in body.values() for item in group)


async def test_a_report_with_the_door_token_is_marked_from_the_door_and_forged_or_rotated_ones_are_refused(
    client: httpx.AsyncClient, conn: asyncpg.Connection, sa_conn: AsyncConnection, two_sites: tuple[int, int]
) -> None:
    a, b = two_sites
    token_a, token_b = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    for site_id, token in ((a, token_a), (b, token_b)):
        await conn.execute("INSERT INTO site_door_tokens (site_id, token) VALUES ($1, $2)", site_id, token)
    refused = [
        ("forged", secrets.token_urlsafe(16)),
        ("another site's", token_b),
        ("not a token at all", "<script>"),
    ]
    for what, token in refused:
        answer = await client.post(f"/v1/sites/{a}/reports", json={"type": "locked", "token": token})
        assert answer.status_code == 422, what
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["errors"][0]["field"] == "token", what
    assert await conn.fetchval("SELECT count(*) FROM site_reports WHERE site_id = $1", a) == 0  # nothing stored

    # The app's own reports carry no token: stored, not from the door.
    plain = await client.post(f"/v1/sites/{a}/reports", json={"type": "closed"})
    assert plain.status_code == 201 and plain.json()["from_door"] is False
    at_door = await client.post(f"/v1/sites/{a}/reports", json={"type": "locked", "token": token_a})
    assert at_door.status_code == 201 and at_door.json()["from_door"] is True
    stored = await conn.fetch("SELECT type, from_door FROM site_reports WHERE site_id = $1 ORDER BY id", a)
    assert [tuple(r) for r in stored] == [("closed", False), ("locked", True)]

    # Rotated: the old token is refused, and nothing more is stored (the open report is not counted again).
    await conn.execute("UPDATE site_door_tokens SET token = $2 WHERE site_id = $1", a, secrets.token_urlsafe(16))
    stale = await client.post(f"/v1/sites/{a}/reports", json={"type": "locked", "token": token_a})
    assert stale.status_code == 422 and stale.json()["errors"][0]["field"] == "token"
    assert await conn.fetchval("SELECT sum(times_reported) FROM site_reports WHERE site_id = $1", a) == 2

    # Reviewers see which came from the door.
    key = await keys.create(sa_conn, "reviewer", ["write"], None)
    queue = (await client.get("/v1/reports", params={"site_id": a}, headers={"X-API-Key": key})).json()["items"]
    assert [(r["type"], r["from_door"]) for r in queue] == [("closed", False), ("locked", True)]
