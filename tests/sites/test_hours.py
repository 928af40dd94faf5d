"""Opening hours at fixed instants, checked by hand: overnight spans, 24/7, rosters, holidays, 调休, errors."""

import datetime as dt
import random

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app import geo
from app.keys import service as keys
from app.sites import hours
from app.sites.open_hours import OpenHoursIndex

CN = hours.CHINA


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=CN)


@pytest.mark.parametrize(
    ("expression", "instant", "open_now", "change"),
    [
        # An ordinary Monday (2026-11-23) at an office with a lunch break.
        ("Mo-Fr 08:30-12:00,13:30-17:30; PH off", at(2026, 11, 23, 9, 0), True, at(2026, 11, 23, 12, 0)),
        ("Mo-Fr 08:30-12:00,13:30-17:30; PH off", at(2026, 11, 23, 12, 30), False, at(2026, 11, 23, 13, 30)),
        # Friday evening: next opening is Monday morning.
        ("Mo-Fr 08:30-12:00,13:30-17:30; PH off", at(2026, 11, 27, 18, 0), False, at(2026, 11, 30, 8, 30)),
        # National Day (2026-10-01, Thursday) is an official holiday: PH off, closed until the 8th.
        ("Mo-Fr 08:30-12:00,13:30-17:30; PH off", at(2026, 10, 1, 10, 0), False, at(2026, 10, 8, 8, 30)),
        # Saturday 2026-10-10 is a make-up working day (调休): open as on a working day.
        ("Mo-Fr 08:30-12:00,13:30-17:30; PH off", at(2026, 10, 10, 10, 0), True, at(2026, 10, 10, 12, 0)),
        # An ordinary Saturday is not.
        ("Mo-Fr 08:30-17:30", at(2026, 11, 21, 10, 0), False, at(2026, 11, 23, 8, 30)),
        # Holiday hours of their own.
        ("Mo-Su 08:00-20:00; PH 10:00-16:00", at(2026, 10, 2, 9, 0), False, at(2026, 10, 2, 10, 0)),
        ("Mo-Su 08:00-20:00; PH 10:00-16:00", at(2026, 10, 2, 17, 0), False, at(2026, 10, 3, 10, 0)),
        # Without a PH rule a holiday follows the weekday rules.
        ("Mo-Su 07:00-21:00", at(2026, 10, 1, 8, 0), True, at(2026, 10, 1, 21, 0)),
        # Overnight spans cross midnight.
        ("Mo-Su 20:00-02:00", at(2026, 11, 23, 1, 0), True, at(2026, 11, 23, 2, 0)),
        ("Mo-Su 20:00-02:00", at(2026, 11, 23, 23, 30), True, at(2026, 11, 24, 2, 0)),
        ("Mo-Su 20:00-02:00", at(2026, 11, 23, 3, 0), False, at(2026, 11, 23, 20, 0)),
        # Always open: no closing within the week.
        ("24/7", at(2026, 10, 1, 3, 0), True, None),
        # A lawyer's duty roster: Fridays 15:00-18:00.
        ("Fr 15:00-18:00", at(2026, 11, 23, 10, 0), False, at(2026, 11, 27, 15, 0)),
        ("Fr 15:00-18:00", at(2026, 11, 27, 16, 0), True, at(2026, 11, 27, 18, 0)),
        # Exceptions by date: closed for repairs.
        ("Mo-Su 08:00-20:00; 2026 Nov 23-24 off", at(2026, 11, 23, 10, 0), False, at(2026, 11, 25, 8, 0)),
    ],
)
def test_status_at_fixed_instants(
    expression: str, instant: dt.datetime, open_now: bool, change: dt.datetime | None
) -> None:
    status = hours.status(expression, instant)
    assert status.open_now is open_now
    assert (status.closes_at if open_now else status.opens_at) == change


def test_no_daylight_saving_and_any_input_zone() -> None:
    # 09:00 UTC is 17:00 in China all year round (no DST): the same answer in January and July.
    for month in (1, 7):
        instant = dt.datetime(2026, month, 5, 9, 0, tzinfo=dt.UTC)  # a Monday in January, a Sunday in July
        expected = instant.astimezone(CN).weekday() < 5
        assert hours.status("Mo-Fr 08:00-17:30", instant).open_now is expected


def test_a_status_reused_within_its_minute_is_the_status_at_that_instant() -> None:
    # Answers are reused for the rest of the minute (or until the next change): the last second before closing
    # and the closing instant itself must still differ, and random instants must match a fresh evaluation.
    assert hours.status("Mo-Fr 08:30-17:30", dt.datetime(2026, 11, 23, 17, 29, 1)).open_now
    assert hours.status("Mo-Fr 08:30-17:30", dt.datetime(2026, 11, 23, 17, 29, 59, 999999)).open_now
    assert not hours.status("Mo-Fr 08:30-17:30", dt.datetime(2026, 11, 23, 17, 30)).open_now
    rng = random.Random(5)
    expressions = ["Mo-Fr 08:30-17:30; PH off", "Mo-Su 20:00-02:00", "24/7", "Fr 15:00-18:00", "Mo-Su 08:00-20:00"]
    start = dt.datetime(2026, 1, 1)
    for _ in range(3000):
        instant = start + dt.timedelta(seconds=rng.randrange(365 * 86400))
        instant = instant.replace(second=rng.choice([0, 1, 59, rng.randrange(60)]))
        for expression in rng.sample(expressions, 2):
            assert hours.status(expression, instant) == hours._status_at(expression, instant), (expression, instant)


