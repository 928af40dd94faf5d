"""How `yizhan serve` runs uvicorn: the production settings in one place, and problem+json for requests the HTTP
parser refuses before the application sees them.

uvicorn answers an unparsable request (bytes that are not ASCII in the target or a header name, a target past the
parser's limit of about 64 KB) with its own `400 text/plain`. Clients of this API read problem+json on every
error, so the protocol class below answers those in the same form; everything else is uvicorn's.
"""

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.errors import PROBLEM_MEDIA_TYPE

MALFORMED = orjson.dumps(
    {
        "type": "/problems/malformed-request",
        "title": "Bad Request",
        "status": 400,
        "detail": "the request line or a header is not valid HTTP/1.1: bytes outside ASCII or control characters "
        "(percent-encode the target as UTF-8), or a target too long to read",
    }
)


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        head += [
            b"content-type: " + PROBLEM_MEDIA_TYPE.encode() + b"\r\n",
            b"content-length: " + str(len(MALFORMED)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + MALFORMED)
        self.transport.close()


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
        access_log=False,  # app.observability writes one line per request
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
        timeout_graceful_shutdown=30,
    )
