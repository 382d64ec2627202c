"""Reading a response body the way every awsroles caller needs it: whole, bounded by the
request's ``max_body`` (before and after decompression), and decoded when a server compressed
it anyway (gzip or deflate, as requests would decode them).
"""

from __future__ import annotations

from ..errors import TransportError, safe_url
from .base import HttpRequest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, Optional, Tuple

__all__ = [
    "read_body",
    "collect",
    "check_complete",
    "too_large",
    "too_slow",
    "hang_up",
    "CHUNK",
]

CHUNK = 64 * 1024


def collect(chunks: Iterable[bytes], request: HttpRequest) -> bytes:
    """The chunks joined, or the "too large" error as soon as they pass ``max_body``."""
    parts = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > request.max_body:
            raise too_large(request)
        parts.append(chunk)
    return b"".join(parts)


def read_body(response: Any, request: HttpRequest) -> bytes:
    """The whole body of an http.client response: as long as its Content-Length says, within
    ``max_body``, decompressed."""
    length = response.getheader("Content-Length")
    if length and length.isdigit() and int(length) > request.max_body:
        raise too_large(request)
    body = collect(iter(lambda: response.read(CHUNK), b""), request)
    # http.client ends a read quietly when the connection closes early
    check_complete(int(response.status), length, len(body), request)
    encoding = (response.getheader("Content-Encoding") or "").strip().lower()
    if encoding and encoding != "identity":
        body = _decode(body, encoding, request)
    return body


def check_complete(status: int, length: Optional[str], received: int, request: HttpRequest) -> None:
    """A TransportError when fewer bytes arrived than the Content-Length announced (HEAD,
    1xx, 204 and 304 answers carry none, whatever the header says)."""
    if not length or not length.isdigit() or received >= int(length):
        return
    if request.method.upper() == "HEAD" or status < 200 or status in (204, 304):
        return
    url = safe_url(request.url)
    raise TransportError(
        f"connection to {url} closed after {received} of the {length} bytes of its response",
        url=url,
    )


def _decode(body: bytes, encoding: str, request: HttpRequest) -> bytes:
    """gzip or deflate (zlib-wrapped or raw, as servers send both), bounded by max_body."""
    import zlib

    url = safe_url(request.url)
    attempts: Tuple[int, ...]
    if encoding in ("gzip", "x-gzip"):
        attempts = (16 + zlib.MAX_WBITS,)
    elif encoding == "deflate":
        attempts = (zlib.MAX_WBITS, -zlib.MAX_WBITS)
    else:
        raise TransportError(
            f"response from {url} has Content-Encoding {encoding[:40]!r}, which awsroles "
            f"cannot decode",
            url=url,
        )
    for wbits in attempts:
        decoder = zlib.decompressobj(wbits)
        try:
            out = decoder.decompress(body, request.max_body + 1)
        except zlib.error:
            continue
        if len(out) > request.max_body:
            raise too_large(request)
        return out
    raise TransportError(f"response from {url} is not valid {encoding} data", url=url)


def too_large(request: HttpRequest) -> TransportError:
    """The error for a body over ``request.max_body`` (both transports raise it)."""
    return TransportError(
        f"response from {safe_url(request.url)} is larger than {request.max_body} bytes; "
        f"refusing it",
        url=safe_url(request.url),
    )


def too_slow(request: HttpRequest, total: float) -> TransportError:
    """The error for an answer that did not arrive whole within the request's deadline."""
    url = safe_url(request.url)
    return TransportError(
        f"timed out: {url} did not send its whole answer within {total:g}s", url=url, timeout=True
    )


def hang_up(sock: Any) -> None:
    """Shut ``sock`` down so a reader blocked on it in another thread returns now. The plain
    socket's shutdown, also for TLS: an SSL socket's would drop its SSL state under that
    reader."""
    import socket

    if isinstance(sock, socket.socket):
        try:
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass
