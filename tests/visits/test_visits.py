"""Visits from the door: counted once per client, site and clock hour, whatever the order or timing they arrive in;
the daily counts equal the raw visits; usage series and idle stations checked against arithmetic done here."""

import asyncio
import datetime as dt
import itertools
import random
import secrets
from collections import Counter
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api import ratelimit
from app.api.ratelimit import MemoryCounter
from app.china_time import CHINA
from app.config import Settings
from app.database.connections import Database
from app.keys import service as keys
from app.main import create_app
from app.visits import service
from app.visits.service import VisitDesk
from tests.conftest import TransactionEngine, TransactionReadPool, serving

BINCHENG = "371602"  # 滨城区


@pytest.fixture(autouse=True)
def desk(app: FastAPI) -> Iterator[VisitDesk]:
    """A fresh desk for each test: the months and salts it remembers belong to the test's transaction."""
    kept = app.state.visit_desk
    app.state.visit_desk = VisitDesk(MemoryCounter())
    try:
        yield app.state.visit_desk
    finally:
        app.state.visit_desk = kept


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dt.datetime]]:
    """The visits' clock, pinned to the instant the test puts in it."""
    pinned = [dt.datetime(2026, 9, 14, 10, 20, tzinfo=CHINA)]
    monkeypatch.setattr(service, "now", lambda: pinned[0])
    yield pinned


async def door(conn: asyncpg.Connection, site_id: int) -> str:
    token = secrets.token_urlsafe(16)
    await conn.execute(
        "INSERT INTO site_door_tokens (site_id, token) VALUES ($1, $2) "
        "ON CONFLICT (site_id) DO UPDATE SET token = EXCLUDED.token",
        site_id,
        token,
    )
    return token


async def sites_in(conn: asyncpg.Connection, region: str, count: int) -> list[int]:
    rows = await conn.fetch(
        "SELECT id FROM sites WHERE region_adcode = $1 AND deleted_at IS NULL AND status = 'active' "
        "ORDER BY id LIMIT $2",
        region,
        count,
    )
    return [r["id"] for r in rows]


async def visit(client: httpx.AsyncClient, token: str, who: str, **body: object) -> httpx.Response:
    return await client.post("/v1/visits", json={"token": token, **body}, headers={"X-Client-Id": who})


async def raw_and_daily(conn: asyncpg.Connection, site_id: int) -> tuple[int, int]:
    raw = await conn.fetchval("SELECT count(*) FROM site_visits WHERE site_id = $1", site_id)
    daily = await conn.fetchval("SELECT coalesce(sum(visits), 0) FROM site_visit_days WHERE site_id = $1", site_id)
    return raw, daily


async def test_a_client_counts_once_an_hour_at_a_site(
    client: httpx.AsyncClient, conn: asyncpg.Connection, clock: list[dt.datetime]
) -> None:
    [a, b] = await sites_in(conn, BINCHENG, 2)
    token_a, token_b = await door(conn, a), await door(conn, b)
    first = await visit(client, token_a, "phone-0001", worker_group="courier")
    assert first.status_code == 201 and first.json()["counted"] and first.json()["site_id"] == a
    assert first.json()["hour"] == "2026-09-14T10:00:00+08:00"
    clock[0] += dt.timedelta(minutes=39)  # 10:59, the same hour
    again = await visit(client, token_a, "phone-0001", worker_group="courier")
    assert again.status_code == 200 and not again.json()["counted"]
    assert (await visit(client, token_b, "phone-0001")).status_code == 201  # another site
    assert (await visit(client, token_a, "phone-0002")).status_code == 201  # another client
    clock[0] += dt.timedelta(minutes=2)  # 11:01, the next hour
    assert (await visit(client, token_a, "phone-0001")).status_code == 201
    assert await raw_and_daily(conn, a) == (3, 3)
    assert await raw_and_daily(conn, b) == (1, 1)
    stored = await conn.fetch("SELECT client FROM site_visits WHERE site_id = $1", a)
    assert all(len(r["client"]) == 16 and b"phone" not in r["client"] for r in stored)  # a hash, not the id


