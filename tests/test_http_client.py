"""StdlibTransport (awsroles.transport.stdlib): the default transport on ``http.client``.

Every test talks to servers it starts itself on 127.0.0.1: a small HTTP/1.1 server whose
behaviour each test sets (echo, chunked, slow, dropping connections, TLS), and a forward proxy.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import logging
import os
import select
import socket
import ssl
import sys
import threading
import time
import traceback
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, List, NamedTuple, Optional, Tuple
from urllib.parse import urlsplit

import pytest

from awsroles.errors import InvalidConfigError, TransportError
from awsroles.transport import rules
from awsroles.transport import stdlib as http_client
from awsroles.transport import via_requests as http_requests
from awsroles.transport.base import HttpRequest, HttpResponse
from awsroles.transport.stdlib import StdlibTransport

# Built at run time so no source line shown in a traceback contains the value itself.
SECRET = "planted-" + "s3cr3t-" + "value"

_ENV_NAMES = (
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "requests_ca_bundle",
    "curl_ca_bundle",
    "aws_ca_bundle",
)


@pytest.fixture(autouse=True)
def _no_network_env(monkeypatch):
    """The process environment may set proxies or CA bundles (this one does): clear them, so a
    transport reading os.environ behaves the same everywhere."""
    for name in list(os.environ):
        if name.lower() in _ENV_NAMES:
            monkeypatch.delenv(name, raising=False)


# --- a local HTTP/1.1 server whose behaviour each test sets ---------------------------------


class Received(NamedTuple):
    conn: int  # which accepted connection (1, 2, ...)
    nreq: int  # which request on that connection (1, 2, ...)
    method: str
    path: str
    headers: List[Tuple[str, str]]  # as received, names in their case
    body: bytes

    def header(self, name: str) -> Optional[str]:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None


App = Callable[["_Handler", Received], None]


def send(
    h: _Handler,
    status: int = 200,
    body: bytes = b"",
    headers: Tuple[Tuple[str, str], ...] = (),
    framing: str = "length",
    chunk: int = 7000,
) -> None:
    """Answer with ``framing``: ``length`` (Content-Length), ``chunked``, or ``close`` (no
    length: the body ends when the server closes the connection)."""
    h.send_response(status)
    for name, value in headers:
        h.send_header(name, value)
    h.send_header("X-Conn", str(h.conn_no))
    if framing == "length":
        h.send_header("Content-Length", str(len(body)))
    elif framing == "chunked":
        h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    if h.command == "HEAD":
        return
    if framing == "chunked":
        for i in range(0, len(body), chunk):
            part = body[i : i + chunk]
            h.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        h.wfile.write(b"0\r\n\r\n")
    else:
        h.wfile.write(body)
    if framing == "close":
        h.close_connection = True
    h.wfile.flush()


def echo(h: _Handler, rec: Received) -> None:
    send(h, 200, rec.body or b"conn=%d" % rec.conn, headers=(("Content-Type", "text/plain"),))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # no handler thread outlives a test by long
    server: _Server

    def log_message(self, *args: Any) -> None:
        pass

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(5)
            self.request.do_handshake()
        super().setup()
        self.conn_no = self.server.accepted()
        self.nreq = 0

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.closed()

    def handle_one_request(self) -> None:
        self.nreq += 1
        drop = self.server.drop
        if drop is not None and drop(self):
            # Read the request line, then close without answering.
            if self.rfile.readline(65537):
                with self.server.cond:
                    self.server.dropped += 1
            self.close_connection = True
            return
        super().handle_one_request()

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        rec = Received(
            self.conn_no, self.nreq, self.command, self.path, list(self.headers.items()), body
        )
        with self.server.cond:
            self.server.log.append(rec)
        self.server.app(self, rec)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _any


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, app: App, tls: Optional[ssl.SSLContext] = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.app = app
        self.tls = tls
        self.drop: Optional[Callable[[_Handler], bool]] = None
        self.cond = threading.Condition()
        self.log: List[Received] = []
        self.connections = 0
        self.closed_count = 0
        self.dropped = 0
        self.release = threading.Event()  # set at teardown: slow handlers stop waiting
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.server_address[1]}"

    def get_request(self) -> Any:
        sock, addr = super().get_request()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up and refused handshakes are part of the tests

    def accepted(self) -> int:
        with self.cond:
            self.connections += 1
            return self.connections

    def closed(self) -> None:
        with self.cond:
            self.closed_count += 1
            self.cond.notify_all()

    def wait_closed(self, n: int, timeout: float = 5.0) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: self.closed_count >= n, timeout), "not closed"

    def stop(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()
        self._thread.join(5)


@pytest.fixture
def serve():
    servers: List[_Server] = []

    def start(app: App = echo, tls: Optional[ssl.SSLContext] = None) -> _Server:
        server = _Server(app, tls)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(serve) -> _Server:
    return serve()


@pytest.fixture
def make_transport():
    made: List[StdlibTransport] = []

    def make(**kw: Any) -> StdlibTransport:
        kw.setdefault("env", {})
        transport = StdlibTransport(**kw)
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.close()


@pytest.fixture
def transport(make_transport) -> StdlibTransport:
    return make_transport()


def get(url: str, **kw: Any) -> HttpRequest:
    return HttpRequest(method=kw.pop("method", "GET"), url=url, headers=kw.pop("headers", {}), **kw)


def idle(transport: StdlibTransport) -> int:
    return sum(len(conns) for conns in transport._idle.values())


def slow(seconds: float, on: Callable[[Received], bool] = lambda rec: True) -> App:
    def app(h: _Handler, rec: Received) -> None:
        if on(rec):
            h.server.release.wait(seconds)
        send(h, 200, b"slow")

    return app


@pytest.fixture
def refused_port():
    """A port bound but not listening: connecting to it is refused, and nobody else gets it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


