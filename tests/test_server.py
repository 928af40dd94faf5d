"""What `yizhan serve` adds to the application, on a real socket: problem+json for requests the HTTP parser
refuses, and X-Forwarded-For believed only from the proxies FORWARDED_ALLOW_IPS names."""

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from app.config import Settings
from tests.tools import start_server


@pytest.fixture(scope="module")
def base(settings: Settings) -> Iterator[str]:
    server, base = start_server(settings)
    try:
        yield base
    finally:
        server.terminate()
        server.wait(30)


def exchange(base: str, request: bytes) -> tuple[bytes, dict[str, str], bytes]:
    """Send raw bytes, read the answer to the end: its status line, headers and body."""
    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {k.decode().lower(): v.decode() for k, _, v in (line.partition(b": ") for line in lines)}
    return status, headers, body


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /v1/sites?q=\xe9\xa9\xbf\xff HTTP/1.1\r\nHost: x\r\n\r\n",  # raw bytes in the target
        b"GET /v1/sites/\x01 HTTP/1.1\r\nHost: x\r\n\r\n",  # a control character
        b"GET /v1/sites HTTP/1.1\r\nHost: x\r\nX-\xff: 1\r\n\r\n",  # a header name outside ASCII
        b"GET /v1/sites?q=" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # past the parser's limit
        b"NOT HTTP AT ALL\r\n\r\n",
    ],
    ids=["raw-bytes", "control-character", "header-name", "long-target", "garbage"],
)
def test_an_unparsable_request_is_a_400_problem(base: str, request_bytes: bytes) -> None:
    status, headers, body = exchange(base, request_bytes)
    assert status == b"HTTP/1.1 400 Bad Request"
    assert headers["content-type"] == "application/problem+json"
    problem = orjson.loads(body)
    assert problem["status"] == 400 and "not valid HTTP/1.1" in problem["detail"]


def test_the_same_query_percent_encoded_is_answered(base: str) -> None:
    answer = httpx.get(f"{base}/v1/sites", params={"q": "驿站", "limit": 1})
    assert answer.status_code == 200


@pytest.mark.parametrize("forwarded_allow_ips", [None, "127.0.0.1"])
def test_forwarded_for_is_believed_only_from_named_proxies(settings: Settings, forwarded_allow_ips: str | None) -> None:
    env = {"RATE_LIMIT_READS_PER_MINUTE": "3"}
    if forwarded_allow_ips is not None:
        env["FORWARDED_ALLOW_IPS"] = forwarded_allow_ips
    server, base = start_server(settings, **env)
    try:
        # Each request claims another address, as a client dodging its limit would.
        statuses = [
            httpx.get(f"{base}/v1/vocabularies", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
            for n in range(6)
        ]
    finally:
        server.terminate()
        server.wait(30)
    if forwarded_allow_ips is None:
        assert statuses.count(429) >= 2, statuses  # one address, one budget (the readiness probe spent one)
    else:
        assert statuses == [200] * 6  # the trusted proxy's word: six clients, a budget each
