"""Ratings from the door: one per client and site per 30 days, the mean and its shrinkage toward the region's mean
(arithmetic done here), call-backs with due dates, comments the operator can hide (never the rating)."""

import datetime as dt
import secrets
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app import china_time
from app.coverage import repository as coverage_repository
from app.keys import service as keys
from app.ratings import service

BINCHENG = "371602"  # 滨城区
HUIMIN = "371621"  # 惠民县


@pytest.fixture
async def doors(conn: asyncpg.Connection) -> list[tuple[int, str]]:
    """Three active sites of Bincheng with door tokens; no other rating in the region."""
    await conn.execute("DELETE FROM site_rating_totals")
    rows = await conn.fetch(
        "SELECT id FROM sites WHERE region_adcode = $1 AND deleted_at IS NULL AND status = 'active' "
        "ORDER BY id LIMIT 3",
        BINCHENG,
    )
    found = []
    for row in rows:
        token = secrets.token_urlsafe(16)
        await conn.execute("INSERT INTO site_door_tokens (site_id, token) VALUES ($1, $2)", row["id"], token)
        found.append((row["id"], token))
    return found


@pytest.fixture
async def operator(sa_conn: AsyncConnection) -> dict[str, str]:
    return {"Authorization": f"Bearer {await keys.create(sa_conn, '滨城区总工会', ['write'], BINCHENG)}"}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dt.datetime]]:
    pinned = [china_time.now()]
    monkeypatch.setattr(service, "now", lambda: pinned[0])
    yield pinned


async def rate(client: httpx.AsyncClient, site: tuple[int, str], who: str, **body: object) -> httpx.Response:
    answer = await client.post(
        f"/v1/sites/{site[0]}/ratings", json={"token": site[1], **body}, headers={"X-Client-Id": who}
    )
    return answer


async def summary(client: httpx.AsyncClient, site_id: int) -> dict:
    return (await client.get(f"/v1/sites/{site_id}/ratings")).json()["worker_rating"]


async def test_a_clients_new_rating_within_30_days_replaces_the_old(
    client: httpx.AsyncClient, conn: asyncpg.Connection, doors: list[tuple[int, str]], clock: list[dt.datetime]
) -> None:
    site = doors[0]
    first = await rate(client, site, "phone-0001", stars=2, tags=["dirty"])
    assert first.status_code == 201 and not first.json()["replaced"]
    assert (await rate(client, site, "phone-0002", stars=5)).status_code == 201
    again = await rate(client, site, "phone-0001", stars=4, tags=["clean", "water"])
    assert again.json()["replaced"]
    got = await summary(client, site[0])
    assert (got["count"], got["mean"]) == (2, 4.5)  # (5 + 4) / 2: the 2 no longer counts
    clock[0] += dt.timedelta(days=31)
    later = await rate(client, site, "phone-0001", stars=3)
    assert not later.json()["replaced"]
    got = await summary(client, site[0])
    assert (got["count"], got["mean"]) == (3, 4.0)  # (5 + 4 + 3) / 3
    listed = (await client.get(f"/v1/sites/{site[0]}/ratings")).json()["items"]
    assert [r["stars"] for r in listed] == [3, 4, 5]
    totals = await conn.fetchrow(
        "SELECT ratings, stars, stars_squared FROM site_rating_totals WHERE site_id = $1", site[0]
    )
    assert tuple(totals) == (3, 5 + 4 + 3, 25 + 16 + 9)  # the replaced 2 taken out of each sum


def lower_bound(stars: list[int], region: list[int]) -> float:
    """The ranking score worked out here: the site's ratings, one prior rating at each star level and ten with the
    region's mean and mean square; their mean less 1.645 times the standard error √(variance / (N + 1))."""
    m = sum(region) / len(region)
    q = sum(s * s for s in region) / len(region)
    n = len(stars) + 5 + 10
    mean = (sum(stars) + 15 + 10 * m) / n
    variance = (sum(s * s for s in stars) + 55 + 10 * q) / n - mean**2
    return mean - 1.645 * (variance / (n + 1)) ** 0.5


