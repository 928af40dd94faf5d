"""Bulk imports under faults, on a database of their own (these writes commit): two imports of the same rows in
opposite order at once, a client that goes away mid-import, a SIGTERM mid-import. None leaves a row half-written:
an import is in the register whole or not at all, and a lost race is a 409 with Retry-After, never a 500."""

import asyncio
import signal
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from app.config import Settings
from app.main import create_app
from tests.tools import own_database, start_server

ROWS = 2_000  # the race: rows both imports update
IMPORT_ROWS = 8_000  # the cut imports: a few seconds of work


@pytest.fixture(scope="module")
def database() -> Iterator[tuple[Settings, str]]:
    with own_database("bulk_faults") as found:
        yield found


def csv_of(source: str, rows: range, name: str) -> bytes:
    lines = ["external_id,name,kind,lat,lon"]
    lines += [
        f"{source}-{n},{name}{n},legal_aid,{37.0 + n % 100 * 0.005:.5f},{117.5 + n // 100 * 0.005:.5f}" for n in rows
    ]
    return "\n".join(lines).encode()


async def register_of(settings: Settings, source: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(str(settings.database_url))
    try:
        return await conn.fetch("SELECT external_id, name, version FROM sites WHERE source = $1", source)
    finally:
        await conn.close()


async def test_imports_of_the_same_rows_in_opposite_order_never_deadlock(database: tuple[Settings, str]) -> None:
    settings, key = database
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "text/csv"}
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://yizhan.test", timeout=120) as http:

            async def bulk(body: bytes) -> httpx.Response:
                return await http.post("/v1/sites/bulk", params={"source": "race"}, content=body, headers=headers)

            assert (await bulk(csv_of("race", range(ROWS), "站"))).status_code == 200
            answers: list[httpx.Response] = []
            for round_ in range(2):
                forward = csv_of("race", range(ROWS), f"甲{round_}-")
                backward = csv_of("race", range(ROWS - 1, -1, -1), f"乙{round_}-")
                answers += await asyncio.gather(bulk(forward), bulk(backward))
    # Both take their row locks in the same order, so one waits for the other and neither is refused.
    assert [a.status_code for a in answers] == [200] * len(answers), [a.text[:300] for a in answers]
    rows = await register_of(settings, "race")
    assert len(rows) == ROWS
    assert {r["version"] for r in rows} == {1 + len(answers)}, "each import changed each row once"
    assert len({r["name"][:2] for r in rows}) == 1, "the rows are all the last import's, none another's"


async def test_an_import_that_loses_a_deadlock_is_a_409_and_writes_nothing(database: tuple[Settings, str]) -> None:
    """A deadlock made on purpose: another transaction holds the import's last row and then asks for its first."""
    settings, key = database
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "text/csv"}
    other = await asyncpg.connect(str(settings.database_url))
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://yizhan.test", timeout=120) as http:

                async def bulk(name: str) -> httpx.Response:
                    body = csv_of("deadlock", range(ROWS), name)
                    return await http.post(
                        "/v1/sites/bulk", params={"source": "deadlock"}, content=body, headers=headers
                    )

                assert (await bulk("站")).status_code == 200
                first, last = await other.fetchrow("SELECT min(id), max(id) FROM sites WHERE source = 'deadlock'")  # type: ignore[misc]
                async with other.transaction():
                    # The import's backend finds the deadlock first (1 s, the default) and is the one refused.
                    await other.execute("SET LOCAL deadlock_timeout = '20s'")
                    await other.execute("SELECT 1 FROM sites WHERE id = $1 FOR UPDATE", last)
                    importing = asyncio.create_task(bulk("死锁"))
                    await asyncio.sleep(0.5)  # it has locked every row but the last, and waits for that one
                    await other.execute("UPDATE sites SET name = name WHERE id = $1", first)
                answer = await importing
    finally:
        await other.close()
    assert answer.status_code == 409, answer.text[:300]
    assert answer.headers["content-type"] == "application/problem+json" and answer.headers["retry-after"]
    rows = await register_of(settings, "deadlock")
    assert {r["version"] for r in rows} == {1} and {r["name"][:1] for r in rows} == {"站"}


def send_and_hang_up(base: str, path: str, body: bytes, headers: dict[str, str], send: int) -> None:
    """POST `body` but send only its first `send` bytes (all of it if larger), then close the connection."""
    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port)) as sock:
        head = [f"POST {path} HTTP/1.1", f"Host: {url.netloc}", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body[:send])
        time.sleep(0.5 if send < len(body) else 1.5)  # mid-upload, or while the import is being written


@pytest.mark.parametrize("hang_up", ["mid-upload", "mid-import"])
async def test_a_client_that_goes_away_leaves_the_import_whole_or_absent(
    database: tuple[Settings, str], hang_up: str
) -> None:
    settings, key = database
    source = f"gone-{hang_up}"
    body = csv_of(source, range(IMPORT_ROWS), "断线站")
    server, base = start_server(settings)
    try:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "text/csv"}
        send = len(body) // 2 if hang_up == "mid-upload" else len(body)
        await asyncio.to_thread(send_and_hang_up, base, f"/v1/sites/bulk?source={source}", body, headers, send)
        assert (await asyncio.to_thread(httpx.get, f"{base}/healthz")).status_code == 200
    finally:
        server.terminate()  # a graceful stop: whatever the server still does for the gone client finishes first
        server.wait(60)
    found = len(await register_of(settings, source))
    if hang_up == "mid-upload":
        assert found == 0  # the body never arrived whole: nothing was imported
    else:
        assert found in (0, IMPORT_ROWS), f"{found} of {IMPORT_ROWS} rows: half-written"


async def test_sigterm_mid_import_finishes_it_whole(database: tuple[Settings, str]) -> None:
    settings, key = database
    body = csv_of("sigterm", range(IMPORT_ROWS), "停机站")
    server, base = start_server(settings)
    answer: dict[str, httpx.Response | Exception] = {}

    def importing() -> None:
        try:
            answer["bulk"] = httpx.post(
                f"{base}/v1/sites/bulk",
                params={"source": "sigterm"},
                content=body,
                headers={"Authorization": f"Bearer {key}", "Content-Type": "text/csv"},
                timeout=120,
            )
        except Exception as failed:  # the assertion below says what happened
            answer["bulk"] = failed

    try:
        thread = threading.Thread(target=importing)
        thread.start()
        await asyncio.sleep(0.8)  # the import is being checked and written
        server.send_signal(signal.SIGTERM)
        await asyncio.to_thread(thread.join, 120)
        assert server.wait(60) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
    done = answer["bulk"]
    assert isinstance(done, httpx.Response), done
    assert done.status_code == 200, done.text[:300]
    assert done.json()["summary"]["created"] == IMPORT_ROWS
    assert len(await register_of(settings, "sigterm")) == IMPORT_ROWS
