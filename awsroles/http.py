"""The transport seam: one small callable that sends an :class:`HttpRequest`.

Every network call in awsroles goes through a ``Transport`` so tests can pass an in-memory
one (see :mod:`awsroles.testing`). The default transport uses ``requests`` and is imported
lazily, so processes served from the cache never import it.

A transport returns an :class:`HttpResponse` for every HTTP answer, whatever the status, and
raises :class:`awsroles.errors.TransportError` when no answer arrived (refused, reset, DNS,
timeout).
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional, Tuple, Union

from ._record import Record
from .errors import TransportError

__all__ = ["HttpRequest", "HttpResponse", "Transport", "RequestsTransport", "default_transport"]

Timeout = Union[float, Tuple[float, float]]


class HttpRequest(Record):
    _hidden = frozenset({"headers", "body"})
    _factories = {"headers": dict}
    method: str
    url: str
    headers: Mapping[str, str]
    body: Optional[bytes] = None
    timeout: Timeout = 10.0
    #: Largest response body accepted, in bytes (credential documents are small).
    max_body: int = 1024 * 1024
    allow_redirects: bool = False


class HttpResponse(Record):
    _hidden = frozenset({"headers", "body"})
    _factories = {"headers": dict}
    status: int
    #: Header names lower-cased, in the order received.
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


Transport = Callable[[HttpRequest], HttpResponse]


class RequestsTransport:
    """The default transport, on a shared ``requests.Session`` (connection reuse)."""

    def __init__(self, session=None, *, trust_env: bool = True) -> None:
        self._session = session
        self._trust_env = trust_env

    def _get_session(self):
        if self._session is None:
            import requests

            s = requests.Session()
            s.trust_env = self._trust_env
            self._session = s
        return self._session

    def __call__(self, request: HttpRequest) -> HttpResponse:
        import requests

        session = self._get_session()
        try:
            resp = session.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                data=request.body,
                timeout=request.timeout,
                allow_redirects=request.allow_redirects,
                stream=True,
            )
        except requests.exceptions.Timeout as exc:
            raise TransportError(
                f"timed out after {request.timeout}s talking to {_safe_url(request.url)}",
                url=_safe_url(request.url),
                timeout=True,
            ) from _strip(exc)
        except requests.exceptions.RequestException as exc:
            raise TransportError(
                f"could not connect to {_safe_url(request.url)} ({type(exc).__name__})",
                url=_safe_url(request.url),
            ) from _strip(exc)
        try:
            chunks = []
            size = 0
            for chunk in resp.iter_content(64 * 1024):
                size += len(chunk)
                if size > request.max_body:
                    raise TransportError(
                        f"response from {_safe_url(request.url)} is larger than "
                        f"{request.max_body} bytes; refusing it",
                        url=_safe_url(request.url),
                    )
                chunks.append(chunk)
            body = b"".join(chunks)
        except requests.exceptions.RequestException as exc:
            raise TransportError(
                f"connection to {_safe_url(request.url)} broke while reading the response "
                f"({type(exc).__name__})",
                url=_safe_url(request.url),
            ) from _strip(exc)
        finally:
            resp.close()
        headers = {k.lower(): v for k, v in resp.headers.items()}
        return HttpResponse(status=resp.status_code, headers=headers, body=body)


def _safe_url(url: str) -> str:
    """Drop the query string (it may carry identifiers) for messages."""
    return url.split("?", 1)[0]


def _strip(exc: BaseException) -> None:
    """Do not chain the requests exception: its text can include request headers/bodies."""
    return None


_DEFAULT: Optional[RequestsTransport] = None


def default_transport() -> RequestsTransport:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = RequestsTransport()
    return _DEFAULT
