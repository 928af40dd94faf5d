"""Crafted input gets a 4xx problem naming what is wrong, never a 500: ids and offsets past bigint, NUL bytes,
datetimes at the edge of the calendar, cursors of another list, bodies that are not what they claim."""

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.parameters import encode_cursor
from app.formats.spreadsheets import XLSX_MEDIA_TYPE
from app.keys import service as keys

HUGE = str(2**64)


@pytest.fixture
async def auth(sa_conn: AsyncConnection) -> dict[str, str]:
    return {"Authorization": f"Bearer {await keys.create(sa_conn, '探测', ['write'], None)}"}


async def refused(response: httpx.Response, *statuses: int) -> None:
    assert response.status_code in (statuses or (400, 404, 422)), response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_numbers_past_bigint(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await refused(await client.get(f"/v1/sites/{HUGE}"))
    await refused(await client.post(f"/v1/sites/{HUGE}/reports", json={"type": "closed"}))
    await refused(await client.patch(f"/v1/reports/{HUGE}", json={"status": "rejected"}, headers=auth))
    await refused(await client.get("/v1/reports", params={"site_id": HUGE}, headers=auth))
    await refused(await client.get("/ogc/collections/legal_aid/items", params={"offset": HUGE}), 400)
    await refused(await client.get(f"/ogc/collections/legal_aid/items/{HUGE}"), 404)
    await refused(await client.get("/ogc/collections/legal_aid/items/²"), 404)
    for path, tag, arity, name in (("/v1/sites", "id", 1, "cursor"), ("/v1/changes", "c", 2, "since")):
        r = await client.get(path, params={name: encode_cursor(tag, *[2**64] * arity)})
        await refused(r, 422)
        assert r.json()["errors"][0]["field"] == name


async def test_a_cursor_of_another_list(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    sites_cursor = (await client.get("/v1/sites", params={"limit": 1})).json()["next_cursor"]
    await refused(await client.get("/v1/reports", params={"cursor": sites_cursor}, headers=auth), 422)


async def test_nul_bytes(client: httpx.AsyncClient, conn: asyncpg.Connection, auth: dict[str, str]) -> None:
    site = await conn.fetchval("SELECT min(id) FROM sites")
    await refused(await client.get("/v1/sites", params={"q": "驿\x00站"}), 422)
    await refused(await client.post(f"/v1/sites/{site}/reports", json={"type": "other", "note": "a\x00b"}), 422)
    body = {"kind": "legal_aid", "name": "站\x00", "lat": 37.38, "lon": 117.97}
    r = await client.post("/v1/sites", json=body, headers=auth)
    await refused(r, 422)
    assert r.json()["errors"][0]["field"] == "name"
    etag = (await client.get(f"/v1/sites/{site}")).headers["etag"]
    r = await client.patch(f"/v1/sites/{site}", json={"services": ["a\x00"]}, headers={**auth, "If-Match": etag})
    await refused(r, 422)


@pytest.mark.parametrize("instant", ["9999-12-31T23:59:59", "0001-01-01T00:00:00", "9999-12-31T23:59:59-12:00"])
async def test_datetimes_at_the_edge_of_the_calendar(
    client: httpx.AsyncClient, conn: asyncpg.Connection, auth: dict[str, str], instant: str
) -> None:
    r = await client.get("/v1/sites/nearest", params={"lat": 37.38, "lon": 117.97, "at": instant})
    await refused(r, 422)
    assert r.json()["errors"][0]["field"] == "at"
    await refused(await client.get("/v1/sites", params={"updated_since": instant}), 422)
    site = await conn.fetchval("SELECT min(id) FROM sites")
    etag = (await client.get(f"/v1/sites/{site}")).headers["etag"]
    r = await client.patch(f"/v1/sites/{site}", json={"last_verified_at": instant}, headers={**auth, "If-Match": etag})
    await refused(r, 422)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"not a zip file", XLSX_MEDIA_TYPE),
        (b'{"type": "FeatureCollection", "features": 5}', "application/geo+json"),
        (b'{"type": "FeatureCollection", "features": [{"geometry": "x"}]}', "application/geo+json"),
        (b'{"type": "FeatureCollection", "features": [{"properties": [1]}]}', "application/geo+json"),
    ],
)
async def test_bulk_bodies_that_are_not_what_they_claim(
    client: httpx.AsyncClient, auth: dict[str, str], content: bytes, content_type: str
) -> None:
    r = await client.post("/v1/sites/bulk", content=content, headers={**auth, "Content-Type": content_type})
    assert r.status_code < 500, r.text
    assert r.headers["content-type"] in ("application/problem+json", "application/json")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"external_id,name\n1," + b"x" * 200_000 + b"\n", "text/csv"),  # past the csv module's field limit
        (b'external_id,name\n1,"a\rb\n', "text/csv"),  # a bare CR in an unterminated quoted field
        (b"[" * 100_000 + b"]" * 100_000, "application/json"),  # nested far past any real document
        (
            b'{"type": "FeatureCollection", "features": [{"geometry": {"type": "Point", "coordinates": [1]}}]}',
            "application/geo+json",
        ),
    ],
)
async def test_damaged_bulk_files(
    client: httpx.AsyncClient, auth: dict[str, str], content: bytes, content_type: str
) -> None:
    r = await client.post("/v1/sites/bulk", content=content, headers={**auth, "Content-Type": content_type})
    assert r.status_code == 422, r.text
    body = r.json()
    named = [e["field"] for e in body.get("errors") or []] + [
        str(reason) for row in body.get("rows", []) for reason in row.get("reasons", [])
    ]
    assert named, body  # the body or the row is named


