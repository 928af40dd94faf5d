"""The register moved through the second half of 2026 in 惠民县, and the keys that write it and plan."""

import datetime as dt
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.keys import service as keys

BINZHOU, HUIMIN = "371600", "371621"
# Legal-aid points opened and closed on dates in 惠民县: (name, lon, lat, opened_on, closed_on).
MOVES = [
    ("惠民县皂户李镇职工法律援助站", 117.62, 37.25, "2026-07-10", None),
    ("惠民县桑落墅镇职工法律援助站", 117.72, 37.50, "2026-08-20", None),
    ("惠民县淄角镇职工法律援助站", 117.45, 37.40, "2026-06-05", "2026-09-15"),
]


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def writer(sa_conn: AsyncConnection) -> dict[str, str]:
    return headers(await keys.create(sa_conn, "滨州市职工法律援助登记", ["write"], None))


@pytest.fixture
async def planner(sa_conn: AsyncConnection) -> dict[str, str]:
    return headers(await keys.create(sa_conn, "滨州市总工会", ["plan"], "3716"))


async def add_site(client: httpx.AsyncClient, writer: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"kind": "legal_aid", "source": "test-moves", "external_id": fields["name"], **fields}
    r = await client.post("/v1/sites", json=body, headers=writer)
    assert r.status_code == 201, r.text
    return {**r.json(), "etag": r.headers["etag"]}


@pytest.fixture
async def moved(client: httpx.AsyncClient, writer: dict[str, str]) -> list[dict[str, Any]]:
    """The sites of MOVES, written through the API."""
    added = []
    for name, lon, lat, opened_on, closed_on in MOVES:
        status = {"status": "closed", "closed_on": closed_on} if closed_on else {}
        added.append(await add_site(client, writer, name=name, lon=lon, lat=lat, opened_on=opened_on, **status))
    return added


async def serving_count(conn: asyncpg.Connection, adcode: str, kind: str, on: dt.date) -> int:
    """Sites of the kind serving in the region (or below it) on a past date, counted here from the table."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM sites WHERE kind = $1 AND starts_with(region_adcode, $2) AND deleted_at IS NULL "
        "AND (opened_on IS NULL OR opened_on <= $3) AND (closed_on IS NULL OR closed_on > $3)",
        kind,
        adcode.rstrip("0") if adcode.endswith("00") else adcode,
        on,
    )
    return count
