"""A site as a worker sees it (app.sites.worker_view): GET /v1/sites/{id} says what the nearest answer says of the
site — open now, the next change, trust, links — at the same instant, and its ETag follows what it says."""

import datetime as dt
import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app import china_time
from app.keys import service as keys
from tests.reference import GEOD

WORKER_MEMBERS = ("open_now", "opens_at", "closes_at", "trust", "links")
CHINA = dt.timezone(dt.timedelta(hours=8))
# In China (so GCJ-02 shifts it) and far from the demo register: a nearest search there finds only these sites.
LON, LAT = 91.1, 29.65
# name: (opening hours, status, metres east of the spot)
SITES = {
    "office": ("Mo-Fr 08:30-17:30; PH off", "active", 10),
    "night": ("Mo-Su 20:00-02:00", "active", 20),
    "always": ("24/7", "active", 30),
    "no hours": (None, "active", 40),
    "suspended": ("24/7", "suspended", 50),
}
MONDAY_10 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=CHINA)
INSTANTS = [
    MONDAY_10,
    dt.datetime(2026, 11, 23, 23, 0, tzinfo=CHINA),  # office closed, night open
    dt.datetime(2026, 10, 1, 10, 0, tzinfo=CHINA),  # National Day, a Thursday: PH off
    dt.datetime(2026, 11, 23, 17, 29, 59, tzinfo=CHINA),  # a second before the office closes
]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dt.datetime]]:
    """The service's clock, pinned: set `clock[0]` to the instant it should read."""
    pinned = [MONDAY_10]
    monkeypatch.setattr(china_time, "_utc_now", lambda: pinned[0].astimezone(dt.UTC))
    yield pinned


@pytest.fixture
async def sites(client: httpx.AsyncClient, sa_conn: AsyncConnection) -> dict[str, int]:
    """The SITES, written as a partner writes them; the office verified yesterday, the night one reported locked."""
    auth = {"Authorization": f"Bearer {await keys.create(sa_conn, 'test', ['read', 'write'], None)}"}
    made = {}
    for name, (hours, status, east_m) in SITES.items():
        lon, lat, _ = GEOD.fwd(LON, LAT, 90, east_m)
        body = {"kind": "outdoor_station", "name": name, "lat": lat, "lon": lon, "status": status}
        if hours is not None:
            body["opening_hours"] = hours
        if name == "office":
            body["last_verified_at"] = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
        r = await client.post("/v1/sites", json=body, headers=auth)
        assert r.status_code == 201, r.text
        made[name] = r.json()["id"]
    assert (await client.post(f"/v1/sites/{made['night']}/reports", json={"type": "locked"})).status_code == 201
    return made


@pytest.mark.parametrize("instant", INSTANTS, ids=lambda i: i.isoformat())
@pytest.mark.parametrize("coordsys", ["wgs84", "gcj02"])
async def test_nearest_and_the_site_agree_at_the_same_instant(
    client: httpx.AsyncClient, sites: dict[str, int], clock: list[dt.datetime], instant: dt.datetime, coordsys: str
) -> None:
    clock[0] = instant  # both answers read this clock: the same instant, whenever each request runs
    params = {"lat": LAT, "lon": LON, "max_distance_m": 1000, "limit": 10, "coordsys": coordsys}
    near = await client.get("/v1/sites/nearest", params=params)
    assert near.status_code == 200
    items = near.json()["items"]
    assert sorted(i["id"] for i in items) == sorted(sites[n] for n in SITES if SITES[n][1] == "active")
    for item in items:
        one = await client.get(f"/v1/sites/{item['id']}", params={"coordsys": coordsys})
        assert one.status_code == 200
        site = one.json()
        assert {m: site[m] for m in (*WORKER_MEMBERS, "lat", "lon")} == {
            m: item[m] for m in (*WORKER_MEMBERS, "lat", "lon")
        }, item["name"]


async def test_the_open_status_changes_between_the_instants_compared(
    client: httpx.AsyncClient, sites: dict[str, int], clock: list[dt.datetime]
) -> None:
    # So that the comparison above is not of answers that could not differ.
    seen = set()
    for instant in INSTANTS:
        clock[0] = instant
        states = []
        for name in ("office", "night"):
            states.append((await client.get(f"/v1/sites/{sites[name]}")).json()["open_now"])
        seen.add(tuple(states))
    assert seen == {(True, False), (False, True), (False, False)}