# --- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, body, status",
    [
        ("GET", None, 200),
        ("PUT", b"\x00binary\xff\r\n body", 201),
        ("POST", b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws", 200),
        ("DELETE", None, 204),
    ],
)
def test_round_trip(serve, transport, method, body, status):
    def app(h: _Handler, rec: Received) -> None:
        send(
            h,
            status,
            b"" if status == 204 else b"answer:" + rec.body,
            headers=(
                ("X-Mixed-CASE-Name", "Value With Case"),
                ("Set-Thing", "a=1"),
                ("Set-Thing", "b=2"),
                ("Content-Type", "application/x-test"),
            ),
        )

    server = serve(app)
    sent_headers = {"X-Amz-Target": "Svc.Op", "Accept": "application/json", "X-Empty": ""}
    response = transport(
        HttpRequest(
            method=method,
            url=server.url + "/a/b%20c?x=1&y=two%2F",
            headers=sent_headers,
            body=body,
        )
    )
    assert isinstance(response, HttpResponse)
    assert response.status == status
    assert response.body == (b"" if status == 204 else b"answer:" + (body or b""))
    assert response.headers["x-mixed-case-name"] == "Value With Case"
    assert response.headers["set-thing"] == "a=1, b=2"
    assert response.headers["content-type"] == "application/x-test"
    assert all(name == name.lower() for name in response.headers)
    names = list(response.headers)
    assert names.index("x-mixed-case-name") < names.index("set-thing")

    [rec] = server.log
    assert rec.method == method
    assert rec.path == "/a/b%20c?x=1&y=two%2F"
    for name, value in sent_headers.items():
        assert rec.header(name) == value
    assert rec.body == (body or b"")
    if body is not None:
        assert rec.header("Content-Length") == str(len(body))
    assert rec.header("Host") == server.url.split("//")[1]


def test_head_response_has_no_body_and_connection_stays_usable(server, transport):
    response = transport(get(server.url + "/h", method="HEAD"))
    assert response.status == 200 and response.body == b""
    assert response.headers["content-length"] == str(len(b"conn=1"))
    again = transport(get(server.url + "/g"))
    assert again.body == b"conn=1"  # same connection, not confused by the HEAD answer


@pytest.mark.parametrize("status", [400, 403, 404, 429, 500, 503])
def test_error_statuses_are_returned_not_raised(serve, transport, status):
    server = serve(lambda h, rec: send(h, status, b'{"error": "%d"}' % status))
    response = transport(get(server.url + "/x"))
    assert response.status == status
    assert response.body == b'{"error": "%d"}' % status


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_is_returned_as_is_without_allow_redirects(serve, transport, status):
    def app(h: _Handler, rec: Received) -> None:
        if rec.path == "/old":
            send(h, status, b"moved", headers=(("Location", "/new"),))
        else:
            send(h, 200, b"landed")

    server = serve(app)
    response = transport(get(server.url + "/old"))
    assert response.status == status
    assert response.headers["location"] == "/new"
    assert response.body == b"moved"
    assert [rec.path for rec in server.log] == ["/old"]


def test_chunked_response_body(serve, transport):
    payload = bytes(range(256)) * 1000  # 256 000 bytes: several reads of 64 KiB
    server = serve(lambda h, rec: send(h, 200, payload, framing="chunked", chunk=10_000))
    first = transport(get(server.url + "/c"))
    assert first.body == payload
    assert "content-length" not in first.headers
    assert first.headers["transfer-encoding"] == "chunked"
    second = transport(get(server.url + "/c"))
    assert second.body == payload
    assert second.headers["x-conn"] == "1"  # the chunked answer left the connection reusable
    assert server.connections == 1


def test_close_delimited_response_body(serve, transport):
    server = serve(lambda h, rec: send(h, 200, b"until-close" * 100, framing="close"))
    response = transport(get(server.url + "/c"))
    assert response.body == b"until-close" * 100
    assert idle(transport) == 0  # such a connection cannot be reused
    assert transport(get(server.url + "/c")).headers["x-conn"] == "2"


# --- max_body -------------------------------------------------------------------------------


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_body_of_exactly_max_body_is_accepted(serve, transport, framing):
    server = serve(lambda h, rec: send(h, 200, b"x" * 1000, framing=framing, chunk=300))
    assert transport(get(server.url + "/b", max_body=1000)).body == b"x" * 1000


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_body_larger_than_max_body_is_refused_and_connection_dropped(serve, transport, framing):
    def app(h: _Handler, rec: Received) -> None:
        if rec.path.startswith("/big"):
            send(h, 200, b"x" * 1001, framing=framing, chunk=300)
        else:
            send(h, 200, b"small")

    server = serve(app)
    assert transport(get(server.url + "/small")).headers["x-conn"] == "1"
    with pytest.raises(TransportError) as info:
        transport(get(server.url + "/big?q=1", max_body=1000))
    assert "larger than 1000 bytes" in str(info.value)
    assert info.value.url == server.url + "/big"
    assert idle(transport) == 0
    after = transport(get(server.url + "/small"))
    assert after.body == b"small"
    assert after.headers["x-conn"] == "2"  # a new connection, not the half-read one
    assert server.connections == 2