@pytest.mark.parametrize("text", ["铃\x07声", "\x1b[31m红\x1b[0m", "回\r车", "a\x7fb"])
async def test_control_characters_in_names(client: httpx.AsyncClient, auth: dict[str, str], text: str) -> None:
    body = {"kind": "legal_aid", "name": text, "lat": 37.38, "lon": 117.97}
    r = await client.post("/v1/sites", json=body, headers=auth)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name"


async def test_a_note_keeps_its_line_breaks_but_not_other_control_characters(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    site = await conn.fetchval("SELECT min(id) FROM sites")
    assert (
        await client.post(f"/v1/sites/{site}/reports", json={"type": "other", "note": "第一行\n第二行!"})
    ).status_code == 201
    for note in ("响\x07", "第一行\n第二行\t!"):  # a tab starts a formula in a CSV cell; a note has no use for it
        await refused(await client.post(f"/v1/sites/{site}/reports", json={"type": "other", "note": note}), 422)


async def test_lists_are_bounded(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    for field, value in (
        ("services", ["帮扶"] * 51),
        ("photos", ["https://x.cn/p.jpg"] * 51),
        ("amenities", ["wifi"] * 51),
    ):
        body = {"kind": "legal_aid", "name": "站", "lat": 37.38, "lon": 117.97, field: value}
        r = await client.post("/v1/sites", json=body, headers=auth)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field


async def test_a_report_with_half_a_location(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    site = await conn.fetchval("SELECT min(id) FROM sites")
    for half in ({"lat": 37.3}, {"lon": 117.9}):
        await refused(await client.post(f"/v1/sites/{site}/reports", json={"type": "closed", **half}), 422)


async def test_a_cursor_from_the_future(client: httpx.AsyncClient) -> None:
    for txid in (2**40, 2**62):
        r = await client.get("/v1/changes", params={"since": encode_cursor("c", txid, 1)})
        await refused(r, 422)
        assert r.json()["errors"][0]["field"] == "since"


async def test_large_bodies_are_refused_before_they_are_read(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    site = await conn.fetchval("SELECT min(id) FROM sites")
    big = b'{"type": "other", "note": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    r = await client.post(f"/v1/sites/{site}/reports", content=big, headers={"Content-Type": "application/json"})
    await refused(r, 413)

    async def chunks():  # no Content-Length: counted as it arrives
        for _ in range(40):
            yield b"x" * 100_000

    r = await client.post(f"/v1/sites/{site}/reports", content=chunks(), headers={"Content-Type": "application/json"})
    await refused(r, 413)


@pytest.mark.parametrize(
    "url",
    [
        "/v1/sites/bulk?dry_run=true&dry_run=false",
        "/v1/sites?limit=1&limit=1000",
        "/v1/sites/nearest?lat=37.38&lon=117.97&lat=0",
        "/v1/coverage/regions/371600?kind=legal_aid&kind=outdoor_station",
        "/v1/changes?since=x&since=y",
    ],
)
async def test_a_single_valued_parameter_given_twice(client: httpx.AsyncClient, auth: dict[str, str], url: str) -> None:
    r = await client.request("POST" if "bulk" in url else "GET", url, headers=auth, json=[])
    await refused(r, 422)
    assert r.json()["errors"][0]["field"] == url.split("?")[1].split("&")[-1].split("=")[0]


async def test_repeatable_parameters_still_repeat(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/sites", params=[("kind", "legal_aid"), ("kind", "outdoor_station"), ("limit", "5")])
    assert r.status_code == 200
    assert (await client.get("/ogc/collections/legal_aid/items?limit=1&limit=2")).status_code == 400


@pytest.mark.parametrize(
    "path",
    ["/v1/sites", "/v1/sites/nearest?lat=37.38&lon=117.97", "/v1/coverage/regions/371600", "/ogc/collections"],
)
async def test_a_query_string_over_the_limit(client: httpx.AsyncClient, path: str) -> None:
    glue = "&" if "?" in path else "?"
    r = await client.get(f"{path}{glue}q={'站' * 3000}")
    await refused(r, 414, 400)
    assert r.json()["errors"][0]["field"] == "query"


@pytest.mark.parametrize(
    ("query", "field"),
    [("q=%FF%FE", "q"), ("kind=legal%C0aid", "kind"), ("lat=37.38&lon=117.97&kind=%E9%A9", "kind"), ("%FF=1", "query")],
)
async def test_percent_encoded_bytes_that_are_not_utf8(client: httpx.AsyncClient, query: str, field: str) -> None:
    path = "/v1/sites/nearest" if "lat=" in query else "/v1/sites"
    r = await client.get(f"{path}?{query}")
    await refused(r, 422)
    assert r.json()["errors"][0]["field"] == field