# Ratings of a fourth site that bring the region's mean to exactly 3.0, 4.0 and 4.8 with the two sites' 1×5 and
# 40×4: (165 + 21) / 62, (165 + 3) / 42, (165 + 159 × 5) / 200.
REGION_FILLERS = {3.0: [1] * 21, 4.0: [3], 4.8: [5] * 159}


@pytest.mark.parametrize("region_mean", sorted(REGION_FILLERS))
async def test_one_five_ranks_below_forty_fours_whatever_the_regions_mean(
    client: httpx.AsyncClient, conn: asyncpg.Connection, doors: list[tuple[int, str]], region_mean: float
) -> None:
    one_five, forty_fours, filler = doors
    unrated = await conn.fetchval(
        "SELECT id FROM sites WHERE region_adcode = $1 AND deleted_at IS NULL AND id <> ALL($2) ORDER BY id LIMIT 1",
        BINCHENG,
        [site_id for site_id, _ in doors],
    )
    assert (await rate(client, one_five, "phone-aaaa", stars=5)).status_code == 201
    for i in range(40):
        assert (await rate(client, forty_fours, f"phone-b-{i:02}", stars=4)).status_code == 201
    fill = REGION_FILLERS[region_mean]
    await conn.execute(
        "INSERT INTO site_rating_totals (site_id, ratings, stars, stars_squared) VALUES ($1, $2, $3, $4)",
        filler[0],
        len(fill),
        sum(fill),
        sum(s * s for s in fill),
    )
    region = [5] + [4] * 40 + fill
    assert sum(region) / len(region) == region_mean
    a, b, c, none = [await summary(client, site_id) for site_id in (one_five[0], forty_fours[0], filler[0], unrated)]
    assert a["region_mean"] == none["region_mean"] == pytest.approx(region_mean, abs=1e-3)
    assert (a["mean"], a["count"], b["mean"], b["count"], none["mean"], none["count"]) == (5.0, 1, 4.0, 40, None, 0)
    expected = {
        "one five": lower_bound([5], region),
        "forty fours": lower_bound([4] * 40, region),
        "filler": lower_bound(fill, region),
        "none": lower_bound([], region),
    }
    got = {"one five": a, "forty fours": b, "filler": c, "none": none}
    for name, score in expected.items():
        assert got[name]["ranking_score"] == pytest.approx(score, abs=1e-3), name
    assert b["ranking_score"] > a["ranking_score"]
    # Ranked by the score, the sites come in the order the arithmetic here gives.
    assert sorted(got, key=lambda name: -got[name]["ranking_score"]) == sorted(expected, key=lambda k: -expected[k])


async def test_without_any_rating_a_site_scores_the_flat_prior_alone(
    client: httpx.AsyncClient, doors: list[tuple[int, str]]
) -> None:
    # No rating anywhere (the fixture emptied the totals): fifteen prior ratings, three at each level, mean 3,
    # variance (1 + 4 + 9 + 16 + 25) / 5 − 9 = 2, so 3 − 1.645 × √(2 / 16).
    got = await summary(client, doors[0][0])
    assert (got["mean"], got["count"], got["region_mean"]) == (None, 0, 3.0)
    assert got["ranking_score"] == pytest.approx(3 - 1.645 * (2 / 16) ** 0.5, abs=1e-3)


def test_one_five_ranks_below_forty_fours_for_every_regions_ratings() -> None:
    """Over every mean a region can have and every spread possible with it on a 1–5 scale (its mean square from m²
    up to m² + (m − 1)(5 − m), all its ratings at 1 and 5)."""
    for i in range(401):
        m = 1 + 4 * i / 400
        for j in range(51):
            q = m * m + (m - 1) * (5 - m) * j / 50
            assert service.ranking_score(40, 160, 640, m, q) > service.ranking_score(1, 5, 25, m, q), (m, q)


