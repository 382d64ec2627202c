"""The default transport: the standard library's ``http.client``, with connection reuse.

A process that must fetch credentials once (a cold start) spends most of its time importing
its HTTP stack, and ``http.client`` is a fraction of requests and urllib3. So direct requests
go through ``http.client``; a request that :func:`~awsroles.transport.rules.route` sends
through a proxy, or whose redirects are to be followed, is handed to
:class:`~awsroles.transport.via_requests.RequestsTransport`, on the same route.

TLS is verified against the CA bundle the route names, else certifi's bundle (what botocore
and requests use by default), else the system's store. A ``User-Agent`` is added when the
caller set none; gzip and deflate bodies (which a server should not send, none being asked
for) are decoded, as requests would.

Idle connections are kept per (scheme, host, port, CA bundle) and reused, so the hops of a
cold role chain share one TLS session; one that the server closed while idle is detected
before use, and a request that fails on a reused connection before any answer arrived is sent
once more on a new one. A forked child starts with an empty pool and a new lock.
"""

from __future__ import annotations

import os
import threading
import time
from urllib.parse import urlsplit

from .._fork import track as reset_after_fork
from ..errors import InvalidConfigError, TransportError, safe_url
from .base import HttpRequest, HttpResponse, default_user_agent
from .body import hang_up, read_body, too_slow
from .rules import attempt_seconds, route

TYPE_CHECKING = False
if TYPE_CHECKING:
    import http.client
    import ssl
    from typing import Dict, List, Mapping, Optional, Tuple

    from .base import Timeout
    from .rules import Route
    from .via_requests import RequestsTransport

    PoolKey = Tuple[str, str, int, Optional[Tuple[str, str]]]

__all__ = ["StdlibTransport"]

_MAX_IDLE = 4  # idle connections kept per pool key
#: Sent again on a new connection when a reused one turns out closed (RFC 9110 §9.2.2). A POST
#: is not: the server may have acted on it (an SSO refresh token may have been spent).
_IDEMPOTENT = frozenset(("GET", "HEAD", "PUT", "DELETE", "OPTIONS"))


