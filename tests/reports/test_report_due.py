"""Workers' reports are due as call-backs are: 3 days after they were filed (China date); the overdue list on a
given date holds exactly the open ones past it."""

import datetime as dt

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from app import china_time
from app.keys import service as keys

BINCHENG = "371602"


async def test_reports_have_due_dates_and_an_overdue_list(
    client: httpx.AsyncClient, conn: asyncpg.Connection, sa_conn: AsyncConnection
) -> None:
    sites = [
        r["id"]
        for r in await conn.fetch(
            "SELECT id FROM sites WHERE region_adcode = $1 AND deleted_at IS NULL ORDER BY id LIMIT 3", BINCHENG
        )
    ]
    filed = [
        dt.datetime(2026, 9, 10, 23, 30, tzinfo=china_time.CHINA),
        dt.datetime(2026, 9, 12, 0, 10, tzinfo=china_time.CHINA),
    ]
    ids = []
    for site_id, at in zip(sites, filed, strict=False):
        ids.append(
            await conn.fetchval(
                "INSERT INTO site_reports (site_id, type, client, created_at) VALUES ($1, 'locked', 'c', $2) "
                "RETURNING id",
                site_id,
                at,
            )
        )
    key = {"Authorization": f"Bearer {await keys.create(sa_conn, '滨城区总工会', ['write'], BINCHENG)}"}
    listed = {r["id"]: r for r in (await client.get("/v1/reports", headers=key)).json()["items"]}
    assert [listed[i]["due_on"] for i in ids] == ["2026-09-13", "2026-09-15"]
    for on, expected in (("2026-09-13", set()), ("2026-09-14", {ids[0]}), ("2026-09-16", set(ids))):
        overdue = (await client.get("/v1/reports", params={"overdue_on": on}, headers=key)).json()["items"]
        assert {r["id"] for r in overdue} & set(ids) == expected, on