def test_oversized_content_length_is_refused_before_reading_the_body(serve, transport):
    def app(h: _Handler, rec: Received) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "5000000")
        h.end_headers()
        h.wfile.write(b"only the start")
        h.wfile.flush()
        h.server.release.wait(5)  # the rest never comes
        h.close_connection = True

    server = serve(app)
    start = time.monotonic()
    with pytest.raises(TransportError, match="larger than 1000 bytes"):
        transport(get(server.url + "/", max_body=1000, timeout=3))
    assert time.monotonic() - start < 1.5  # did not wait for the body


def test_default_max_body_is_one_mib(serve, transport):
    server = serve(lambda h, rec: send(h, 200, b"y" * (1024 * 1024 + 1), framing="chunked"))
    with pytest.raises(TransportError, match="larger than 1048576 bytes"):
        transport(get(server.url + "/"))


# --- connection reuse -----------------------------------------------------------------------


def test_keep_alive_reuses_one_connection(server, transport):
    bodies = [transport(get(server.url + f"/{i}")).body for i in range(3)]
    assert bodies == [b"conn=1"] * 3
    assert server.connections == 1
    assert [(rec.conn, rec.nreq) for rec in server.log] == [(1, 1), (1, 2), (1, 3)]
    assert idle(transport) == 1


def test_pools_are_per_host_and_port(serve, transport):
    one, two = serve(), serve()
    for _ in range(2):
        assert transport(get(one.url + "/")).body == b"conn=1"
        assert transport(get(two.url + "/")).body == b"conn=1"
    assert one.connections == two.connections == 1
    assert set(transport._idle) == {
        ("http", "127.0.0.1", one.server_address[1], None),
        ("http", "127.0.0.1", two.server_address[1], None),
    }


def test_connection_close_answer_is_not_reused(serve, transport):
    server = serve(lambda h, rec: send(h, 200, b"bye", headers=(("Connection", "close"),)))
    assert transport(get(server.url + "/")).headers["x-conn"] == "1"
    assert idle(transport) == 0
    assert transport(get(server.url + "/")).headers["x-conn"] == "2"
    assert server.connections == 2


@pytest.fixture
def stale_spy(monkeypatch):
    """Records every exception the transport asks ``_is_stale`` about (a retry candidate)."""
    seen: List[str] = []
    real = http_client._is_stale

    def spy(exc: BaseException) -> bool:
        seen.append(type(exc).__name__)
        return real(exc)

    monkeypatch.setattr(http_client, "_is_stale", spy)
    return seen


def test_idle_connection_closed_by_server_is_detected_before_use(serve, transport, stale_spy):
    def app(h: _Handler, rec: Received) -> None:
        send(h, 200, b"conn=%d" % rec.conn)
        h.close_connection = True  # closes after answering, without saying so

    server = serve(app)
    assert transport(get(server.url + "/")).body == b"conn=1"
    assert idle(transport) == 1  # the client believes it can reuse it
    server.wait_closed(1)
    [conn] = next(iter(transport._idle.values()))
    assert select.select([conn.sock], [], [], 2)[0], "the server's FIN never arrived"
    response = transport(get(server.url + "/"))
    assert response.body == b"conn=2"
    assert stale_spy == []  # found by the idle check, not by a failed send and a retry
    assert server.connections == 2
    assert len(server.log) == 2


@pytest.mark.parametrize("method", ["PUT", "GET"])
def test_reused_connection_dropped_without_answer_is_retried_once(
    serve, transport, stale_spy, method
):
    server = serve()
    server.drop = lambda h: h.nreq >= 2  # every connection dies on its second request
    assert transport(get(server.url + "/")).body == b"conn=1"
    body = b"payload-2" if method == "PUT" else None
    response = transport(get(server.url + "/p?n=2", method=method, body=body))
    assert response.status == 200
    assert response.body == (body or b"conn=2")  # a body went again, whole, on the new one
    assert response.headers["x-conn"] == "2"
    assert server.dropped == 1
    assert len(stale_spy) == 1
    assert [(rec.conn, rec.path, rec.body) for rec in server.log] == [
        (1, "/", b""),
        (2, "/p?n=2", body or b""),
    ]


def test_reused_connection_dropped_on_a_post_is_not_sent_again(serve, transport):
    """The server may have acted on a POST before dropping the connection (an SSO refresh
    token spent): it is not sent twice; the caller's own retry policy decides."""
    server = serve()
    server.drop = lambda h: h.nreq >= 2
    assert transport(get(server.url + "/")).body == b"conn=1"
    with pytest.raises(TransportError) as info:
        transport(get(server.url + "/p", method="POST", body=b"once"))
    assert "connection broke" in str(info.value)
    assert server.connections == 1 and server.dropped == 1


def test_fresh_connection_dropped_without_answer_is_not_retried(serve, transport):
    server = serve()
    server.drop = lambda h: h.server.dropped < 3  # bounded: a retry loop fails, not hangs
    with pytest.raises(TransportError) as info:
        transport(get(server.url + "/x?q=1", method="POST", body=b"once"))
    assert "connection broke" in str(info.value)
    assert info.value.url == server.url + "/x"
    assert info.value.recoverable is True
    assert info.value.timeout is False
    assert server.connections == 1
    assert server.dropped == 1


