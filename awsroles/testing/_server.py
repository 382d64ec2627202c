"""The lifecycle the local fakes share: an HTTP server on 127.0.0.1 in a daemon thread."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Mapping, Optional, Tuple


class FakeHTTPServer(ThreadingHTTPServer):
    """The server every fake runs: threaded (daemon threads), a deep backlog (many clients at
    once: the default is 5), and the port reusable at once after a stop."""

    request_queue_size = 128
    daemon_threads = True
    allow_reuse_address = True
    fake: Any  # the fake that owns it, set by LocalServer.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (a reset kept-alive connection, a deadline) is not an error
        of the fake: only other failures are reported, as the standard server does."""
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class FakeHandler(BaseHTTPRequestHandler):
    """A quiet HTTP/1.1 handler that reads (and drops) a request body and sends an answer in
    one piece; a fake's handler calls :meth:`drain_body` then :meth:`reply`."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def drain_body(self) -> None:
        """Read the body so the connection can carry the next request; a huge one closes it."""
        length = int(self.headers.get("Content-Length") or 0)
        if 0 < length <= 65536:
            self.rfile.read(length)
        elif length:
            self.close_connection = True

    def reply(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.send_response_only(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet (queries may hold secrets)
        pass


class LocalServer:
    """Base of the fakes: ``with Fake() as f: f.url``, or ``start()`` / ``stop()``.

    A subclass sets ``_server_class`` (a :class:`FakeHTTPServer` subclass) and
    ``_handler_class``, and calls ``_init_server(host, port)`` in its ``__init__``; the
    handler reaches the fake as ``self.server.fake``."""

    _server_class: Any = None
    _handler_class: Any = None

    def _init_server(self, host: str, port: int) -> None:
        self.host, self._port = host, port
        self._server: Optional[Any] = None
        self._thread: Optional[threading.Thread] = None

    def start(self) -> Any:
        if self._server is None:
            self._server = self._server_class((self.host, self._port), self._handler_class)
            self._server.fake = self
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=type(self).__name__,
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(5)
            self._server = self._thread = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not running; call start() or use 'with'")
        port: int = self._server.server_address[1]
        return port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return self.base_url


def as_handled(request: Any) -> Tuple[Any, str, Any]:
    """A :class:`awsroles.protocols.Transport` request as a fake's handler sees an HTTP one: the
    split URL, the path with its query, and the headers as a case-insensitive
    ``HTTPMessage``. Used by the fakes' in-memory ``transport()``."""
    from http.client import HTTPMessage
    from urllib.parse import urlsplit

    parts = urlsplit(request.url)
    headers = HTTPMessage()
    for name, value in request.headers.items():
        headers[name] = value
    return parts, (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), headers


def read_timeout(request: Any) -> Optional[float]:
    """The read timeout of a Transport request (``timeout`` is a number or (connect, read))."""
    timeout = request.timeout
    value: Optional[float] = timeout[1] if isinstance(timeout, tuple) else timeout
    return value
