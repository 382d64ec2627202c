"""A transport on ``requests``: what the default transport hands a request to when its route
(:func:`~awsroles.transport.rules.route`) goes through a proxy or follows redirects. Users may
also pass it as ``transport=`` themselves (for example with their own ``requests.Session``);
every request then goes through requests, on the same routes.
"""

from __future__ import annotations

import os
import socket
import threading

from ..errors import TransportError, safe_url
from .base import HttpRequest, HttpResponse
from .body import CHUNK, check_complete, collect, hang_up, too_slow
from .rules import attempt_seconds, route

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, Mapping, Optional, Tuple, Union

    import requests
    import requests.adapters

    from .rules import Route

__all__ = ["RequestsTransport"]


class RequestsTransport:
    """A transport on one ``requests.Session`` (connection reuse). ``env`` (default
    ``os.environ``) and ``trust_env`` decide the route as for the default transport; the
    route's proxy and CA bundle are passed to requests explicitly, and a session made here
    reads nothing from the environment itself (no ``.netrc``, no second proxy rule)."""

    def __init__(
        self,
        session: Optional[requests.Session] = None,
        *,
        trust_env: bool = True,
        env: Optional[Mapping[str, str]] = None,
    ) -> None:
        self._session = session
        self._trust_env = trust_env
        self._env: Mapping[str, str] = os.environ if env is None else env

    def _get_session(self) -> requests.Session:
        if self._session is None:
            import requests

            session = requests.Session()
            session.trust_env = False  # the route decides proxies and certificates
            adapter = _tracking_adapter()
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            self._session = session
        return self._session

    def __call__(self, request: HttpRequest) -> HttpResponse:
        way = route(
            request.url,
            self._env,
            trust_env=self._trust_env,
            follow_redirects=request.allow_redirects,
        )
        return self.send(request, way)

    def send(self, request: HttpRequest, way: Route) -> HttpResponse:
        """Send ``request`` on the route ``way``, within the attempt's deadline
        (:func:`~awsroles.transport.rules.attempt_seconds`). requests bounds only each wait
        for a byte, so the exchange runs on a worker thread and the caller stops waiting at
        the deadline and shuts down the worker's socket, so the worker ends too (its answer
        is dropped). The socket is known from the start on a session made here; on a session
        passed in, only once the headers have arrived."""
        total = attempt_seconds(request.timeout)
        outcome: List[Union[HttpResponse, BaseException]] = []
        opened: List[requests.Response] = []
        sockets: List[socket.socket] = []
        done = threading.Event()

        def exchange() -> None:
            _worker.sockets = sockets
            try:
                outcome.append(self._exchange(request, way, opened))
            except BaseException as exc:  # handed to the caller below
                outcome.append(exc)
            finally:
                done.set()

        threading.Thread(target=exchange, name="awsroles-http", daemon=True).start()
        if not done.wait(total):
            _hang_up(opened, sockets)
            raise too_slow(request, total)
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def _exchange(
        self, request: HttpRequest, way: Route, opened: List[requests.Response]
    ) -> HttpResponse:
        import requests

        session = self._get_session()
        proxies = {"http": way.proxy, "https": way.proxy} if way.proxy else {}
        verify: Union[bool, str] = way.ca[1] if way.ca else True
        try:
            resp = session.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                data=request.body,
                timeout=request.timeout,
                allow_redirects=way.follow_redirects,
                stream=True,
                verify=verify,
                proxies=proxies,
            )
            opened.append(resp)
        except requests.exceptions.Timeout:
            raise TransportError(
                f"timed out after {_seconds(request.timeout)}s talking to {safe_url(request.url)}",
                url=safe_url(request.url),
                timeout=True,
            ) from None  # its text can quote request headers or bodies
        except requests.exceptions.RequestException as exc:
            raise TransportError(
                f"could not connect to {safe_url(request.url)} ({type(exc).__name__})",
                url=safe_url(request.url),
            ) from None  # its text can quote request headers or bodies
        try:
            body = collect(resp.iter_content(CHUNK), request)
        except requests.exceptions.RequestException as exc:
            if _is_read_timeout(exc):
                raise TransportError(
                    f"timed out after {_seconds(request.timeout, read=True)}s reading the "
                    f"response from {safe_url(request.url)}",
                    url=safe_url(request.url),
                    timeout=True,
                ) from None
            raise TransportError(
                f"connection to {safe_url(request.url)} broke while reading the response "
                f"({type(exc).__name__})",
                url=safe_url(request.url),
            ) from None  # its text can quote request headers or bodies
        finally:
            resp.close()
        # urllib3 1.x does not check the length itself
        length = resp.headers.get("Content-Length")
        check_complete(resp.status_code, length, resp.raw.tell(), request)
        headers = {k.lower(): v for k, v in resp.headers.items()}
        return HttpResponse(status=resp.status_code, headers=headers, body=body)


def _hang_up(opened: List[requests.Response], sockets: List[socket.socket]) -> None:
    """Shut down the sockets a timed-out exchange is using, so the worker reading from them
    ends now rather than when the peer stops sending (and the pool drops the connection)."""
    found = list(sockets)
    if opened:
        conn = getattr(opened[0].raw, "connection", None)
        found.append(getattr(conn, "sock", None))  # type: ignore[arg-type]
    for sock in found:
        hang_up(sock)


#: The sockets of the exchange running on this thread (set by the worker of ``send``).
_worker = threading.local()


def _note(sock: Optional[socket.socket]) -> None:
    sockets = getattr(_worker, "sockets", None)
    if sockets is not None and sock is not None:
        sockets.append(sock)


def _tracking_adapter() -> requests.adapters.HTTPAdapter:
    """A requests adapter whose connections tell the worker thread using them which socket
    they are on (when they connect, and when they send a request on a kept-alive one)."""
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    def noting(base: Any) -> Any:
        def connect(self: Any) -> None:
            base.connect(self)
            _note(self.sock)

        def putrequest(self: Any, *args: Any, **kwargs: Any) -> None:
            _note(self.sock)  # a kept-alive connection: it does not connect again
            base.putrequest(self, *args, **kwargs)

        methods = {"connect": connect, "putrequest": putrequest}
        return type(f"Noting{base.__name__}", (base,), methods)

    Plain, Secure = noting(HTTPConnection), noting(HTTPSConnection)

    class PlainPool(HTTPConnectionPool):
        ConnectionCls = Plain

    class SecurePool(HTTPSConnectionPool):
        ConnectionCls = Secure

    pools = {"http": PlainPool, "https": SecurePool}

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)  # type: ignore[no-untyped-call,unused-ignore]
            self.poolmanager.pool_classes_by_scheme = pools

        def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
            manager = super().proxy_manager_for(proxy, **kwargs)  # type: ignore[no-untyped-call,unused-ignore]
            manager.pool_classes_by_scheme = pools
            return manager

    return Adapter()


def _is_read_timeout(exc: BaseException) -> bool:
    """requests reports a read timeout in the middle of a body as a ConnectionError wrapping
    urllib3's ReadTimeoutError."""
    from urllib3.exceptions import ReadTimeoutError

    return any(isinstance(arg, ReadTimeoutError) for arg in exc.args)


def _seconds(timeout: Union[float, Tuple[float, float]], read: bool = False) -> str:
    """The timeout as a message names it: the read part alone for a read."""
    if isinstance(timeout, tuple):
        return f"{timeout[1]:g}" if read else f"{timeout[0]:g}/{timeout[1]:g}"
    return f"{timeout:g}"