def test_retry_happens_only_once(serve, transport):
    server = serve()
    # The reused connection dies, then the fresh one too, then (never reached) two more.
    server.drop = lambda h: (h.conn_no, h.nreq) == (1, 2) or 2 <= h.conn_no <= 3
    assert transport(get(server.url + "/")).body == b"conn=1"
    with pytest.raises(TransportError, match="connection broke"):
        transport(get(server.url + "/"))
    assert server.connections == 2  # the reused one and exactly one fresh one
    assert server.dropped == 2


def test_read_timeout_on_reused_connection_is_not_retried(serve, transport, stale_spy):
    server = serve(slow(5, on=lambda rec: rec.nreq == 2))
    transport(get(server.url + "/", timeout=5))
    with pytest.raises(TransportError) as info:
        transport(get(server.url + "/", method="POST", body=b"not twice", timeout=0.3))
    assert info.value.timeout is True
    assert server.connections == 1
    assert len(server.log) == 2  # the POST was not sent again
    assert stale_spy in (["TimeoutError"], ["timeout"])  # socket.timeout before 3.10


# --- failures -------------------------------------------------------------------------------


def test_connection_refused(transport, refused_port):
    url = f"http://127.0.0.1:{refused_port}/latest/path"
    with pytest.raises(TransportError) as info:
        transport(get(url + "?a=b"))
    err = info.value
    assert err.recoverable is True
    assert err.timeout is False
    assert err.url == url
    assert url in str(err)
    assert "?a=b" not in str(err)
    assert "ConnectionRefusedError" in str(err)


def test_read_timeout(serve, transport):
    server = serve(slow(5))
    start = time.monotonic()
    with pytest.raises(TransportError) as info:
        transport(get(server.url + "/slow?x=1", timeout=0.3))
    elapsed = time.monotonic() - start
    assert info.value.timeout is True
    assert info.value.recoverable is True
    assert info.value.url == server.url + "/slow"
    assert "timed out" in str(info.value)
    assert 0.25 <= elapsed < 2.0
    assert idle(transport) == 0


def test_timeout_tuple_read_part_bounds_the_wait(serve, transport):
    server = serve(slow(5))
    start = time.monotonic()
    with pytest.raises(TransportError) as info:
        transport(get(server.url + "/", timeout=(5.0, 0.3)))
    assert info.value.timeout is True
    assert time.monotonic() - start < 2.0


def test_timeout_tuple_connect_part_is_not_the_read_timeout(serve, transport, monkeypatch):
    calls = []
    real = socket.create_connection

    def spy(address, timeout=None, *args, **kw):
        calls.append(timeout)
        return real(address, timeout, *args, **kw)

    monkeypatch.setattr(socket, "create_connection", spy)
    server = serve(slow(0.6))
    response = transport(get(server.url + "/", timeout=(0.2, 5.0)))  # answer after 0.6 s
    assert response.status == 200 and response.body == b"slow"
    assert calls == [0.2]
    [conn] = next(iter(transport._idle.values()))
    assert conn.sock.gettimeout() == 5.0


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "http:///nohost", "http://127.0.0.1:99999/"])
def test_unusable_urls_are_transport_errors(transport, url):
    with pytest.raises(TransportError):
        transport(get(url))


# --- TLS ------------------------------------------------------------------------------------


def _make_cert(directory, name: str, dns: List[str], ips: List[str]) -> Tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"awsroles test {name}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    alt = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(str(directory), f"{name}.pem")
    key_path = os.path.join(str(directory), f"{name}.key")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    pytest.importorskip("cryptography")
    directory = tmp_path_factory.mktemp("certs")
    return {
        "local": _make_cert(directory, "local", ["localhost"], ["127.0.0.1"]),
        "other": _make_cert(directory, "other", ["other.invalid"], []),
    }


def _server_context(cert: Tuple[str, str]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert)
    return context


def test_tls_untrusted_certificate_fails(serve, make_transport, certs):
    server = serve(tls=_server_context(certs["local"]))
    with pytest.raises(TransportError) as info:
        make_transport(env={})(get(server.url + "/secure?x=1"))
    assert "SSLCertVerificationError" in str(info.value)
    assert info.value.url == server.url + "/secure"
    assert server.log == []


def test_tls_trusted_through_aws_ca_bundle(serve, make_transport, certs):
    server = serve(tls=_server_context(certs["local"]))
    transport = make_transport(env={"AWS_CA_BUNDLE": certs["local"][0]})
    for _ in range(2):
        response = transport(get(server.url + "/secure", method="POST", body=b"over tls"))
        assert response.status == 200 and response.body == b"over tls"
    assert server.connections == 1  # TLS connections are reused too


def test_tls_aws_ca_bundle_from_os_environ(serve, make_transport, certs, monkeypatch):
    server = serve(tls=_server_context(certs["local"]))
    monkeypatch.setenv("AWS_CA_BUNDLE", certs["local"][0])
    transport = make_transport(env=None)
    assert transport(get(server.url + "/")).body == b"conn=1"


def test_tls_hostname_is_checked(serve, make_transport, certs):
    server = serve(tls=_server_context(certs["other"]))  # valid, trusted, but not 127.0.0.1
    transport = make_transport(env={"AWS_CA_BUNDLE": certs["other"][0]})
    with pytest.raises(TransportError, match="SSLCertVerificationError"):
        transport(get(server.url + "/"))


