"""Inspections: the star level rule checked against arithmetic done here, lowered while complaints are overdue, the
inspections due on given dates, a failed inspection suspending the site, and an inspector held to its region."""

import datetime as dt
import secrets

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app import china_time
from app.keys import service as keys

BINCHENG = "371602"  # 滨城区
HUIMIN = "371621"  # 惠民县
DIMENSIONS = ("hardware", "equipment", "signage", "rules", "funding", "use", "activities")


def scores(*values: int) -> dict[str, int]:
    return dict(zip(DIMENSIONS, values, strict=True))


@pytest.fixture
async def inspector(sa_conn: AsyncConnection) -> dict[str, str]:
    return {"Authorization": f"Bearer {await keys.create(sa_conn, '滨城区检查组', ['inspect'], BINCHENG)}"}


@pytest.fixture
async def site(conn: asyncpg.Connection) -> int:
    return int(
        await conn.fetchval(
            "SELECT id FROM sites WHERE region_adcode = $1 AND deleted_at IS NULL AND status = 'active' "
            "ORDER BY id LIMIT 1",
            BINCHENG,
        )
    )


async def inspect(client: httpx.AsyncClient, site_id: int, key: dict[str, str], **body: object) -> httpx.Response:
    payload = {"unannounced": True, "inspector": "王检查", "scores": scores(80, 80, 80, 80, 80, 80, 80), **body}
    return await client.post(f"/v1/sites/{site_id}/inspections", json=payload, headers=key)


async def standing(client: httpx.AsyncClient, site_id: int) -> dict:
    return (await client.get(f"/v1/sites/{site_id}/inspections")).json()["standing"]


@pytest.mark.parametrize(
    "values",
    [
        (95, 90, 88, 92, 85, 91, 89),  # 90.0
        (95, 90, 88, 92, 85, 91, 88),  # 89.86
        (70, 70, 70, 70, 70, 70, 69),
        (60, 60, 60, 60, 60, 60, 60),
        (100, 100, 100, 100, 100, 100, 39),  # a good total, one dimension under 40: fails
        (0, 10, 20, 30, 40, 50, 60),
    ],
)
async def test_the_level_and_pass_follow_the_documented_rule(
    client: httpx.AsyncClient, site: int, inspector: dict[str, str], values: tuple[int, ...]
) -> None:
    mean = sum(values) / 7
    expected = 5 if mean >= 90 else 4 if mean >= 80 else 3 if mean >= 70 else 2 if mean >= 60 else 1
    answer = await inspect(client, site, inspector, scores=scores(*values))
    assert answer.status_code == 201
    body = answer.json()
    assert body["level"] == expected and body["total"] == pytest.approx(mean, abs=0.05)
    assert body["passed"] == (mean >= 60 and min(values) >= 40)
    assert (await standing(client, site))["star_level"] == expected


async def test_the_latest_inspection_sets_the_level_and_overdue_complaints_lower_it(
    client: httpx.AsyncClient, conn: asyncpg.Connection, site: int, inspector: dict[str, str]
) -> None:
    assert (await standing(client, site))["star_level"] is None  # never inspected
    today = china_time.today()
    await inspect(client, site, inspector, scores=scores(*[95] * 7), inspected_on=str(today - dt.timedelta(days=40)))
    await inspect(client, site, inspector, scores=scores(*[85] * 7), inspected_on=str(today - dt.timedelta(days=2)))
    assert (await standing(client, site))["star_level"] == 4
    # A bad rating opens a call-back due in 3 days: not overdue yet.
    token = secrets.token_urlsafe(16)
    await conn.execute("INSERT INTO site_door_tokens (site_id, token) VALUES ($1, $2)", site, token)
    rated = await client.post(f"/v1/sites/{site}/ratings", json={"token": token, "stars": 1})
    callback = rated.json()["callback"]
    assert (await standing(client, site))["star_level"] == 4
    await conn.execute(
        "UPDATE site_callbacks SET due_on = $2 WHERE id = $1", callback["id"], today - dt.timedelta(days=1)
    )
    got = await standing(client, site)
    assert (got["star_level"], got["inspected_level"], got["lowered"]) == (3, 4, True)
    await conn.execute("UPDATE site_callbacks SET status = 'resolved' WHERE id = $1", callback["id"])
    assert (await standing(client, site))["star_level"] == 4
    # A worker's report open past its due date (filed 4 days ago, due after 3) lowers it too; one filed 3 days ago
    # is due today, not overdue.
    report = await conn.fetchval(
        "INSERT INTO site_reports (site_id, type, client, created_at) VALUES ($1, 'locked', 'x', $2) RETURNING id",
        site,
        dt.datetime.combine(today - dt.timedelta(days=3), dt.time(0, 1), china_time.CHINA),
    )
    assert (await standing(client, site))["star_level"] == 4
    await conn.execute(
        "UPDATE site_reports SET created_at = $2 WHERE id = $1",
        report,
        dt.datetime.combine(today - dt.timedelta(days=4), dt.time(23, 59), china_time.CHINA),
    )
    assert (await standing(client, site))["star_level"] == 3
    # Never below one star.
    await inspect(client, site, inspector, scores=scores(*[10] * 7))
    assert (await standing(client, site))["star_level"] == 1