async def test_bad_ratings_are_refused_naming_the_field_and_nothing_is_stored(
    client: httpx.AsyncClient, conn: asyncpg.Connection, doors: list[tuple[int, str]]
) -> None:
    site, other = doors[0], doors[1]
    cases = [
        ({"token": other[1], "stars": 4}, "token"),  # another site's door
        ({"token": secrets.token_urlsafe(16), "stars": 4}, "token"),  # forged
        ({"token": site[1], "stars": 0}, "stars"),
        ({"token": site[1], "stars": 6}, "stars"),
        ({"token": site[1], "stars": 4, "tags": ["lovely"]}, "tags"),
        ({"token": site[1], "stars": 4, "comment": "好" * 501}, "comment"),
        ({"token": site[1], "stars": 4, "comment": "a\u202eb"}, "comment"),
    ]
    for body, field in cases:
        answer = await client.post(f"/v1/sites/{site[0]}/ratings", json=body)
        assert answer.status_code == 422, body
        error = answer.json()["errors"][0]
        assert error["field"].split(".")[0] == field, (body, error)
    assert await conn.fetchval("SELECT count(*) FROM site_ratings WHERE site_id = $1", site[0]) == 0
    fits = await client.post(f"/v1/sites/{site[0]}/ratings", json={"token": site[1], "stars": 4, "comment": "好" * 500})
    assert fits.status_code == 201


async def test_bad_ratings_open_call_backs_the_operator_works_through(
    client: httpx.AsyncClient, sa_conn: AsyncConnection, doors: list[tuple[int, str]], operator: dict[str, str]
) -> None:
    site = doors[0]
    today = china_time.today()
    low = (await rate(client, site, "phone-0001", stars=2, comment="没有水")).json()["callback"]
    locked = (await rate(client, site, "phone-0002", stars=4, tags=["locked"])).json()["callback"]
    assert (await rate(client, site, "phone-0003", stars=3)).json()["callback"] is None
    due = (today + dt.timedelta(days=3)).isoformat()
    assert (low["reason"], low["due_on"], locked["reason"], locked["due_on"]) == ("low_stars", due, "locked", due)
    listed = (await client.get("/v1/callbacks", params={"status": "open"}, headers=operator)).json()["items"]
    assert {c["id"] for c in listed} >= {low["id"], locked["id"]}
    on_due_day = {"overdue_on": due}
    day_after = {"overdue_on": (today + dt.timedelta(days=4)).isoformat()}
    assert not {
        c["id"] for c in (await client.get("/v1/callbacks", params=on_due_day, headers=operator)).json()["items"]
    } & {low["id"]}
    overdue = (await client.get("/v1/callbacks", params=day_after, headers=operator)).json()["items"]
    assert {low["id"], locked["id"]} <= {c["id"] for c in overdue}
    elsewhere = {"Authorization": f"Bearer {await keys.create(sa_conn, '惠民县总工会', ['write'], HUIMIN)}"}
    theirs = (await client.get("/v1/callbacks", headers=elsewhere)).json()["items"]
    assert not {c["id"] for c in theirs} & {low["id"], locked["id"]}
    refused = await client.patch(f"/v1/callbacks/{low['id']}", json={"outcome": "已电话回访"}, headers=elsewhere)
    assert refused.status_code == 403
    done = await client.patch(f"/v1/callbacks/{low['id']}", json={"outcome": "已电话回访，送水"}, headers=operator)
    assert (
        done.status_code == 200 and done.json()["status"] == "resolved" and done.json()["resolved_by"] == "滨城区总工会"
    )
    again = await client.patch(f"/v1/callbacks/{low['id']}", json={"outcome": "again"}, headers=operator)
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "status"
    overdue = (await client.get("/v1/callbacks", params=day_after, headers=operator)).json()["items"]
    assert low["id"] not in {c["id"] for c in overdue}


