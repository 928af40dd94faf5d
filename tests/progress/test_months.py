"""Closing a month: its figures are published for the region and its children and stay as published; a site's
opened_on back-dated afterwards shows as the revised figure beside the published one."""

import datetime as dt

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from app.china_time import today
from app.keys import service as keys
from tests.progress.conftest import BINZHOU, HUIMIN, add_site, headers, serving_count

OCTOBER = {"from": "2026-10-01", "to": "2026-11-30", "kind": "legal_aid"}


async def test_published_figures_stay_and_the_revised_ones_show_beside_them(
    client: httpx.AsyncClient, conn: asyncpg.Connection, writer: dict[str, str], planner: dict[str, str]
) -> None:
    late = await add_site(
        client, writer, name="惠民县石庙镇职工法律援助站", lon=117.5, lat=37.3, opened_on="2026-11-20"
    )
    october_count = await serving_count(conn, HUIMIN, "legal_aid", dt.date(2026, 10, 31))
    closed = await client.post(f"/v1/progress/{BINZHOU}/months/2026-10", params={"kind": "legal_aid"}, headers=planner)
    assert closed.status_code == 201, closed.text
    published = {i["region"]: i for i in closed.json()["items"]}
    assert published[HUIMIN]["site_count"] == october_count
    assert len(published) == 8  # the city and its seven counties
    assert closed.json()["published_by"] == "滨州市总工会"
    city_before = (await client.get(f"/v1/progress/{BINZHOU}", params=OCTOBER)).json()["periods"][0]

    # The register is corrected: the site had in fact opened in October.
    r = await client.patch(
        f"/v1/sites/{late['id']}", json={"opened_on": "2026-10-05"}, headers={**writer, "If-Match": late["etag"]}
    )
    assert r.status_code == 200, r.text
    assert await serving_count(conn, HUIMIN, "legal_aid", dt.date(2026, 10, 31)) == october_count + 1

    october, november = (await client.get(f"/v1/progress/{HUIMIN}", params=OCTOBER)).json()["periods"]
    assert october["site_count"] == october_count  # as published
    assert october["published_at"] is not None
    assert october["revised"]["site_count"] == october_count + 1
    as_of = (
        await client.get(f"/v1/coverage/regions/{HUIMIN}", params={"kind": "legal_aid", "as_of": "2026-10-31"})
    ).json()
    assert october["revised"]["covered_area_share"] == as_of["covered_area_share"]
    # November was never closed: the register's figures, nothing beside them.
    assert (november["published_at"], november["revised"]) == (None, None)
    assert november["site_count"] == await serving_count(conn, HUIMIN, "legal_aid", dt.date(2026, 11, 30))
    city = (await client.get(f"/v1/progress/{BINZHOU}", params=OCTOBER)).json()["periods"][0]
    assert city["site_count"] == city_before["site_count"]
    assert city["revised"]["site_count"] == city_before["site_count"] + 1

    # Closed once: closing it again changes nothing.
    again = await client.post(f"/v1/progress/{BINZHOU}/months/2026-10", params={"kind": "legal_aid"}, headers=planner)
    assert again.status_code == 409
    children = (await client.get(f"/v1/progress/{BINZHOU}/children", params=OCTOBER)).json()["items"]
    huimin = next(i for i in children if i["region"] == HUIMIN)
    assert huimin["periods"][0]["site_count"] == october_count


async def test_a_month_is_closed_only_when_it_has_ended_and_by_a_planner_of_the_region(
    client: httpx.AsyncClient, sa_conn: AsyncConnection, planner: dict[str, str], writer: dict[str, str]
) -> None:
    this_month = today().strftime("%Y-%m")
    running = await client.post(f"/v1/progress/{BINZHOU}/months/{this_month}", headers=planner)
    assert running.status_code == 422
    assert running.json()["errors"][0]["field"] == "month"
    assert (await client.post(f"/v1/progress/{BINZHOU}/months/2026-13", headers=planner)).status_code == 422
    assert (await client.post(f"/v1/progress/{BINZHOU}/months/2026-10", headers=writer)).status_code == 403
    county = headers(await keys.create(sa_conn, "惠民县总工会", ["plan"], HUIMIN))
    outside = await client.post(f"/v1/progress/{BINZHOU}/months/2026-10", headers=county)
    assert outside.status_code == 403
    assert outside.json()["errors"][0]["field"] == "adcode"
    assert (await client.post(f"/v1/progress/{HUIMIN}/months/2026-10", headers=county)).status_code == 201
    assert (await client.post("/v1/progress/999999/months/2026-10", headers=planner)).status_code == 404