async def test_without_a_client_id_the_address_is_the_client_and_salts_change_daily(
    client: httpx.AsyncClient, conn: asyncpg.Connection, clock: list[dt.datetime]
) -> None:
    [a] = await sites_in(conn, BINCHENG, 1)
    token = await door(conn, a)
    assert (await client.post("/v1/visits", json={"token": token})).status_code == 201
    assert (await client.post("/v1/visits", json={"token": token})).status_code == 200  # the same address
    clock[0] += dt.timedelta(days=1)
    assert (await client.post("/v1/visits", json={"token": token})).status_code == 201
    hashes = [r["client"] for r in await conn.fetch("SELECT client FROM site_visits WHERE site_id = $1", a)]
    assert len(set(hashes)) == 2  # one address, a different hash each day
    clock[0] += dt.timedelta(days=2)
    assert (await client.post("/v1/visits", json={"token": token})).status_code == 201
    salts = "SELECT day FROM visit_salts ORDER BY day"
    assert [r["day"] for r in await conn.fetch(salts)] == [dt.date(2026, 9, 17)]  # older salts destroyed
    clock[0] += dt.timedelta(days=1)
    assert (await client.post("/v1/visits", json={"token": token})).status_code == 201
    assert [r["day"] for r in await conn.fetch(salts)] == [dt.date(2026, 9, 17), dt.date(2026, 9, 18)]


async def test_late_visits_count_in_their_own_hour_and_day_and_not_twice(
    client: httpx.AsyncClient, conn: asyncpg.Connection, clock: list[dt.datetime]
) -> None:
    [a] = await sites_in(conn, BINCHENG, 1)
    token = await door(conn, a)
    clock[0] = dt.datetime(2026, 9, 15, 9, 0, tzinfo=CHINA)
    queued = "2026-09-14T21:30:00+08:00"  # yesterday evening, sent this morning
    assert (await visit(client, token, "phone-0003", visited_at=queued)).status_code == 201
    assert (await visit(client, token, "phone-0003", visited_at="2026-09-14T21:59:00+08:00")).status_code == 200
    assert (await visit(client, token, "phone-0003")).status_code == 201  # now, another hour
    days = await conn.fetch("SELECT day, visits FROM site_visit_days WHERE site_id = $1 ORDER BY day", a)
    assert [(r["day"], r["visits"]) for r in days] == [(dt.date(2026, 9, 14), 1), (dt.date(2026, 9, 15), 1)]
    too_late = await visit(client, token, "phone-0003", visited_at="2026-09-14T08:59:00+08:00")
    assert too_late.status_code == 422 and too_late.json()["errors"][0]["field"] == "visited_at"
    future = await visit(client, token, "phone-0003", visited_at="2026-09-15T10:00:00+08:00")
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "visited_at"


async def test_a_visit_in_a_month_without_a_partition_makes_it_and_the_next(
    client: httpx.AsyncClient, conn: asyncpg.Connection, clock: list[dt.datetime]
) -> None:
    [a] = await sites_in(conn, BINCHENG, 1)
    token = await door(conn, a)
    clock[0] = dt.datetime(2031, 3, 1, 0, 30, tzinfo=CHINA)
    assert await conn.fetchval("SELECT to_regclass('site_visits_2031_02')") is None
    late = await visit(client, token, "phone-0004", visited_at="2031-02-28T23:50:00+08:00")
    assert late.status_code == 201
    assert (await visit(client, token, "phone-0004")).status_code == 201
    partitions = await conn.fetch(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'site_visits'::regclass "
        "AND c.relname >= 'site_visits_2031' ORDER BY 1"
    )
    assert [p["relname"] for p in partitions] == ["site_visits_2031_02", "site_visits_2031_03", "site_visits_2031_04"]
    assert "2031-02-28 16:00:00+00" in partitions[1]["bound"]  # a China month: from 00:00 +08:00
    counted = await conn.fetch("SELECT tableoid::regclass::text AS part FROM site_visits WHERE site_id = $1", a)
    assert sorted(r["part"] for r in counted) == ["site_visits_2031_02", "site_visits_2031_03"]