@pytest.mark.parametrize("kind", ["missing", "not-pem"])
def test_bad_aws_ca_bundle_is_invalid_config(serve, make_transport, certs, tmp_path, kind):
    server = serve(tls=_server_context(certs["local"]))
    path = tmp_path / "bundle.pem"
    if kind == "not-pem":
        path.write_text("this is not a certificate\n")
    transport = make_transport(env={"AWS_CA_BUNDLE": str(path)})
    with pytest.raises(InvalidConfigError) as info:
        transport(get(server.url + "/"))
    assert "AWS_CA_BUNDLE" in str(info.value)
    assert info.value.key == "AWS_CA_BUNDLE"
    assert server.connections == 0


def test_bad_aws_ca_bundle_does_not_matter_for_http(server, make_transport, tmp_path):
    transport = make_transport(env={"AWS_CA_BUNDLE": str(tmp_path / "missing.pem")})
    assert transport(get(server.url + "/")).status == 200


# --- handing requests to requests -----------------------------------------------------------


def forward(h: _Handler, rec: Received) -> None:
    """A forward proxy: takes an absolute-form request and replays it to the origin."""
    import http.client

    parts = urlsplit(rec.path)
    if not parts.scheme:
        send(h, 400, b"not a proxy request")
        return
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    hop = {"connection", "proxy-connection", "keep-alive", "content-length"}
    try:
        conn.request(
            rec.method,
            parts.path + ("?" + parts.query if parts.query else ""),
            body=rec.body or None,
            headers={k: v for k, v in rec.headers if k.lower() not in hop},
        )
        answer = conn.getresponse()
        body = answer.read()
    finally:
        conn.close()
    send(h, answer.status, body, headers=(("X-Via-Proxy", "yes"),))


@pytest.fixture
def requests_spy(monkeypatch):
    """Records the URL of every request handed to RequestsTransport."""
    pytest.importorskip("requests")
    seen: List[str] = []
    real = http_requests.RequestsTransport.send

    def spy(self: Any, request: HttpRequest, way: Any) -> HttpResponse:
        seen.append(request.url)
        return real(self, request, way)

    monkeypatch.setattr(http_requests.RequestsTransport, "send", spy)
    return seen


@pytest.mark.parametrize("name", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])
@pytest.mark.parametrize("source", ["os.environ", "env="])
def test_proxy_from_environment_goes_through_requests(
    serve, make_transport, requests_spy, monkeypatch, name, source
):
    origin, proxy = serve(), serve(forward)
    if source == "os.environ":
        monkeypatch.setenv(name, proxy.url)
        transport = make_transport(env=None)
    else:
        transport = make_transport(env={name: proxy.url})
    response = transport(get(origin.url + "/via?x=1", method="POST", body=b"proxied"))
    assert response.status == 200
    assert response.body == b"proxied"
    assert response.headers["x-via-proxy"] == "yes"
    assert [rec.path for rec in proxy.log] == [origin.url + "/via?x=1"]  # absolute form
    assert [(rec.path, rec.body) for rec in origin.log] == [("/via?x=1", b"proxied")]
    assert requests_spy == [origin.url + "/via?x=1"]


@pytest.mark.parametrize("source", ["os.environ", "env="])
def test_no_proxy_exempts_a_host_so_it_goes_direct(
    serve, make_transport, requests_spy, monkeypatch, source
):
    origin, proxy = serve(), serve(forward)
    env = {"HTTP_PROXY": proxy.url, "NO_PROXY": "127.0.0.1"}
    if source == "os.environ":
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        transport = make_transport(env=None)
    else:
        transport = make_transport(env=env)
    response = transport(get(origin.url + "/direct"))
    assert response.body == b"conn=1"
    assert "x-via-proxy" not in response.headers
    assert proxy.log == []
    assert requests_spy == []  # the route is direct: http.client sends it


@pytest.mark.parametrize(
    "env",
    [
        {"HTTPS_PROXY": "http://127.0.0.1:9"},
        {"https_proxy": "http://127.0.0.1:9"},
        {"ALL_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1"},
    ],
)
def test_a_proxy_for_another_scheme_or_an_exempt_host_leaves_the_route_direct(
    server, make_transport, requests_spy, env
):
    # An http URL: an https proxy does not serve it, and NO_PROXY exempts the host.
    response = make_transport(env=env)(get(server.url + "/r"))
    assert response.body == b"conn=1"
    assert requests_spy == []


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"NO_PROXY": "*"},
        {"no_proxy": "127.0.0.1"},
        {"HTTP_PROXY": ""},
        {"AWS_CA_BUNDLE": "/nonexistent/ca.pem"},
        {"REQUESTS_CA_BUNDLE": "/nonexistent/ca.pem"},
        {"CURL_CA_BUNDLE": "/nonexistent/ca.pem"},
        {"HTTP_PROXY_USER": "x", "PROXY": "http://127.0.0.1:9"},
    ],
)
def test_these_environments_stay_on_http_client(server, make_transport, requests_spy, env):
    transport = make_transport(env=env)
    assert transport(get(server.url + "/")).body == b"conn=1"
    assert transport(get(server.url + "/")).body == b"conn=1"
    assert requests_spy == []
    assert server.connections == 1


