"""Slow uploads cannot starve the writes: a body is read whole before its request takes a write connection, a
client that stops sending its body gets 408 and loses the connection, and a write that finds every connection
busy is a 503 with Retry-After, never a 500. Real slow clients (raw sockets) against a live server with a small
pool."""

import asyncio
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from urllib.parse import urlsplit

import asyncpg
import httpx
import orjson
import pytest

from app.config import Settings
from tests.conftest import serving
from tests.tools import own_database, unlimited

pytestmark = pytest.mark.alone  # requests timed beside slow uploads

STALLED = 16
BODY_TIMEOUT_S = 1.5
POOL_TIMEOUT_S = 1.0
BINCHENG_CENTRE = {"lat": 37.3805, "lon": 117.9702}


@pytest.fixture(scope="module")
def database() -> Iterator[tuple[Settings, str]]:
    with own_database("slow_uploads") as (settings, key):
        small = unlimited(
            str(settings.database_url),
            db_pool_max=2,
            db_pool_timeout_s=POOL_TIMEOUT_S,
            request_body_timeout_s=BODY_TIMEOUT_S,
        )
        yield small, key


def stall(base: str, head: bytes, sent: bytes) -> socket.socket:
    """A client that sends the request head and the first bytes of its body, then nothing."""
    url = urlsplit(base)
    sock = socket.create_connection((url.hostname, url.port), timeout=15)
    sock.sendall(head + sent)
    return sock


def bulk_head(key: str, length: int = 100_000) -> bytes:
    return (
        f"POST /v1/sites/bulk?source=slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: text/csv\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def site_head(key: str, length: int = 10_000) -> bytes:
    return (
        f"POST /v1/sites HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def chunked_bulk_head(key: str) -> bytes:
    return (
        f"POST /v1/sites/bulk?source=slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        "Content-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes, bool]:
    """The status, headers and body a stalled client gets, and whether the server then closed the connection."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {k.decode().lower(): v.decode() for k, _, v in (line.partition(b": ") for line in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        body += sock.recv(65536)
    sock.settimeout(5)
    try:
        closed = sock.recv(1) == b""
    except (TimeoutError, ConnectionResetError):
        closed = False
    return int(status.split()[1]), headers, body, closed


async def writes_answer(base: str, key: str, round_: str) -> list[tuple[int, float]]:
    """Three ordinary writes (a create, a small bulk import, an edit): each one's status and seconds taken."""
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as http:
        timed = []
        started = time.monotonic()
        site = {"kind": "legal_aid", "name": f"快站{round_}", "source": "quick", **BINCHENG_CENTRE}
        created = await http.post("/v1/sites", json={**site, "external_id": f"q{round_}"})
        timed.append((created.status_code, time.monotonic() - started))
        started = time.monotonic()
        rows = [{**site, "external_id": f"qb{round_}"}]
        bulk = await http.post(
            "/v1/sites/bulk",
            params={"source": "quick"},
            content=orjson.dumps(rows),
            headers={"Content-Type": "application/json"},
        )
        timed.append((bulk.status_code, time.monotonic() - started))
        started = time.monotonic()
        if created.status_code == 201:
            edited = await http.patch(
                f"/v1/sites/{created.json()['id']}",
                json={"phone": "0543-1234567"},
                headers={"If-Match": created.headers["etag"]},
            )
            timed.append((edited.status_code, time.monotonic() - started))
        return timed


@pytest.mark.parametrize(
    "make_head, sent",
    [
        (bulk_head, b"external_i"),  # headers and 10 bytes, then nothing
        (bulk_head, b""),  # headers only
        (chunked_bulk_head, b"a\r\nexternal_i\r\n"),  # a chunk of a chunked body, then nothing
        (site_head, b'{"kind": "'),  # a JSON body of an ordinary write
    ],
    ids=["bulk-10-bytes", "bulk-headers-only", "bulk-chunked", "create-json"],
)
async def test_stalled_uploads_hold_no_write_connection_and_end_in_408(
    database: tuple[Settings, str], make_head: object, sent: bytes, request: pytest.FixtureRequest
) -> None:
    settings, key = database
    with serving(settings) as base, ExitStack() as sockets:
        stalled = [sockets.enter_context(stall(base, make_head(key), sent)) for _ in range(STALLED)]  # type: ignore[operator]
        await asyncio.sleep(0.3)
        timed = await writes_answer(base, key, request.node.callspec.id)
        assert [status for status, _ in timed] == [201, 200, 200], timed
        assert max(seconds for _, seconds in timed) < BODY_TIMEOUT_S, timed
        answers = await asyncio.gather(*(asyncio.to_thread(read_answer, s) for s in stalled))
    for status, headers, body, closed in answers:
        assert status == 408
        assert headers["content-type"] == "application/problem+json"
        assert orjson.loads(body)["status"] == 408
        assert closed, "the connection of a client that stopped sending is closed"


async def test_an_exhausted_write_pool_is_a_503_with_retry_after(database: tuple[Settings, str]) -> None:
    """Every write connection held by an edit waiting on a row lock: the next writes wait POOL_TIMEOUT_S, then 503."""
    settings, key = database
    holder = await asyncpg.connect(str(settings.database_url))
    try:
        site_id, version = await holder.fetchrow(
            "SELECT id, version FROM sites WHERE deleted_at IS NULL ORDER BY id LIMIT 1"
        )
        with serving(settings) as base:
            async with httpx.AsyncClient(base_url=base, timeout=60, headers={"Authorization": f"Bearer {key}"}) as http:
                transaction = holder.transaction()
                await transaction.start()
                await holder.execute("SELECT 1 FROM sites WHERE id = $1 FOR UPDATE", site_id)
                edits = [
                    asyncio.create_task(
                        http.patch(
                            f"/v1/sites/{site_id}",
                            json={"phone": f"0543-{n:07d}"},
                            headers={"If-Match": f'"{site_id}-{version}"'},
                        )
                    )
                    for n in range(14)  # more than the write pool holds (2 + 10 overflow)
                ]
                await asyncio.sleep(0.5)
                site = {"kind": "legal_aid", "name": "等不到的站", "source": "busy", **BINCHENG_CENTRE}
                waiting = [
                    await http.post("/v1/sites", json={**site, "external_id": "b1"}),
                    await http.post(
                        "/v1/sites/bulk",
                        params={"source": "busy"},
                        content=orjson.dumps([{**site, "external_id": "b2"}]),
                        headers={"Content-Type": "application/json"},
                    ),
                    await http.delete(f"/v1/sites/{site_id}", headers={"If-Match": f'"{site_id}-{version}"'}),
                ]
                await transaction.rollback()
                edited = await asyncio.gather(*edits)
    finally:
        await holder.close()
    for answer in waiting:
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert int(answer.headers["retry-after"]) >= 1
        assert answer.json()["type"] == "/problems/database-busy"
    # The edits that had a connection went on once the lock was gone; the rest were told to come back.
    statuses = [e.status_code for e in edited]
    assert set(statuses) <= {200, 412, 503} and statuses.count(200) == 1, [e.text for e in edited]
