"""Every request has an id (taken when plausible, made otherwise) and one JSON log line naming its route template,
status, duration, bytes and the calling key's name — never the key, never the raw path."""

import io
import json
import re
from collections.abc import Callable, Iterator

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings
from app.keys import service as keys
from app.main import create_app
from app.observability import requests as observability


@pytest.fixture
def lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], list[dict]]]:
    """The lines logged so far while the test runs."""
    out = io.BytesIO()
    recorder = observability.Recorder(out, every=0.1)
    monkeypatch.setattr(observability, "recorder", recorder)

    def written() -> list[dict]:
        recorder.flush()
        return [json.loads(line) for line in out.getvalue().splitlines()]

    yield written
    recorder.close()


def test_the_recorder_writes_one_json_object_a_line_in_order() -> None:
    out = io.BytesIO()
    recorder = observability.Recorder(out, every=0.1)
    for n in range(1000):
        recorder.put((1764600000.5 + n, f"r{n}".encode(), "GET", "/v1/sites", 200, n / 1000, None, n))
    recorder.close()
    written = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [w["request_id"] for w in written] == [f"r{n}" for n in range(1000)]
    assert written[0]["time"] == "2025-12-01T14:40:00.500+00:00"
    assert [w["duration_ms"] for w in written] == [float(n) for n in range(1000)]
    assert written[7] == {
        "time": "2025-12-01T14:40:07.500+00:00",
        "request_id": "r7",
        "method": "GET",
        "route": "/v1/sites",
        "status": 200,
        "duration_ms": 7.0,
        "key": None,
        "bytes": 7,
    }


async def test_the_request_id_is_kept_or_made_and_returned(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.42"})).headers[
        "x-request-id"
    ] == "lb-7f3a.42"
    made = (await client.get("/healthz")).headers["x-request-id"]
    again = (await client.get("/healthz")).headers["x-request-id"]
    assert re.fullmatch("[0-9a-f]{32}", made) and again != made
    for implausible in ("a b", "x" * 200, "<script>", ""):
        answer = (await client.get("/healthz", headers={"X-Request-ID": implausible})).headers["x-request-id"]
        assert answer != implausible and len(answer) == 32


async def test_a_problem_names_its_request(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/sites/999999999", headers={"X-Request-ID": "probe-1"})
    assert r.status_code == 404 and r.json()["instance"] == "urn:request:probe-1"
    bad = await client.get("/v1/sites/nearest", params={"lat": 999, "lon": 0}, headers={"X-Request-ID": "probe-2"})
    assert bad.status_code == 422 and bad.json()["instance"] == "urn:request:probe-2"


async def test_one_line_per_request_with_the_route_template_and_the_keys_name(
    client: httpx.AsyncClient,
    conn: asyncpg.Connection,
    sa_conn: AsyncConnection,
    lines: Callable[[], list[dict]],
) -> None:
    site = await conn.fetchval("SELECT min(id) FROM sites")
    secret = await keys.create(sa_conn, "无棣县总工会", ["write"], None)
    await client.get(f"/v1/sites/{site}", headers={"X-Request-ID": "read-1"})
    await client.get("/v1/reports", headers={"Authorization": f"Bearer {secret}", "X-Request-ID": "queue-1"})
    logged = lines()
    read, queue = logged[-2:]
    assert read["request_id"] == "read-1" and read["route"] == "/v1/sites/{site_id}" and read["status"] == 200
    assert read["method"] == "GET" and read["bytes"] > 100 and read["duration_ms"] > 0 and read["key"] is None
    assert queue["route"] == "/v1/reports" and queue["key"] == "无棣县总工会"
    assert all(secret not in json.dumps(line, ensure_ascii=False) for line in logged)


def test_log_times_are_iso_8601_utc_to_the_millisecond() -> None:
    import random
    from datetime import UTC, datetime

    from app.observability.requests import _iso_time

    rng = random.Random(7)
    for at in [0.0, 1_700_000_000.9996, *(rng.uniform(0, 4e9) for _ in range(1000))]:
        assert _iso_time(at) == datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds"), at


async def test_an_unexpected_error_is_a_500_with_its_request_id_and_its_line(
    settings: Settings, lines: Callable[[], list[dict]]
) -> None:
    application = create_app(settings)

    async def fails() -> None:
        raise RuntimeError("a bug")

    application.add_api_route("/v1/fails", fails)
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        failed = await client.get("/v1/fails", headers={"X-Request-ID": "bug-1"})
        made = await client.get("/v1/fails")
    assert failed.status_code == 500 and failed.headers["x-request-id"] == "bug-1"
    assert failed.json()["instance"] == "urn:request:bug-1" and "a bug" not in failed.text
    assert made.json()["instance"] == f"urn:request:{made.headers['x-request-id']}"
    (line,) = [line for line in lines() if line["request_id"] == "bug-1"]
    assert line["status"] == 500 and line["route"] == "/v1/fails" and line["bytes"] == len(failed.content)


async def test_with_observe_requests_off_requests_get_no_id_and_no_line(
    settings: Settings, lines: Callable[[], list[dict]]
) -> None:
    application = create_app(settings.model_copy(update={"observe_requests": False}))
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.get("/healthz", headers={"X-Request-ID": "quiet-1"})
        missing = await client.get("/v1/nothing-here")
    assert answer.status_code == 200 and "x-request-id" not in answer.headers
    assert missing.status_code == 404 and "instance" not in missing.json()
    assert lines() == []