class StdlibTransport:
    """A :class:`~awsroles.protocols.Transport` on ``http.client``; thread-safe.

    ``env`` (default ``os.environ``) is where :func:`~awsroles.transport.rules.route` reads
    proxies and the CA bundle; ``trust_env=False`` ignores it (the request always goes
    direct): the container provider uses that so its token never reaches a proxy.
    """

    def __init__(self, *, trust_env: bool = True, env: Optional[Mapping[str, str]] = None) -> None:
        self._trust_env = trust_env
        self._env: Mapping[str, str] = os.environ if env is None else env
        self._lock = threading.Lock()
        self._idle: Dict[PoolKey, List[http.client.HTTPConnection]] = {}
        self._ssl: Dict[Optional[Tuple[str, str]], ssl.SSLContext] = {}
        self._fallback: Optional[RequestsTransport] = None
        reset_after_fork(self)

    def __repr__(self) -> str:
        return f"StdlibTransport(trust_env={self._trust_env})"

    def _route(self, request: HttpRequest) -> Route:
        return route(
            request.url,
            self._env,
            trust_env=self._trust_env,
            follow_redirects=request.allow_redirects,
        )

    def _requests(self) -> RequestsTransport:
        if self._fallback is None:
            from .via_requests import RequestsTransport

            self._fallback = RequestsTransport(trust_env=self._trust_env, env=self._env)
        return self._fallback

    def __call__(self, request: HttpRequest) -> HttpResponse:
        way = self._route(request)
        if not way.direct:
            return self._requests().send(request, way)
        parts = urlsplit(request.url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise TransportError(
                f"cannot send a request to {safe_url(request.url)}: only http and https URLs "
                f"with a host are supported",
                url=safe_url(request.url),
            )
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise TransportError(
                f"cannot send a request to {safe_url(request.url)}: the port is not valid",
                url=safe_url(request.url),
            ) from None
        ca = way.ca if scheme == "https" else None
        key: PoolKey = (scheme, parts.hostname, port, ca)
        target = _requote(parts.path or "/")
        if parts.query:
            target += "?" + _requote(parts.query)
        headers = dict(request.headers)
        if not any(name.lower() == "user-agent" for name in headers):
            headers["User-Agent"] = default_user_agent()
        connect_timeout, read_timeout = _split(request.timeout)
        total = attempt_seconds(request.timeout)
        deadline = time.monotonic() + total
        conn = self._checkout(key)
        reused = conn is not None
        while True:
            if conn is None:
                conn = self._connect(key, connect_timeout, request)
            watchdog = _Watchdog(conn, deadline)
            try:
                try:
                    left = deadline - time.monotonic()
                    conn.sock.settimeout(left if read_timeout is None else min(read_timeout, left))
                    conn.request(request.method, target, body=request.body, headers=headers)
                    response = conn.getresponse()
                except Exception as exc:
                    conn.close()
                    if watchdog.fired:
                        raise too_slow(request, total) from None
                    if not _from_network(exc):
                        raise
                    if reused and _is_stale(exc) and request.method.upper() in _IDEMPOTENT:
                        conn, reused = None, False  # the server closed it while idle: once more
                        continue
                    raise _failure(exc, request, "talking to", read_timeout) from None
                try:
                    body = read_body(response, request)
                except Exception as exc:
                    conn.close()
                    if watchdog.fired:
                        raise too_slow(request, total) from None
                    if isinstance(exc, TransportError) or not _from_network(exc):
                        raise
                    raise _failure(
                        exc, request, "reading the response from", read_timeout
                    ) from None
            finally:
                watchdog.cancel()
            if watchdog.fired:  # the socket is shut down; what was read may be cut short
                conn.close()
                raise too_slow(request, total)
            break
        received: Dict[str, str] = {}
        for name, value in response.getheaders():
            lname = name.lower()
            received[lname] = f"{received[lname]}, {value}" if lname in received else value
        if response.will_close:
            conn.close()
        else:
            self._checkin(key, conn)
        return HttpResponse(status=response.status, headers=received, body=body)

    # -- connections -----------------------------------------------------------------------

    def _connect(
        self, key: PoolKey, timeout: Optional[float], request: HttpRequest
    ) -> http.client.HTTPConnection:
        import http.client

        scheme, host, port, ca = key
        conn: http.client.HTTPConnection
        if scheme == "https":
            context = self._ssl_context(ca)
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.connect()
        except Exception as exc:
            conn.close()
            if not _from_network(exc):
                raise
            raise _failure(exc, request, "connecting to", timeout) from None
        return conn

    def _after_fork(self) -> None:
        """In a forked child: a new lock (the parent's may have been held by another thread
        at the fork) and no idle connection (their sockets are the parent's too)."""
        idle, self._idle = self._idle, {}
        self._lock = threading.Lock()
        for conns in idle.values():
            for conn in conns:
                conn.close()  # closes the child's copy of the descriptor only

    def _checkout(self, key: PoolKey) -> Optional[http.client.HTTPConnection]:
        with self._lock:
            idle = self._idle.get(key)
            while idle:
                conn = idle.pop()
                if _usable(conn):
                    return conn
                conn.close()
        return None

    def _checkin(self, key: PoolKey, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < _MAX_IDLE:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        """Close the idle connections (they are reopened on demand)."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    def _ssl_context(self, ca: Optional[Tuple[str, str]]) -> ssl.SSLContext:
        with self._lock:
            context = self._ssl.get(ca)
        if context is not None:
            return context
        import ssl

        try:
            if ca is None:
                context = ssl.create_default_context(cafile=_certifi_bundle())
            elif os.path.isdir(ca[1]):
                context = ssl.create_default_context(capath=ca[1])
            else:
                context = ssl.create_default_context(cafile=ca[1])
        except (OSError, ssl.SSLError) as exc:
            if ca is None:
                raise TransportError(
                    f"cannot load certifi's CA certificates ({type(exc).__name__})"
                ) from None
            name, path = ca
            raise InvalidConfigError(
                f"{name} names {path!r}, which cannot be loaded as CA certificates "
                f"({type(exc).__name__}).",
                key=name,
                hint=f"Point {name} at a PEM file of CA certificates, or unset it.",
            ) from None
        with self._lock:
            self._ssl[ca] = context
        return context


def _certifi_bundle() -> Optional[str]:
    """certifi's ``cacert.pem``, found without importing certifi (a slow import)."""
    from importlib.util import find_spec

    try:
        spec = find_spec("certifi")
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(location, "cacert.pem")
        if os.path.isfile(path):
            return path
    try:
        import certifi
    except ImportError:
        return None
    return certifi.where()


def _split(timeout: Timeout) -> Tuple[Optional[float], Optional[float]]:
    if isinstance(timeout, tuple):
        return timeout[0], timeout[1]
    return timeout, timeout


def _usable(conn: http.client.HTTPConnection) -> bool:
    """An idle connection is usable when nothing is waiting to be read on it: a readable idle
    socket means the server closed it (or sent something unasked)."""
    sock = conn.sock
    if sock is None:
        return False
    import select

    try:
        if hasattr(select, "poll"):  # no FD_SETSIZE limit, unlike select()
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return not poller.poll(0)
        return not select.select([sock], [], [], 0)[0]
    except (OSError, ValueError):
        return False


def _requote(part: str) -> str:
    """Percent-encode what may not appear raw in a request target (spaces, non-ASCII), keeping
    existing escapes and reserved characters, as requests' ``requote_uri`` does."""
    if all(32 < ord(c) < 127 for c in part):
        return part
    from urllib.parse import quote

    return quote(part, safe="!#$%&'()*+,/:;=?@[]~")


def _from_network(exc: BaseException) -> bool:
    """Whether ``exc`` is what a connection, a peer or a bad URL can cause (a TransportError
    then), rather than a fault in the program, which must surface as itself."""
    import http.client

    return isinstance(exc, (OSError, ValueError, http.client.HTTPException))


def _is_stale(exc: BaseException) -> bool:
    import http.client

    return isinstance(
        exc,
        (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError),
    )


class _Watchdog:
    """Ends an attempt at its deadline: shuts the connection's socket down, so a read that is
    waiting returns at once, however slowly the peer sends (a read timeout alone resets with
    every byte). ``fired`` tells the attempt that this is why its read failed."""

    def __init__(self, conn: http.client.HTTPConnection, deadline: float) -> None:
        self.fired = False
        self._sock = conn.sock
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        hang_up(self._sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _failure(
    exc: BaseException, request: HttpRequest, what: str, timeout: Optional[float]
) -> TransportError:
    """A typed error naming the URL (without its query) and the exception's class only: the
    exception's own text may quote request headers."""
    import socket

    url = safe_url(request.url)
    kind = type(exc).__name__
    if isinstance(exc, (TimeoutError, socket.timeout)):  # distinct classes before Python 3.10
        after = f" after {timeout}s" if timeout is not None else ""
        return TransportError(f"timed out{after} {what} {url} ({kind})", url=url, timeout=True)
    if what == "connecting to":
        return TransportError(f"could not connect to {url} ({kind})", url=url)
    return TransportError(f"connection broke {what} {url} ({kind})", url=url)