def test_calendar_days() -> None:
    assert hours.day_kind(dt.date(2026, 10, 1)) == "holiday"
    assert hours.day_kind(dt.date(2026, 10, 10)) == "makeup_workday"
    assert hours.day_kind(dt.date(2026, 11, 21)) == "ordinary"
    assert hours.day_kind(dt.date(2031, 10, 1)) == "ordinary"  # no arrangement published: an ordinary day


async def test_an_invalid_opening_hours_string_is_refused(client: httpx.AsyncClient, sa_conn: AsyncConnection) -> None:
    key = await keys.create(sa_conn, "t", ["write"], None)
    r = await client.post(
        "/v1/sites",
        json={"kind": "outdoor_station", "name": "驿站", "lat": 37.38, "lon": 117.97, "opening_hours": "Mo-Fr 9 to 5"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "opening_hours"


async def test_nearest_open_now_at_fixed_instants(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    """Three sites at one spot with known hours; the answer at fixed instants is checked by hand."""
    lon, lat = 100.0, 45.0  # far from the demo data
    for name, expression, offset in [
        ("office", "Mo-Fr 08:30-17:30; PH off", 0.0001),
        ("night", "Mo-Su 20:00-02:00", 0.0002),
        ("always", "24/7", 0.0003),
    ]:
        await conn.execute(
            "INSERT INTO sites (kind, name, location, source, external_id, opening_hours, access) VALUES "
            "('outdoor_station', $1, ST_SetSRID(ST_MakePoint($2, $3), 4326)::geography, 'test', $1, $4, 'qr_code')",
            name,
            lon + offset,
            lat,
            expression,
        )

    async def ask(instant: str, **params: object) -> list[dict]:
        query = {"lat": lat, "lon": lon, "limit": 3, "at": instant, **params}
        return (await client.get("/v1/sites/nearest", params=query)).json()["items"]

    monday_10 = "2026-11-23T10:00:00+08:00"
    items = await ask(monday_10)
    assert [(i["name"], i["open_now"]) for i in items] == [("office", True), ("night", False), ("always", True)]
    assert items[0]["closes_at"] == "2026-11-23T17:30:00+08:00" and items[1]["opens_at"] == "2026-11-23T20:00:00+08:00"
    assert items[0]["access"] == "qr_code"
    assert [i["name"] for i in await ask(monday_10, open_now="true")] == ["office", "always"]
    assert [i["name"] for i in await ask("2026-10-01T23:00:00+08:00", open_now="true")] == ["night", "always"]
    assert [i["name"] for i in await ask("2026-11-23T23:00:00", open_now="false")] == ["office"]  # naive = China time
    link = items[0]["links"]
    gcj = geo.from_wgs84(lon + 0.0001, lat, "gcj02")
    assert link["geo"] == f"geo:{lat:.6f},{lon + 0.0001:.6f}"
    assert f"position={gcj[0]:.6f},{gcj[1]:.6f}" in link["amap"]


async def test_the_open_now_pre_filter_follows_the_hours(conn: asyncpg.Connection) -> None:
    """The bit string the database filters by: bit i set exactly when expression i is open (or closed) then."""
    for expression in ("Mo-Fr 08:30-17:30; PH off", "Mo-Su 20:00-02:00", "24/7", "Tu 09:00-09:30"):
        await conn.execute(
            "INSERT INTO sites (kind, name, location, source, external_id, opening_hours) VALUES "
            "('outdoor_station', $1, 'POINT(100 45)', 'test', $1, $1)",
            expression,
        )
    numbered = {
        r["expression"]: r["id"] for r in await conn.fetch("SELECT id, expression FROM opening_hours_expressions")
    }
    ids = await conn.fetch("SELECT opening_hours, opening_hours_id FROM sites WHERE source = 'test'")
    assert all(numbered[r["opening_hours"]] == r["opening_hours_id"] for r in ids)
    index = OpenHoursIndex()
    for instant in (
        dt.datetime(2026, 11, 23, 10, 0),
        dt.datetime(2026, 10, 1, 23, 59),
        dt.datetime(2026, 11, 24, 9, 15),
    ):
        for wanted in (True, False):
            bits = (await index.bits(conn, instant, wanted)).as_string().replace(" ", "")
            for expression, i in numbered.items():
                assert (bits[i] == "1") is (hours.status(expression, instant).open_now is wanted), (expression, instant)
    # Numbering follows edits; clearing the hours clears it; equal strings share a number.
    await conn.execute("UPDATE sites SET opening_hours = '24/7' WHERE external_id = 'Tu 09:00-09:30'")
    assert (
        await conn.fetchval("SELECT opening_hours_id FROM sites WHERE external_id = 'Tu 09:00-09:30'")
        == numbered["24/7"]
    )
    await conn.execute("UPDATE sites SET opening_hours = NULL WHERE external_id = '24/7'")
    assert await conn.fetchval("SELECT opening_hours_id FROM sites WHERE external_id = '24/7'") is None


async def test_hours_added_after_the_pre_filter_was_made_are_still_found(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    at = "2026-11-23T10:00:00+08:00"
    params = {"lat": 45.0, "lon": 100.0, "limit": 5, "at": at, "open_now": "true"}
    assert (await client.get("/v1/sites/nearest", params=params)).json()["items"] == []  # the index is loaded now
    await conn.execute(
        "INSERT INTO sites (kind, name, location, source, external_id, opening_hours) VALUES "
        "('outdoor_station', 'new hours', 'POINT(100.0001 45)', 'test', 'new', 'Mo 09:59-10:01'), "
        "('outdoor_station', 'closed now', 'POINT(100.0002 45)', 'test', 'closed', 'Mo 10:01-10:02')"
    )
    assert [i["name"] for i in (await client.get("/v1/sites/nearest", params=params)).json()["items"]] == ["new hours"]
