"""A site is in the register on a China date until the China date it was deleted on, whatever the database
session's time zone (app.sites.repository.in_register_on, which serving_on and so coverage and usage read)."""

import datetime as dt

import asyncpg
import pytest

from app.china_time import CHINA
from app.sites.repository import in_register_on

# 03:00 China time on 25 September is still the 24th in UTC.
DELETED_AT = dt.datetime(2026, 9, 25, 3, 0, tzinfo=CHINA)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai", "America/Los_Angeles"])
async def test_a_site_deleted_early_in_a_china_morning_leaves_the_register_that_china_day(
    conn: asyncpg.Connection, zone: str
) -> None:
    site = await conn.fetchval(
        "INSERT INTO sites (kind, name, location, source, external_id, deleted_at) "
        "VALUES ('legal_aid', 'deleted early', ST_SetSRID(ST_MakePoint(117.97, 37.38), 4326)::geography, "
        "'tz-test', 'early', $1) RETURNING id",
        DELETED_AT,
    )
    await conn.execute(f"SET LOCAL TimeZone = '{zone}'")
    held = f"SELECT EXISTS (SELECT FROM sites s WHERE s.id = $1 AND {in_register_on('$2::date')})"
    assert await conn.fetchval(held, site, dt.date(2026, 9, 24)) is True
    assert await conn.fetchval(held, site, dt.date(2026, 9, 25)) is False