async def test_an_operator_hides_a_comment_but_never_the_rating(
    client: httpx.AsyncClient, sa_conn: AsyncConnection, doors: list[tuple[int, str]], operator: dict[str, str]
) -> None:
    site = doors[0]
    hostile = '<img src=x onerror="alert(1)">'
    rated = (await rate(client, site, "phone-0001", stars=1, comment=hostile)).json()
    assert rated["comment"] == hostile  # stored as written; every page that shows it escapes it
    elsewhere = {"Authorization": f"Bearer {await keys.create(sa_conn, '惠民县总工会', ['write'], HUIMIN)}"}
    assert (await client.post(f"/v1/ratings/{rated['id']}/hide-comment", headers=elsewhere)).status_code == 403
    assert (await client.post(f"/v1/ratings/{rated['id']}/hide-comment")).status_code == 401
    assert (await client.post(f"/v1/ratings/{rated['id']}/hide-comment", headers=operator)).status_code == 204
    page = (await client.get(f"/v1/sites/{site[0]}/ratings")).json()
    assert page["items"][0]["comment"] is None and page["items"][0]["comment_hidden"]
    assert (page["worker_rating"]["count"], page["worker_rating"]["mean"]) == (1, 1.0)  # the rating still counts
    assert (await client.delete(f"/v1/ratings/{rated['id']}", headers=operator)).status_code in (404, 405)


async def test_call_backs_of_a_region_within_the_keys(
    client: httpx.AsyncClient, conn: asyncpg.Connection, sa_conn: AsyncConnection, doors: list[tuple[int, str]]
) -> None:
    huimin_site = await conn.fetchval(
        "SELECT id FROM sites WHERE region_adcode = $1 AND deleted_at IS NULL AND status = 'active' "
        "ORDER BY id LIMIT 1",
        HUIMIN,
    )
    huimin_token = secrets.token_urlsafe(16)
    await conn.execute("INSERT INTO site_door_tokens (site_id, token) VALUES ($1, $2)", huimin_site, huimin_token)
    in_bincheng = (await rate(client, doors[0], "phone-0101", stars=1)).json()["callback"]["id"]
    in_huimin = (await rate(client, (huimin_site, huimin_token), "phone-0102", stars=1)).json()["callback"]["id"]
    city = {"Authorization": f"Bearer {await keys.create(sa_conn, '滨州市总工会', ['write'], '3716')}"}

    async def listed(region: str | None, key: dict[str, str]) -> set[int]:
        params = {"status": "open", "limit": 500, **({"region": region} if region else {})}
        answer = await client.get("/v1/callbacks", params=params, headers=key)
        assert answer.status_code == 200, answer.text
        return {c["id"] for c in answer.json()["items"]} & {in_bincheng, in_huimin}

    assert await listed(None, city) == await listed("371600", city) == {in_bincheng, in_huimin}
    assert await listed(BINCHENG, city) == {in_bincheng}
    assert await listed(HUIMIN, city) == {in_huimin}
    county = {"Authorization": f"Bearer {await keys.create(sa_conn, '滨城区总工会', ['write'], BINCHENG)}"}
    outside = await client.get("/v1/callbacks", params={"region": HUIMIN}, headers=county)
    assert outside.status_code == 403 and outside.headers["content-type"] == "application/problem+json"
    assert (await client.get("/v1/callbacks", params={"region": "379999"}, headers=city)).status_code == 404
    bad = await client.get("/v1/callbacks", params={"region": "37<b>"}, headers=city)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "region"


async def test_a_rating_is_in_the_feed_but_does_not_move_the_registers_state(
    client: httpx.AsyncClient, conn: asyncpg.Connection, doors: list[tuple[int, str]]
) -> None:
    """Coverage keeps its answers for the register's state: a worker's rating changes no register record, so the
    kept map shading of every region must survive it, while a change of a record moves the state."""
    before = await coverage_repository.register_state(conn)
    entries = await conn.fetchval("SELECT count(*) FROM site_changes")
    assert (await rate(client, doors[0], "state-phone", stars=4)).status_code == 201
    assert await conn.fetchval("SELECT count(*) FROM site_changes") == entries + 1  # the feed's entry
    assert (await coverage_repository.register_state(conn))[0] == before[0]
    await conn.execute("UPDATE sites SET status = 'suspended' WHERE id = $1", doors[0][0])
    assert (await coverage_repository.register_state(conn))[0] > before[0]
