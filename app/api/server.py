"""How `yizhan serve` runs uvicorn: the production settings in one place, and problem+json for requests the HTTP
parser refuses before the application sees them.

uvicorn answers an unparsable request (bytes that are not ASCII in the target or a header name, a target past the
parser's limit of about 64 KB) with its own `400 text/plain`. Clients of this API read problem+json on every
error, so the protocol class below answers those in the same form; everything else is uvicorn's. It also bounds a
request's head: its size (431 past MAX_HEADER_BYTES, MAX_HEADERS or MAX_HEAD_BYTES) and the time it takes to
arrive (408 and the connection closed past REQUEST_HEAD_TIMEOUT_S), which uvicorn's httptools protocol leaves open.
"""

import asyncio
from functools import cache
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import Settings
from app.problems import MEDIA_TYPE, HeadersTooLarge, MalformedRequest, RequestTimeout, YizhanError

MALFORMED = MalformedRequest(
    "the request line or a header is not valid HTTP/1.1: bytes outside ASCII or control characters "
    "(percent-encode the target as UTF-8), or a target too long to read"
)


# Limits on a request's head (its request line and header fields), past which the answer is 431: a header or a
# cookie this service reads is a few hundred bytes, and browsers and proxies stay well within these.
MAX_HEADER_BYTES = 32 * 1024  # the header fields' names and values together
MAX_HEADERS = 100  # header fields
# The whole head as it arrives (request line and header fields), checked while it is incomplete: one header too
# large is refused as it grows, not once the parser holds all of it. Above the parser's own limit on a target
# (~64 KB, answered 400), so a long target is still refused as before.
MAX_HEAD_BYTES = 128 * 1024


HEAD_TOO_LARGE = HeadersTooLarge(
    f"the request's header fields are over {MAX_HEADER_BYTES} bytes, {MAX_HEADERS} fields, or a head of "
    f"{MAX_HEAD_BYTES} bytes"
)


class HeadTooLarge(Exception):
    """Raised from a parser callback; the parser reports it as an error, answered 431 (send_400_response)."""


@cache
def _head_timeout_s() -> float:
    return Settings().request_head_timeout_s


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (the fast one; h11's own head limit would cost every request its speed) with
    problem+json for refused requests, limits on the request head (431), and a time limit on receiving it: a
    connection whose head does not arrive whole within REQUEST_HEAD_TIMEOUT_S of its first byte (or of connecting)
    gets 408 and is closed, so slow-header clients cannot hold connections open."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes: int | None = None  # received of the head being read; None between heads
        self._header_bytes = 0
        self._header_count = 0
        self._head_too_large = False
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_bytes = 0
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        super().data_received(data)
        # Still inside a head after this chunk: every byte of it was head.
        if self._head_bytes is not None and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._answer(HEAD_TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes, self._header_bytes, self._header_count = 0, 0, 0
        if self._head_timer is None:
            self._start_head_timer()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._header_bytes += len(name) + len(value)
        if self._header_count > MAX_HEADERS or self._header_bytes > MAX_HEADER_BYTES:
            self._head_too_large = True
            raise HeadTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        self._stop_head_timer()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if self._head_too_large:
            self._answer(HEAD_TOO_LARGE)
        else:
            self._answer(MALFORMED)

    def _start_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(_head_timeout_s(), self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self._answer(HEAD_TIMED_OUT)

    def _answer(self, error: YizhanError) -> None:
        """A problem+json answer written straight to the connection, which is then closed."""
        self._stop_head_timer()
        problem = error.json()
        head = [f"HTTP/1.1 {error.status} {error.title}\r\n".encode()]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        head += [
            b"content-type: " + MEDIA_TYPE.encode() + b"\r\n",
            b"content-length: " + str(len(problem)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + problem)
        self.transport.close()


HEAD_TIMED_OUT = RequestTimeout("the request's head did not arrive in time")


def serve(host: str, port: int, workers: int, forwarded_allow_ips: str | None) -> None:
    """Serve app.main:app. X-Forwarded-For is believed only from the proxies named (uvicorn's default trusts any
    local peer, so any client on the machine could pick the address its rate limit is counted against)."""
    uvicorn.run(
        "app.main:app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=ProblemHttpToolsProtocol,
        access_log=False,  # app.observability.requests writes one line per request
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
        timeout_graceful_shutdown=30,
    )
