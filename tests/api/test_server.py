"""What `yizhan serve` adds to the application, on a real socket: problem+json for requests the HTTP parser
refuses, and X-Forwarded-For believed only from the proxies FORWARDED_ALLOW_IPS names."""

import contextlib
import socket
import time
from collections.abc import Callable, Iterator
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
    return parsed(answer)


def parsed(answer: bytes) -> tuple[bytes, dict[str, str], bytes]:
    """A raw HTTP answer's status line, headers and body."""
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


def send_until_answered(base: str, pieces: Iterator[bytes]) -> tuple[bytes, dict[str, str], bytes]:
    """Send `pieces` until the server answers (or stops reading), then read its answer to the end."""
    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        answer = b""
        for piece in pieces:
            try:
                sock.sendall(piece)
            except OSError:  # the server answered and closed while the rest was on its way
                break
            sock.settimeout(0.001)
            try:
                answer += sock.recv(65536)
                break
            except (TimeoutError, BlockingIOError):
                pass
            finally:
                sock.settimeout(10)
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                answer += chunk
    return parsed(answer)


def many_headers(count: int, size: int) -> Iterator[bytes]:
    yield b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
    for n in range(count):
        yield f"X-Filler-{n}: ".encode() + b"a" * size + b"\r\n"
    yield b"\r\n"


def one_header(size: int) -> Iterator[bytes]:
    yield b"GET /healthz HTTP/1.1\r\nHost: x\r\nCookie: "
    for _ in range(size // 16_384):
        yield b"a" * 16_384
    yield b"\r\n\r\n"


@pytest.mark.parametrize(
    "pieces",
    [
        lambda: many_headers(100, 10),  # 101 with Host: past MAX_HEADERS, each small
        lambda: many_headers(40, 1_000),  # 40 KB of header fields, past MAX_HEADER_BYTES
        lambda: one_header(40_000),  # one 40 KB header
        lambda: one_header(100 * 1024 * 1024),  # one 100 MB header: refused as it grows, not read whole
    ],
    ids=["101-headers", "40-kb-of-headers", "one-40-kb-header", "one-100-mb-header"],
)
def test_a_request_head_past_the_limits_is_a_431_problem(base: str, pieces: Callable[[], Iterator[bytes]]) -> None:
    status, headers, body = send_until_answered(base, pieces())
    assert status == b"HTTP/1.1 431 Request Header Fields Too Large", status
    assert headers["content-type"] == "application/problem+json"
    assert orjson.loads(body)["status"] == 431
    assert httpx.get(f"{base}/healthz").status_code == 200  # and the server carries on


@pytest.mark.parametrize(
    "pieces", [lambda: many_headers(99, 10), lambda: many_headers(30, 1_000)], ids=["100-headers", "30-kb"]
)
def test_a_request_head_within_the_limits_is_answered(base: str, pieces: Callable[[], Iterator[bytes]]) -> None:
    status, _, _ = send_until_answered(base, (b"".join(pieces()).replace(b"HTTP/1.1\r\n", b"HTTP/1.0\r\n", 1),))
    assert status.endswith(b"200 OK"), status


HEAD_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def impatient(settings: Settings) -> Iterator[str]:
    server, base = start_server(settings, REQUEST_HEAD_TIMEOUT_S=str(HEAD_TIMEOUT_S))
    try:
        yield base
    finally:
        server.terminate()
        server.wait(30)


@pytest.mark.parametrize(
    "drip",
    [
        b"",  # connects and sends nothing
        b"GET /healthz HTTP/1.1\r\n",  # a request line, then nothing
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a",  # part of a header, then a byte at a time
    ],
    ids=["silent", "request-line-only", "a-byte-at-a-time"],
)
def test_a_head_that_does_not_arrive_in_time_is_dropped(impatient: str, drip: bytes) -> None:
    url = urlsplit(impatient)
    with socket.create_connection((url.hostname, url.port), timeout=HEAD_TIMEOUT_S * 5) as sock:
        started = time.monotonic()
        sock.sendall(drip)
        answer = b""
        with contextlib.suppress(OSError):
            while time.monotonic() - started < HEAD_TIMEOUT_S * 4:
                if drip.endswith(b"a"):
                    sock.sendall(b"a")  # a byte every 0.2 s: each keeps the connection busy, none completes the head
                sock.settimeout(0.2)
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                answer += chunk
        held = time.monotonic() - started
    assert held < HEAD_TIMEOUT_S * 3, f"the connection was held {held:.1f} s"
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]
    # An ordinary request on the same server is answered.
    assert httpx.get(f"{impatient}/healthz").status_code == 200