async def test_a_site_open_closed_and_without_hours(
    client: httpx.AsyncClient, sites: dict[str, int], clock: list[dt.datetime]
) -> None:
    clock[0] = MONDAY_10
    answers = {name: (await client.get(f"/v1/sites/{site_id}")).json() for name, site_id in sites.items()}
    status = {name: tuple(a[m] for m in ("open_now", "opens_at", "closes_at")) for name, a in answers.items()}
    assert status == {
        "office": (True, None, "2026-11-23T17:30:00+08:00"),
        "night": (False, "2026-11-23T20:00:00+08:00", None),
        "always": (True, None, None),  # 24/7: no closing within the week
        "no hours": (None, None, None),
        "suspended": (False, None, None),  # open all hours, but not serving
    }
    assert answers["office"]["trust"] == []
    assert answers["night"]["trust"] == ["reported_access_problem", "not_verified_recently"]
    assert answers["no hours"]["trust"] == ["not_verified_recently"]
    # The record is all there beside them.
    assert answers["suspended"]["status"] == "suspended" and answers["office"]["opening_hours"] == SITES["office"][0]


async def test_the_links_carry_the_point_in_each_maps_datum(
    client: httpx.AsyncClient, sites: dict[str, int], clock: list[dt.datetime]
) -> None:
    wgs = (await client.get(f"/v1/sites/{sites['office']}")).json()
    gcj = (await client.get(f"/v1/sites/{sites['office']}", params={"coordsys": "gcj02"})).json()
    assert wgs["links"] == gcj["links"]
    assert wgs["links"]["geo"] == f"geo:{wgs['lat']:.6f},{wgs['lon']:.6f}"
    amap = re.fullmatch(
        r"https://uri\.amap\.com/marker\?position=([\d.]+),([\d.]+)&coordinate=gaode&callnative=1",
        wgs["links"]["amap"],
    )
    assert amap is not None
    amap_lon, amap_lat = float(amap[1]), float(amap[2])
    assert (amap_lon, amap_lat) == (round(gcj["lon"], 6), round(gcj["lat"], 6))
    # GCJ-02 moves a point in Tibet a few hundred metres from WGS-84.
    shift_m = GEOD.inv(wgs["lon"], wgs["lat"], amap_lon, amap_lat)[2]
    assert 100 < shift_m < 1000


async def test_the_etag_follows_the_open_status_and_still_names_the_version(
    client: httpx.AsyncClient, sa_conn: AsyncConnection, sites: dict[str, int], clock: list[dt.datetime]
) -> None:
    url = f"/v1/sites/{sites['office']}"
    clock[0] = dt.datetime(2026, 11, 23, 17, 29, tzinfo=CHINA)
    before = await client.get(url)
    assert before.json()["open_now"] is True and before.headers["cache-control"] == "public, max-age=60"
    assert (await client.get(url, headers={"If-None-Match": before.headers["etag"]})).status_code == 304
    clock[0] = dt.datetime(2026, 11, 23, 17, 31, tzinfo=CHINA)  # closed since 17:30, the same version
    after = await client.get(url, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and after.json()["open_now"] is False
    assert after.json()["version"] == before.json()["version"]
    assert after.headers["etag"] != before.headers["etag"]
    # Either read's ETag, in either datum, names the version a write must not overwrite.
    auth = {"Authorization": f"Bearer {await keys.create(sa_conn, 'editor', ['write'], None)}"}
    gcj = (await client.get(url, params={"coordsys": "gcj02"})).headers["etag"]
    assert gcj != after.headers["etag"]
    edited = await client.patch(url, json={"phone": "0891-1"}, headers={**auth, "If-Match": before.headers["etag"]})
    assert edited.status_code == 200, edited.text
    stale = await client.patch(url, json={"phone": "0891-2"}, headers={**auth, "If-Match": gcj})
    assert stale.status_code == 412
    current = (await client.get(url, params={"coordsys": "gcj02"})).headers["etag"]
    assert (await client.patch(url, json={"phone": "0891-3"}, headers={**auth, "If-Match": current})).status_code == 200
    other = f'"{sites["night"]}{current[current.index("-") :]}'
    assert (await client.patch(url, json={"phone": "0891-4"}, headers={**auth, "If-Match": other})).status_code == 412


async def test_the_openapi_documents_the_workers_members_of_one_site(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    answer = document["paths"]["/v1/sites/{site_id}"]["get"]["responses"]["200"]["content"]["application/json"]
    schema = document["components"]["schemas"][answer["schema"]["$ref"].rsplit("/", 1)[1]]
    assert set(WORKER_MEMBERS) <= set(schema["properties"]) and {"version", "opening_hours"} <= set(
        schema["properties"]
    )
    nearest = document["components"]["schemas"]["NearestSite"]["properties"]
    assert {m: nearest[m] for m in WORKER_MEMBERS} == {m: schema["properties"][m] for m in WORKER_MEMBERS}