@pytest.mark.parametrize("source", ["os.environ", "env="])
def test_trust_env_false_ignores_proxy_variables(
    serve, make_transport, requests_spy, monkeypatch, source
):
    origin, proxy = serve(), serve(forward)
    env = {"HTTP_PROXY": proxy.url, "ALL_PROXY": proxy.url, "REQUESTS_CA_BUNDLE": "/x.pem"}
    if source == "os.environ":
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        transport = make_transport(env=None, trust_env=False)
    else:
        transport = make_transport(env=env, trust_env=False)
    response = transport(
        get(origin.url + "/token", headers={"Authorization": "token-for-origin-only"})
    )
    assert response.status == 200
    assert "x-via-proxy" not in response.headers
    assert proxy.log == []
    assert requests_spy == []
    assert [rec.header("Authorization") for rec in origin.log] == ["token-for-origin-only"]


@pytest.mark.parametrize("source", ["os.environ", "env="])
@pytest.mark.parametrize(
    "names",
    [
        ("AWS_CA_BUNDLE",),
        ("REQUESTS_CA_BUNDLE",),
        ("CURL_CA_BUNDLE",),
        ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"),
        ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"),
    ],
)
def test_ca_bundle_variables_in_order_on_http_client(
    serve, make_transport, requests_spy, certs, monkeypatch, names, source
):
    """AWS_CA_BUNDLE, then requests' REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE: the first one set
    is the bundle, and none of them hands the request to requests."""
    server = serve(tls=_server_context(certs["local"]))
    # The first name holds the right bundle; the others, which must lose, a wrong one.
    env = {names[0]: certs["local"][0]}
    env.update({name: certs["other"][0] for name in names[1:]})
    if source == "os.environ":
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        transport = make_transport(env=None)
    else:
        transport = make_transport(env=env)
    assert transport(get(server.url + "/tls")).body == b"conn=1"
    assert requests_spy == []


def test_ca_bundle_may_be_a_directory(serve, make_transport, certs, tmp_path):
    """requests accepts a directory of hashed certificates (capath); so does awsroles."""
    import shutil

    server = serve(tls=_server_context(certs["local"]))
    cadir = tmp_path / "cadir"
    cadir.mkdir()
    pem = certs["local"][0]
    shutil.copy(pem, cadir / f"{_subject_hash(pem)}.0")
    transport = make_transport(env={"REQUESTS_CA_BUNDLE": str(cadir)})
    assert transport(get(server.url + "/tls")).body == b"conn=1"