async def test_forged_and_bad_visits_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    [a] = await sites_in(conn, BINCHENG, 1)
    token = await door(conn, a)
    cases = [
        ({"token": secrets.token_urlsafe(16)}, {}, "token"),
        ({"token": "short"}, {}, "token"),
        ({"token": token, "worker_group": "astronaut"}, {}, "worker_group"),
        ({"token": token, "phone": "13800000000"}, {}, "phone"),
        ({"token": token}, {"X-Client-Id": "<script>"}, "X-Client-Id"),
    ]
    for body, headers, field in cases:
        answer = await client.post("/v1/visits", json=body, headers=headers)
        assert answer.status_code == 422, body
        assert answer.headers["content-type"] == "application/problem+json"
        assert field in answer.json()["errors"][0].get("field", "") or field in str(answer.json()["errors"][0]["loc"])
    assert await raw_and_daily(conn, a) == (0, 0)


async def test_a_flood_is_refused_per_client_and_per_site(
    client: httpx.AsyncClient, conn: asyncpg.Connection, desk: VisitDesk
) -> None:
    [a, b] = await sites_in(conn, BINCHENG, 2)
    token_a, token_b = await door(conn, a), await door(conn, b)
    desk.client_per_minute, desk.site_per_minute = 5, 8
    answers = [await visit(client, token_a if i % 2 else token_b, "flooding-phone") for i in range(7)]
    assert [r.status_code for r in answers][:5] == [201, 201, 200, 200, 200]
    refused = answers[5]
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert refused.json()["errors"][0]["field"] == "X-Client-Id"
    # Many clients at one site: the site's limit (8 a minute, the flooding client's 3 at site b among them).
    crowd = [await visit(client, token_b, f"crowd-phone-{i:03}") for i in range(7)]
    assert [r.status_code for r in crowd] == [201] * 5 + [429] * 2
    assert crowd[-1].json()["errors"][0]["field"] == "token"
    assert await raw_and_daily(conn, a) == (1, 1)
    assert await raw_and_daily(conn, b) == (6, 6)  # the flooding client once, and the five let in


async def test_one_address_has_a_ceiling_whatever_client_ids_it_sends(
    client: httpx.AsyncClient, conn: asyncpg.Connection, desk: VisitDesk
) -> None:
    """Client ids and tokens are the caller's to choose: a machine that changes its client id at every visit is
    still held by its address's ceiling, and nothing past it is stored."""
    [a, b] = await sites_in(conn, BINCHENG, 2)
    token_a, token_b = await door(conn, a), await door(conn, b)
    desk.address_per_minute = 6
    answers = [await visit(client, token_a if i % 2 else token_b, f"changing-id-{i:03}") for i in range(9)]
    assert [r.status_code for r in answers] == [201] * 6 + [429] * 3
    assert answers[-1].json()["errors"][0]["field"] == "address"
    assert int(answers[-1].headers["retry-after"]) >= 1
    forged = await visit(client, token_a[:-1] + ("A" if token_a[-1] != "A" else "B"), "changing-id-999")
    assert forged.status_code == 429  # refused before the token is even looked up
    assert await raw_and_daily(conn, a) == (3, 3) and await raw_and_daily(conn, b) == (3, 3)


