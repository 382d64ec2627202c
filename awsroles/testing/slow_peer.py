"""A peer that answers too slowly, for testing deadlines: on 127.0.0.1, it sends a status
line and headers, then the body one byte at a time (or the headers too), with a pause before
each byte. A client that only bounds each wait for a byte would wait for hours:

    with SlowPeer(body=b'{"Code": "Success"}', interval=0.5) as peer:
        ...  # point a client at peer.url; peer.requests counts what arrived

``stall`` instead sends nothing at all after the headers (the peer keeps the connection open).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler
from typing import Any, Dict, List, Optional

from ._server import FakeHTTPServer, LocalServer

__all__ = ["SlowPeer"]


class _Server(FakeHTTPServer):
    fake: SlowPeer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        peer = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        if 0 < length <= 65536:
            self.rfile.read(length)
        with peer._lock:
            peer.requests.append(f"{self.command} {self.path}")
        head = (
            f"HTTP/1.1 {peer.status} OK\r\nContent-Type: {peer.content_type}\r\n"
            f"Content-Length: {len(peer.body)}\r\n\r\n"
        ).encode("ascii")
        try:
            if peer.drip_headers:
                self._drip(head)
            else:
                self.wfile.write(head)
                self.wfile.flush()
            if peer.stall:
                peer._released.wait(peer.stall)
                return
            self._drip(peer.body)
        except OSError:  # the client gave up: the deadline worked
            pass
        finally:
            self.close_connection = True

    def _drip(self, data: bytes) -> None:
        peer = self.server.fake
        for i in range(len(data)):
            if peer._released.wait(peer.interval):
                return
            self.wfile.write(data[i : i + 1])
            self.wfile.flush()

    do_GET = do_PUT = do_POST = _answer


class SlowPeer(LocalServer):
    """``interval`` seconds before each byte of the body (and of the status line and
    headers with ``drip_headers``); ``stall`` seconds of silence after the headers instead.
    ``requests`` lists the requests that arrived (``"METHOD /path"``). Stopping it releases
    every connection at once."""

    _server_class = _Server
    _handler_class = _Handler

    def __init__(
        self,
        *,
        body: bytes = b"{}",
        status: int = 200,
        content_type: str = "application/json",
        interval: float = 0.5,
        drip_headers: bool = False,
        stall: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.body = body
        self.status = status
        self.content_type = content_type
        self.interval = interval
        self.drip_headers = drip_headers
        self.stall = stall
        self.requests: List[str] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._init_server(host, port)

    def start(self) -> SlowPeer:
        self._released.clear()
        super().start()
        return self

    def stop(self) -> None:
        self._released.set()
        super().stop()

    def seconds_to_send(self) -> float:
        """How long the whole answer takes at this pace."""
        head = 80 + len(self.content_type) + len(str(len(self.body)))
        per_byte = self.interval * (len(self.body) + (head if self.drip_headers else 0))
        return max(per_byte, self.stall)

    def __repr__(self) -> str:
        state: Dict[str, Optional[float]] = {"interval": self.interval, "stall": self.stall}
        return f"SlowPeer({self.host}, {state})"