def _subject_hash(pem: str) -> str:
    import subprocess

    out = subprocess.run(
        ["openssl", "x509", "-noout", "-subject_hash", "-in", pem],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        pytest.skip("openssl is needed to name a CA directory entry")
    return out.stdout.strip()


def test_an_untrusting_requests_bundle_fails(serve, make_transport, certs):
    server = serve(tls=_server_context(certs["local"]))
    transport = make_transport(env={"REQUESTS_CA_BUNDLE": certs["other"][0]})
    with pytest.raises(TransportError):
        transport(get(server.url + "/tls"))


def test_a_bad_requests_bundle_is_named_in_the_error(make_transport):
    transport = make_transport(env={"CURL_CA_BUNDLE": "/nonexistent/ca.pem"})
    with pytest.raises(InvalidConfigError) as info:
        transport(get("https://127.0.0.1:9/x"))
    assert info.value.key == "CURL_CA_BUNDLE" and "CURL_CA_BUNDLE" in str(info.value)


def test_delegated_tls_uses_the_environment_ca_bundle(serve, make_transport, requests_spy, certs):
    """When requests sends it (redirects to follow), AWS_CA_BUNDLE is still the bundle."""
    server = serve(tls=_server_context(certs["local"]))
    env = {"AWS_CA_BUNDLE": certs["local"][0], "REQUESTS_CA_BUNDLE": certs["other"][0]}
    request = get(server.url + "/tls", allow_redirects=True)
    assert make_transport(env=env)(request).body == b"conn=1"
    assert requests_spy == [server.url + "/tls"]


def _redirecting(h: _Handler, rec: Received) -> None:
    if rec.path == "/old":
        send(h, 302, b"moved", headers=(("Location", "/new"),))
    else:
        send(h, 200, b"landed at " + rec.path.encode())


def test_allow_redirects_follows_through_requests(serve, make_transport, requests_spy):
    server = serve(_redirecting)
    response = make_transport(env={})(get(server.url + "/old", allow_redirects=True))
    assert response.status == 200
    assert response.body == b"landed at /new"
    assert [rec.path for rec in server.log] == ["/old", "/new"]
    assert requests_spy == [server.url + "/old"]


def test_allow_redirects_with_trust_env_false_never_uses_a_proxy(
    serve, make_transport, monkeypatch
):
    origin, proxy = serve(_redirecting), serve(forward)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    transport = make_transport(env=None, trust_env=False)
    response = transport(get(origin.url + "/old", allow_redirects=True))
    assert response.body == b"landed at /new"
    assert proxy.log == []


# --- threads and fork -----------------------------------------------------------------------


def test_many_threads_share_one_transport(server, transport):
    errors: List[BaseException] = []
    mismatches: List[Tuple[int, int]] = []
    barrier = threading.Barrier(16)

    def worker(t: int) -> None:
        try:
            barrier.wait(5)
            for i in range(20):
                body = f"thread {t} request {i}".encode()
                response = transport(get(server.url + f"/{t}/{i}", method="POST", body=body))
                if response.status != 200 or response.body != body:
                    mismatches.append((t, i))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and mismatches == []
    assert len(server.log) == 16 * 20
    assert idle(transport) <= 4
    pooled = next(iter(transport._idle.values()))
    assert len({id(conn) for conn in pooled}) == len(pooled)
    assert server.connections < 16 * 20  # some connections were reused


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_forked_child_does_not_reuse_parent_connection(server, transport):
    assert transport(get(server.url + "/parent")).headers["x-conn"] == "1"
    assert idle(transport) == 1
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            os.close(read_end)
            first = transport(get(server.url + "/child"))
            second = transport(get(server.url + "/child"))
            report = {"conns": [first.headers["x-conn"], second.headers["x-conn"]]}
            os.write(write_end, json.dumps(report).encode())
            code = 0
        except BaseException as exc:
            os.write(write_end, json.dumps({"error": repr(exc)}).encode())
        finally:
            os._exit(code)
    os.close(write_end)
    chunks = []
    while True:
        chunk = os.read(read_end, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    report = json.loads(b"".join(chunks) or b"{}")
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, report
    assert report["conns"] == ["2", "2"]  # a new connection, then reused within the child
    # The parent's connection was neither used nor disturbed by the child.
    assert transport(get(server.url + "/parent")).headers["x-conn"] == "1"
    assert server.connections == 2


# --- no secret in errors --------------------------------------------------------------------


def _secret_request(url: str, **kw: Any) -> HttpRequest:
    return HttpRequest(
        method="POST",
        url=f"{url}/creds?token={SECRET}",
        headers={"X-Secret": SECRET, "Authorization": f"Bearer {SECRET}"},
        body=f"secret={SECRET}".encode(),
        **kw,
    )


@pytest.mark.parametrize("failure", ["refused", "timeout", "dropped", "too-large"])
def test_errors_never_carry_secrets(serve, transport, refused_port, caplog, failure):
    if failure == "refused":
        url = f"http://127.0.0.1:{refused_port}"
    else:
        server = serve(slow(5) if failure == "timeout" else echo)
        if failure == "dropped":
            server.drop = lambda h: h.server.dropped < 3
        url = server.url
    caplog.set_level(logging.DEBUG)
    kw = {"timeout": 0.3} if failure == "timeout" else {}
    if failure == "too-large":
        kw["max_body"] = 10  # echo answers with the request body, secret and all
    with pytest.raises(TransportError) as info:
        transport(_secret_request(url, **kw))
    err = info.value
    assert err.url == url + "/creds"
    assert url + "/creds" in str(err)
    assert err.timeout is (failure == "timeout")
    assert err.__cause__ is None
    if failure == "too-large":
        assert err.__context__ is None  # raised outside any except block
    else:
        assert err.__suppress_context__ is True  # `raise ... from None`
    texts = [str(err), repr(err), repr(err.args), str(vars(err))]
    texts += traceback.format_exception(type(err), err, err.__traceback__)
    texts += [record.getMessage() for record in caplog.records]
    context = err.__context__
    while context is not None:
        texts += [str(context), repr(context)]
        context = context.__context__
    for text in texts:
        assert SECRET not in text
        assert "token=" not in text


# --- the seam -------------------------------------------------------------------------------


def test_default_transport_is_stdlib_transport():
    import awsroles.transport
    from awsroles.transport import default_transport
    from awsroles.transport.stdlib import StdlibTransport as Exported
    from awsroles.transport.via_requests import RequestsTransport

    assert Exported is StdlibTransport
    assert RequestsTransport is http_requests.RequestsTransport
    assert isinstance(default_transport(), StdlibTransport)
    assert default_transport() is default_transport()
    assert "default_transport" in awsroles.transport.__all__


def test_repr_and_close(server, transport):
    assert repr(StdlibTransport(trust_env=False)) == "StdlibTransport(trust_env=False)"
    transport(get(server.url + "/"))
    assert idle(transport) == 1
    transport.close()
    assert idle(transport) == 0
    assert transport(get(server.url + "/")).headers["x-conn"] == "2"  # reopened on demand


def test_importing_the_module_does_not_import_requests():
    code = (
        "import sys, awsroles.transport.stdlib, awsroles.transport.base; "
        "awsroles.transport.default_transport(); "
        "sys.exit(1 if 'requests' in sys.modules or 'urllib3' in sys.modules else 0)"
    )
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30, cwd=root)
    assert result.returncode == 0, result.stderr.decode()


# --- what http.client does not do by itself -------------------------------------------------


def test_a_user_agent_is_sent_unless_the_caller_set_one(server, transport):
    from awsroles.transport.base import default_user_agent

    transport(get(server.url + "/a"))
    transport(get(server.url + "/b", headers={"user-agent": "mine/1"}))
    first, second = server.log
    assert first.header("User-Agent") == default_user_agent()
    assert default_user_agent().startswith("awsroles/")
    assert second.header("User-Agent") == "mine/1"
    assert [k for k, _ in second.headers if k.lower() == "user-agent"] == ["user-agent"]


def _compressed(kind: str, data: bytes) -> bytes:
    import gzip
    import zlib

    if kind == "gzip":
        return gzip.compress(data)
    if kind == "deflate":
        return zlib.compress(data)
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)  # raw deflate, as some servers send
    return raw.compress(data) + raw.flush()


@pytest.mark.parametrize("kind", ["gzip", "deflate", "raw-deflate"])
def test_compressed_bodies_are_decoded(serve, transport, kind):
    data = b'{"Code": "Success", "Token": "' + b"x" * 5000 + b'"}'
    encoding = "deflate" if kind == "raw-deflate" else kind
    packed = _compressed(kind, data)
    server = serve(lambda h, rec: send(h, 200, packed, headers=(("Content-Encoding", encoding),)))
    response = transport(get(server.url + "/"))
    assert response.body == data
    assert response.headers["content-encoding"] == encoding


