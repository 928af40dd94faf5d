"""A region's usage as of a date: the idle rule judged over the 30 days ending that date, on the sites as the register
stood that day (serving as coverage counts a site). Visits are placed on chosen days; the expected figures are the
test's own sums of them."""

import datetime as dt

import asyncpg
import httpx

from app.visits.service import IDLE_BELOW_VISITS, IDLE_DAYS

BINCHENG = "371602"  # 滨城区
BINZHOU = "371600"
AS_OF = dt.date(2026, 9, 30)
WINDOW_FIRST = AS_OF - dt.timedelta(days=IDLE_DAYS - 1)  # 2026-09-01
JUST_BEFORE = WINDOW_FIRST - dt.timedelta(days=1)  # 2026-08-31: outside AS_OF's window, inside the day before's
# Site A's visits by day: 29 inside AS_OF's window (one short of the default rule), 40 the day before it.
A_VISITS = {
    JUST_BEFORE: 40,
    WINDOW_FIRST: 10,
    dt.date(2026, 9, 15): 10,
    AS_OF: 9,
}


def in_window(visits: dict[dt.date, int], last: dt.date) -> int:
    first = last - dt.timedelta(days=IDLE_DAYS - 1)
    return sum(n for day, n in visits.items() if first <= day <= last)


async def usage(client: httpx.AsyncClient, adcode: str, **params: str) -> dict:
    answer = await client.get(f"/v1/coverage/regions/{adcode}/usage", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_site_is_idle_as_of_one_date_and_not_the_day_before(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    a, opened_late, deleted = [
        r["id"]
        for r in await conn.fetch(
            "SELECT id FROM sites WHERE region_adcode = $1 AND deleted_at IS NULL ORDER BY id LIMIT 3", BINCHENG
        )
    ]
    await conn.execute("DELETE FROM region_station_rules")
    await conn.execute(
        "UPDATE sites SET opened_on = '2026-01-01', closed_on = NULL, status = 'active' WHERE id = ANY($1::bigint[])",
        [a, opened_late, deleted],
    )
    await conn.execute("UPDATE sites SET opened_on = '2026-09-20' WHERE id = $1", opened_late)
    await conn.execute("UPDATE sites SET deleted_at = '2026-09-25 12:00+08' WHERE id = $1", deleted)
    await conn.executemany(
        "INSERT INTO site_visit_days (site_id, day, worker_group, visits) VALUES ($1, $2, 'courier', $3)",
        [(a, day, n) for day, n in A_VISITS.items()],
    )
    assert in_window(A_VISITS, AS_OF) == 29 and in_window(A_VISITS, AS_OF - dt.timedelta(days=1)) == 60

    on = await usage(client, BINCHENG, as_of=str(AS_OF))
    assert on["idle_rule"] == {"below_visits": IDLE_BELOW_VISITS, "days": IDLE_DAYS} and IDLE_BELOW_VISITS == 30
    # The period defaults to the 30 days ending as_of, as the idle window.
    assert (on["as_of"], on["from"], on["to"]) == (str(AS_OF), str(WINDOW_FIRST), str(AS_OF))
    site = {s["site_id"]: s for s in on["sites"]}
    assert (site[a]["visits_last_30_days"], site[a]["visits"], site[a]["idle"]) == (29, 29, True)
    assert site[opened_late]["serving"] and site[opened_late]["idle"]
    assert deleted not in site  # deleted on the 25th: no longer in the register on the 30th

    day_before = await usage(client, BINCHENG, as_of=str(AS_OF - dt.timedelta(days=1)))
    site = {s["site_id"]: s for s in day_before["sites"]}
    assert (site[a]["visits_last_30_days"], site[a]["idle"]) == (60, False)
    assert day_before["site_count"] == on["site_count"]

    # Before it opened a site serves nobody: listed, never idle. Before its deletion a site is still listed.
    earlier = await usage(client, BINCHENG, as_of="2026-09-15")
    site = {s["site_id"]: s for s in earlier["sites"]}
    assert (site[opened_late]["serving"], site[opened_late]["idle"]) == (False, False)
    assert site[deleted]["serving"] and site[deleted]["idle"]
    assert site[a]["visits_last_30_days"] == in_window(A_VISITS, dt.date(2026, 9, 15)) == 60
    assert earlier["site_count"] == on["site_count"] + 1

    # Every flag follows the rule: serving, and under 30 in the window; the count is theirs.
    for answer in (on, day_before, earlier):
        expected = {s["site_id"] for s in answer["sites"] if s["serving"] and s["visits_last_30_days"] < 30}
        assert {s["site_id"] for s in answer["sites"] if s["idle"]} == expected
        assert answer["idle_count"] == len(expected)

    # An explicit period is kept; the idle window still ends as_of.
    wide = await usage(client, BINCHENG, as_of=str(AS_OF), **{"from": "2026-08-01", "to": "2026-09-30"})
    site = {s["site_id"]: s for s in wide["sites"]}
    assert (site[a]["visits"], site[a]["visits_last_30_days"]) == (69, 29)
    far = await usage(client, BINCHENG, as_of=str(AS_OF), **{"from": "2026-01-01", "to": "2026-01-31"})
    site = {s["site_id"]: s for s in far["sites"]}
    assert (site[a]["visits"], site[a]["visits_last_30_days"], site[a]["idle"]) == (0, 29, True)

    # The city's table per county: Bincheng's row as its own usage on that date.
    for answer, day in ((on, AS_OF), (day_before, AS_OF - dt.timedelta(days=1))):
        children = await client.get(f"/v1/coverage/regions/{BINZHOU}/usage/children", params={"as_of": str(day)})
        assert children.status_code == 200 and children.json()["as_of"] == str(day)
        row = next(c for c in children.json()["items"] if c["adcode"] == BINCHENG)
        assert (row["idle_count"], row["site_count"], row["visits"]) == (
            answer["idle_count"],
            answer["site_count"],
            answer["visits"],
        )


async def test_a_malformed_as_of_is_named(client: httpx.AsyncClient) -> None:
    for path in (f"/v1/coverage/regions/{BINCHENG}/usage", f"/v1/coverage/regions/{BINZHOU}/usage/children"):
        for bad in ("2026-13-01", "0", "yesterday"):
            answer = await client.get(path, params={"as_of": bad})
            assert answer.status_code == 422, (path, bad)
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert [e["field"] for e in answer.json()["errors"]] == ["as_of"]


async def test_a_regions_usage_of_one_kind_lists_only_its_sites(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    kinds = dict(
        await conn.fetch(
            "SELECT kind, count(*) FROM sites WHERE region_adcode LIKE '3716%' AND deleted_at IS NULL GROUP BY kind"
        )
    )
    every = (await client.get("/v1/coverage/regions/371600/usage")).json()
    assert every["kind"] is None and every["site_count"] == sum(kinds.values())
    for kind, count in kinds.items():
        answer = (await client.get("/v1/coverage/regions/371600/usage", params={"kind": kind})).json()
        assert answer["kind"] == kind and answer["site_count"] == count
        assert {s["kind"] for s in answer["sites"]} == {kind}
        children = (await client.get("/v1/coverage/regions/371600/usage/children", params={"kind": kind})).json()
        assert children["kind"] == kind and sum(c["site_count"] for c in children["items"]) == count
    unknown = await client.get("/v1/coverage/regions/371600/usage", params={"kind": "no_such_kind"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "kind"