async def test_changes_of_the_star_level_are_entries_of_the_change_feed(
    client: httpx.AsyncClient, conn: asyncpg.Connection, site: int, inspector: dict[str, str], sa_conn: AsyncConnection
) -> None:
    """Each inspection or resolved call-back that changes the star level writes an 'updated' entry at the site's
    own version, the register's record the same before and after; one that leaves it does not."""

    async def entries() -> list[tuple[str, int, str, bool]]:
        rows = await conn.fetch(
            "SELECT action, version, actor, before = after AS same FROM site_changes "
            "WHERE site_id = $1 AND txid = pg_current_xact_id() ORDER BY id",
            site,
        )
        return [tuple(r) for r in rows]

    version = await conn.fetchval("SELECT version FROM sites WHERE id = $1", site)
    today = china_time.today()
    await inspect(client, site, inspector, scores=scores(*[85] * 7), inspected_on=str(today - dt.timedelta(days=2)))
    assert await entries() == [("updated", version, "滨城区检查组", True)]  # none → 4 stars
    # An older inspection leaves the latest's level: no entry.
    await inspect(client, site, inspector, scores=scores(*[95] * 7), inspected_on=str(today - dt.timedelta(days=9)))
    assert len(await entries()) == 1
    # The whole test is one transaction, which writes one entry a site at most: clear it to see the next.
    await conn.execute("DELETE FROM site_changes WHERE site_id = $1", site)
    token = secrets.token_urlsafe(16)
    await conn.execute("INSERT INTO site_door_tokens (site_id, token) VALUES ($1, $2)", site, token)
    rated = await client.post(f"/v1/sites/{site}/ratings", json={"token": token, "stars": 1})
    assert await entries() == [("updated", version, "door:rating", True)]  # the rating's mean and count
    await conn.execute("DELETE FROM site_changes WHERE site_id = $1", site)
    callback = rated.json()["callback"]
    await conn.execute("UPDATE site_callbacks SET due_on = $2 WHERE id = $1", callback["id"], today - dt.timedelta(1))
    assert (await standing(client, site))["star_level"] == 3  # lowered while overdue
    operator = {"Authorization": f"Bearer {await keys.create(sa_conn, '滨城区总工会', ['write'], BINCHENG)}"}
    resolved = await client.patch(f"/v1/callbacks/{callback['id']}", json={"outcome": "已回访"}, headers=operator)
    assert resolved.status_code == 200
    assert (await standing(client, site))["star_level"] == 4
    assert await entries() == [("updated", version, "滨城区总工会", True)]
    assert await conn.fetchval("SELECT version FROM sites WHERE id = $1", site) == version


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    last = [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return dt.date(year, month, min(day.day, last[month - 1]))


async def test_inspections_due_on_given_dates_follow_each_regions_interval(
    client: httpx.AsyncClient, conn: asyncpg.Connection, inspector: dict[str, str], sa_conn: AsyncConnection
) -> None:
    await conn.execute("INSERT INTO region_station_rules (adcode, inspection_interval_months) VALUES ($1, 3)", BINCHENG)
    rows = await conn.fetch(
        "SELECT id, status FROM sites WHERE region_adcode = $1 AND deleted_at IS NULL ORDER BY id", BINCHENG
    )
    a, b = rows[0]["id"], rows[1]["id"]
    await inspect(client, a, inspector, inspected_on="2026-06-01")
    await inspect(client, b, inspector, inspected_on="2026-10-01")
    last = {a: dt.date(2026, 6, 1), b: dt.date(2026, 10, 1)}
    for on in (dt.date(2026, 9, 1), dt.date(2026, 9, 2), dt.date(2027, 1, 2)):
        answer = await client.get(
            "/v1/inspections/due", params={"region": BINCHENG, "on": on.isoformat()}, headers=inspector
        )
        assert answer.status_code == 200
        expected = {
            r["id"]
            for r in rows
            if r["status"] != "closed" and (r["id"] not in last or add_months(last[r["id"]], 3) < on)
        }
        items = answer.json()["items"]
        assert {i["site_id"] for i in items} == expected, on
        assert all(i["interval_months"] == 3 for i in items)
        if a in expected:
            assert next(i for i in items if i["site_id"] == a)["due_on"] == "2026-09-01"
    # Huimin follows the default of 6 months; the city's list holds both counties' sites.
    city = await client.get(
        "/v1/inspections/due",
        params={"region": "371600", "on": "2026-09-02"},
        headers={"Authorization": f"Bearer {await keys.create(sa_conn, '市检查组', ['inspect'], '3716')}"},
    )
    huimin = [i for i in city.json()["items"] if i["region_adcode"] == HUIMIN]
    assert huimin and all(i["interval_months"] == 6 for i in huimin)
    assert (await client.get("/v1/inspections/due", params={"region": HUIMIN}, headers=inspector)).status_code == 403


async def test_a_failed_inspection_suspends_the_site_with_its_reason(
    client: httpx.AsyncClient, conn: asyncpg.Connection, site: int, inspector: dict[str, str]
) -> None:
    passing = await inspect(client, site, inspector, suspend=True, suspension_reason="想关")
    assert passing.status_code == 422 and passing.json()["errors"][0]["field"] == "suspend"
    failed = await inspect(
        client,
        site,
        inspector,
        scores=scores(30, 40, 20, 10, 50, 5, 0),
        suspend=True,
        suspension_reason="暗访发现长期锁门",
    )
    assert failed.status_code == 201 and failed.json()["suspended"] and not failed.json()["passed"]
    assert (await client.get(f"/v1/sites/{site}")).json()["status"] == "suspended"
    kept = await conn.fetchval("SELECT suspension_reason FROM site_inspections WHERE id = $1", failed.json()["id"])
    assert kept == "暗访发现长期锁门"
    changes = await conn.fetchval(
        "SELECT count(*) FROM site_changes WHERE site_id = $1 AND actor = '滨城区检查组'", site
    )
    assert changes == 1  # through the register's write path: in the history and the change feed


async def test_an_inspector_is_held_to_its_scope_and_region_and_nothing_is_stored(
    client: httpx.AsyncClient, conn: asyncpg.Connection, sa_conn: AsyncConnection, site: int
) -> None:
    other_county = {"Authorization": f"Bearer {await keys.create(sa_conn, '惠民县检查组', ['inspect'], HUIMIN)}"}
    writer = {"Authorization": f"Bearer {await keys.create(sa_conn, '滨城区总工会', ['write'], BINCHENG)}"}
    inspector = {"Authorization": f"Bearer {await keys.create(sa_conn, '滨城区检查组', ['inspect'], BINCHENG)}"}
    refused = await inspect(client, site, other_county)
    assert refused.status_code == 403 and BINCHENG in refused.json()["detail"]
    assert (await inspect(client, site, writer)).status_code == 403
    assert (await inspect(client, site, {})).status_code == 401
    for body, field in (
        ({"scores": scores(101, 80, 80, 80, 80, 80, 80)}, "scores.hardware"),
        ({"scores": scores(-1, 80, 80, 80, 80, 80, 80)}, "scores.hardware"),
        ({"scores": {"hardware": 80}}, "scores.equipment"),
        ({"inspected_on": str(china_time.today() + dt.timedelta(days=1))}, "inspected_on"),
        ({"photo_urls": ["javascript:alert(1)"]}, "photo_urls.0"),
        ({"inspector": ""}, "inspector"),
    ):
        answer = await inspect(client, site, inspector, **body)
        assert answer.status_code == 422, body
        assert answer.json()["errors"][0]["field"] == field, answer.json()
    assert await conn.fetchval("SELECT count(*) FROM site_inspections WHERE site_id = $1", site) == 0