async def test_visits_spend_only_their_own_limits_not_the_addresss_write_budget(
    settings: Settings, reader: TransactionReadPool, sa_conn: AsyncConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers behind one carrier's NAT share an address: more visits than the address's write budget, from distinct
    clients, are all counted, and the address's budget for other writes is still whole after them."""
    monkeypatch.setattr(ratelimit, "now", lambda: 1_800_000_020.0)  # one window for the whole test
    budget = 5
    app = create_app(settings.model_copy(update={"rate_limit_writes_per_minute": budget}))
    async with app.router.lifespan_context(app):
        pools = app.state.db
        app.state.db = Database(reader=reader, primary=reader, engine=TransactionEngine(sa_conn))  # type: ignore[arg-type]
        try:
            transport = httpx.ASGITransport(app=app, client=("198.51.100.20", 4000))
            async with httpx.AsyncClient(transport=transport, base_url="http://yizhan.test") as behind_nat:
                [a] = await sites_in(reader.conn, BINCHENG, 1)
                token = await door(reader.conn, a)
                answers = [await visit(behind_nat, token, f"nat-phone-{i:03}") for i in range(3 * budget)]
                assert [r.status_code for r in answers] == [201] * (3 * budget)
                # Other writes from that address still have their whole budget (refused 401 without a key, but
                # counted), and no more.
                others = [(await behind_nat.post("/v1/sites", json={})).status_code for _ in range(budget + 1)]
                assert others == [401] * budget + [429]
        finally:
            app.state.db = pools
    assert await raw_and_daily(reader.conn, a) == (3 * budget, 3 * budget)


async def test_usage_series_and_group_mix_match_the_visits_sent(
    client: httpx.AsyncClient, conn: asyncpg.Connection, clock: list[dt.datetime]
) -> None:
    [a] = await sites_in(conn, BINCHENG, 1)
    token = await door(conn, a)
    groups = ["courier", "sanitation", None, "delivery_rider"]
    sent: list[tuple[dt.datetime, str, str | None]] = []
    start = dt.datetime(2026, 8, 27, 7, 10, tzinfo=CHINA)  # across a month's end and several weeks
    for day, hour, n in itertools.product(range(0, 24, 3), (7, 12, 18), range(3)):
        at = start + dt.timedelta(days=day, hours=hour - 7, minutes=n)
        clock[0] = at
        who = f"phone-{day:02}-{n}"
        group = groups[(day + hour + n) % len(groups)]
        answer = await visit(client, token, who, **({"worker_group": group} if group else {}))
        assert answer.status_code == 201
        sent.append((at, who, group))
        if n == 0:  # a repeat in the same hour, not counted
            assert (await visit(client, token, who)).status_code == 200
    params = {"from": "2026-08-25", "to": "2026-09-30"}
    for by, key in (
        ("day", lambda at: at.date().isoformat()),
        ("week", lambda at: (at.date() - dt.timedelta(days=at.weekday())).isoformat()),
        ("month", lambda at: at.date().replace(day=1).isoformat()),
        ("hour", lambda at: at.replace(minute=0).isoformat()),
    ):
        usage = (await client.get(f"/v1/sites/{a}/usage", params={**params, "by": by})).json()
        expected = Counter(key(at) for at, _, _ in sent)
        assert {p["start"]: p["visits"] for p in usage["series"]} == dict(expected), by
        assert usage["visits"] == len(sent)
        assert usage["groups"] == dict(Counter(g or "unspecified" for _, _, g in sent))
    busiest = (await client.get(f"/v1/sites/{a}/usage", params=params)).json()["busiest_hours"]
    by_hour = Counter(at.hour for at, _, _ in sent)
    assert {h["hour"]: h["visits"] for h in busiest} == {h: by_hour[h] for h in (7, 12, 18)}
    narrow = (await client.get(f"/v1/sites/{a}/usage", params={"from": "2026-09-01", "to": "2026-09-01"})).json()
    assert narrow["visits"] == sum(1 for at, _, _ in sent if at.date() == dt.date(2026, 9, 1))
    bad = await client.get(f"/v1/sites/{a}/usage", params={"from": "2026-09-02", "to": "2026-09-01"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "to"


async def test_idle_stations_are_exactly_the_active_ones_under_the_regions_threshold(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    sites = await sites_in(conn, BINCHENG, 3)
    await conn.execute("INSERT INTO region_station_rules (adcode, idle_below_visits) VALUES ($1, 3)", BINCHENG)
    for site_id, visitors in zip(sites, (3, 2, 4), strict=True):
        token = await door(conn, site_id)
        for i in range(visitors):
            assert (await visit(client, token, f"phone-{site_id}-{i}")).status_code == 201
    usage = (await client.get(f"/v1/coverage/regions/{BINCHENG}/usage")).json()
    assert usage["idle_rule"] == {"below_visits": 3, "days": 30}
    live = await conn.fetch("SELECT id, status FROM sites WHERE region_adcode = $1 AND deleted_at IS NULL", BINCHENG)
    visits = dict(zip(sites, (3, 2, 4), strict=True))
    expected_idle = {r["id"] for r in live if r["status"] == "active" and visits.get(r["id"], 0) < 3}
    assert {s["site_id"] for s in usage["sites"] if s["idle"]} == expected_idle
    assert sites[1] in expected_idle and sites[0] not in expected_idle
    assert usage["visits"] == 9 and usage["site_count"] == len(live)
    # The city's table: Bincheng's row has the same figures; a county without its own rule follows the default.
    children = (await client.get("/v1/coverage/regions/371600/usage/children")).json()["items"]
    row = next(c for c in children if c["adcode"] == BINCHENG)
    assert (row["visits"], row["idle_count"]) == (9, len(expected_idle))
    assert all(c["idle_rule"]["below_visits"] == service.IDLE_BELOW_VISITS for c in children if c["adcode"] != BINCHENG)
    assert (await client.get("/v1/coverage/regions/999999/usage")).status_code == 404


async def test_concurrent_visits_through_two_workers_count_each_client_once(settings: Settings) -> None:
    """Two applications (as two workers) on the real database, committing: 40 clients each sending the same visit 5
    times at once, 10 of them also a visit queued an hour earlier; exactly one visit per client and hour counts."""
    db = await asyncpg.connect(str(settings.database_url))
    site_id = await db.fetchval("SELECT id FROM sites WHERE deleted_at IS NULL ORDER BY id DESC LIMIT 1")
    token = secrets.token_urlsafe(16)
    await db.execute("INSERT INTO site_door_tokens (site_id, token) VALUES ($1, $2)", site_id, token)
    earlier = (dt.datetime.now(CHINA) - dt.timedelta(hours=1)).isoformat()
    try:
        with serving(settings) as one, serving(settings) as two:
            limits = httpx.Limits(max_connections=20)
            async with httpx.AsyncClient(limits=limits) as http:

                async def send(base: str, who: str, body: dict) -> int:
                    answer = await http.post(f"{base}/v1/visits", json=body, headers={"X-Client-Id": who})
                    return answer.status_code

                jobs = []
                for i in range(40):
                    who = f"concurrent-phone-{i:03}"
                    jobs += [send((one, two)[(i + k) % 2], who, {"token": token}) for k in range(5)]
                    if i < 10:
                        late = {"token": token, "visited_at": earlier}
                        jobs += [send((one, two)[k], who, late) for k in range(2)]
                random.shuffle(jobs)
                statuses = Counter(await asyncio.gather(*jobs))
        raw = await db.fetchval("SELECT count(*) FROM site_visits WHERE site_id = $1", site_id)
        daily = await db.fetchval("SELECT sum(visits) FROM site_visit_days WHERE site_id = $1", site_id)
        hours = await db.fetchval("SELECT count(DISTINCT hour) FROM site_visits WHERE site_id = $1", site_id)
        assert statuses == {201: 50, 200: 40 * 4 + 10}
        assert raw == daily == 50 and hours == 2
    finally:
        for table in ("site_visits", "site_visit_days", "site_hour_profiles", "site_door_tokens"):
            await db.execute(f"DELETE FROM {table} WHERE site_id = $1", site_id)
        await db.close()


async def test_a_regions_station_rules_are_its_own_else_its_ancestors_else_the_defaults(
    client: httpx.AsyncClient, sa_conn: AsyncConnection
) -> None:
    city = {"Authorization": f"Bearer {await keys.create(sa_conn, '滨州市总工会', ['write'], '3716')}"}
    county = {"Authorization": f"Bearer {await keys.create(sa_conn, '惠民县总工会', ['write'], '371621')}"}
    defaults = {"idle_below_visits": service.IDLE_BELOW_VISITS, "inspection_interval_months": 6}
    assert (await client.get(f"/v1/regions/{BINCHENG}/station-rules")).json()["applied"] == defaults
    city_rules = {"idle_below_visits": 10, "inspection_interval_months": 4}
    assert (await client.put("/v1/regions/371600/station-rules", json=city_rules, headers=city)).status_code == 200
    own = {"idle_below_visits": 5, "inspection_interval_months": None}
    assert (await client.put(f"/v1/regions/{BINCHENG}/station-rules", json=own, headers=city)).status_code == 200
    got = (await client.get(f"/v1/regions/{BINCHENG}/station-rules")).json()
    assert got["own"] == own and got["applied"] == {"idle_below_visits": 5, "inspection_interval_months": 4}
    usage = (await client.get(f"/v1/coverage/regions/{BINCHENG}/usage")).json()
    assert usage["idle_rule"]["below_visits"] == 5
    refused = await client.put(f"/v1/regions/{BINCHENG}/station-rules", json=own, headers=county)
    assert refused.status_code == 403
    bad = await client.put(
        f"/v1/regions/{BINCHENG}/station-rules",
        json={"idle_below_visits": -1, "inspection_interval_months": 61},
        headers=city,
    )
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {
        "idle_below_visits",
        "inspection_interval_months",
    }