def test_a_compression_bomb_is_refused_by_max_body(serve, transport):
    bomb = _compressed("gzip", b"\0" * (4 * 1024 * 1024))
    assert len(bomb) < 64 * 1024
    server = serve(lambda h, rec: send(h, 200, bomb, headers=(("Content-Encoding", "gzip"),)))
    with pytest.raises(TransportError) as info:
        transport(get(server.url + "/"))
    assert "larger than 1048576 bytes" in str(info.value)


@pytest.mark.parametrize(
    "encoding, body, words",
    [("br", b"\x0b\x02", "cannot decode"), ("gzip", b"not gzip at all", "not valid gzip")],
)
def test_unknown_or_broken_encodings_are_typed_errors(serve, transport, encoding, body, words):
    server = serve(lambda h, rec: send(h, 200, body, headers=(("Content-Encoding", encoding),)))
    with pytest.raises(TransportError) as info:
        transport(get(server.url + "/x?secret=1"))
    assert words in str(info.value) and "secret" not in str(info.value)


def test_spaces_and_non_ascii_in_the_path_are_percent_encoded(server, transport):
    response = transport(get(server.url + "/a b/é%20c?q=x y"))
    assert response.status == 200
    assert server.log[0].path == "/a%20b/%C3%A9%20c?q=x%20y"


def test_without_trust_env_no_ca_variable_is_used():
    """The container provider's transport verifies with certifi's bundle, as botocore's
    container fetcher does, whatever the CA variables say."""
    env = {"AWS_CA_BUNDLE": "/nonexistent", "REQUESTS_CA_BUNDLE": "/nonexistent"}
    assert rules.route("https://h/", env, trust_env=False).ca is None
    assert rules.route("https://h/", env).ca == ("AWS_CA_BUNDLE", "/nonexistent")


def test_system_proxy_settings_are_read_only_on_macos_and_windows(monkeypatch):
    monkeypatch.setattr(rules, "_SYSTEM_PROXIES", None)
    monkeypatch.setattr(rules.sys, "platform", "linux")
    assert rules._system_proxies() is False
    import urllib.request

    monkeypatch.setattr(rules, "_SYSTEM_PROXIES", None)
    monkeypatch.setattr(rules.sys, "platform", "darwin")
    monkeypatch.setattr(urllib.request, "getproxies", lambda: {"https": "http://proxy:3128"})
    assert rules._system_proxies() is True
    monkeypatch.setattr(rules, "_SYSTEM_PROXIES", None)
    monkeypatch.setattr(urllib.request, "getproxies", lambda: {"no": "localhost"})
    assert rules._system_proxies() is False


def test_system_proxies_hand_the_request_to_requests(serve, monkeypatch, requests_spy):
    """On macOS and Windows the system's proxy applies to the process environment; its
    exemptions (urllib's proxy_bypass) too."""
    import urllib.request

    origin, proxy = serve(), serve(forward)
    monkeypatch.setattr(rules, "_system_proxies", lambda: True)
    monkeypatch.setattr(urllib.request, "getproxies", lambda: {"http": proxy.url})
    monkeypatch.setattr(urllib.request, "proxy_bypass", lambda host: False)
    transport = StdlibTransport()
    try:
        response = transport(get(origin.url + "/s"))
    finally:
        transport.close()
    assert response.headers["x-via-proxy"] == "yes"
    assert requests_spy == [origin.url + "/s"]
    monkeypatch.setattr(urllib.request, "proxy_bypass", lambda host: True)
    assert StdlibTransport()(get(origin.url + "/t")).status == 200
    assert requests_spy == [origin.url + "/s"]  # exempt: direct


@pytest.mark.skipif(not hasattr(select, "poll"), reason="select.poll is POSIX")
def test_reuse_survives_descriptors_above_fd_setsize(server, transport):
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if min(soft, hard if hard > 0 else soft) < 1200:
        pytest.skip("needs at least 1200 open files")
    fds = []
    try:
        while not fds or fds[-1] < 1100:
            fds.append(os.open(os.devnull, os.O_RDONLY))
        transport(get(server.url + "/1"))
        transport(get(server.url + "/2"))
    finally:
        for fd in fds:
            os.close(fd)
    assert server.connections == 1


def test_credentials_in_a_url_never_reach_an_error(transport, refused_port):
    url = f"http://user:SECRET-PW@127.0.0.1:{refused_port}/x?token=SECRET-Q"
    with pytest.raises(TransportError) as info:
        transport(get(url))
    text = f"{info.value} {info.value!r} {info.value.url}"
    assert "SECRET" not in text
    assert info.value.url == f"http://127.0.0.1:{refused_port}/x"


@pytest.mark.parametrize(
    "url, shown",
    [
        ("http://u:pa/ss@h/x", "http://h/x"),
        ("http://u:p?w@h/x?q=1", "http://h/x"),
        ("https://admin:s3cr@example.com:8443/p?a=b", "https://example.com:8443/p"),
        ("http://h/x?q=1", "http://h/x"),
        ("http://h/x", "http://h/x"),
        ("admin:pw@sts.local", "sts.local"),
    ],
)
def test_safe_url_drops_credentials_even_with_slash_or_question_mark(url, shown):
    from awsroles.errors import safe_url

    assert safe_url(url) == shown
