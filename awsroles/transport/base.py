"""The transport seam: one small callable that sends an :class:`HttpRequest`.

Every network call in awsroles goes through a ``Transport`` so tests can pass an in-memory
one (see :mod:`awsroles.testing`). The default transport is
:class:`~awsroles.transport.stdlib.StdlibTransport` (``http.client``, with connection reuse; bodies
read by :mod:`awsroles.transport.body`), which hands proxied requests and redirects to
:class:`~awsroles.transport.via_requests.RequestsTransport`. Both are imported on first use, so
processes served from the cache import neither.

A transport returns an :class:`HttpResponse` for every HTTP answer, whatever the status, and
raises :class:`awsroles.errors.TransportError` when no answer arrived (refused, reset, DNS,
timeout).
"""

from __future__ import annotations

import os
import sys
from typing import Callable, Mapping, Optional, Tuple, Union

from .._record import Record

__all__ = [
    "HttpRequest",
    "HttpResponse",
    "Transport",
    "RequestsTransport",
    "StdlibTransport",
    "default_transport",
    "safe_url",
    "default_user_agent",
    "ca_bundle",
]

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

    def __repr__(self) -> str:  # headers and body hidden, the URL as messages show it
        return f"HttpRequest({self.method} {safe_url(self.url)})"


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


_USER_AGENT: Optional[str] = None


def default_user_agent() -> str:
    """``awsroles/<version> python/<version> os/<name>``: sent with every request."""
    global _USER_AGENT
    if _USER_AGENT is None:
        try:
            from .. import __version__ as ver
        except ImportError:  # pragma: no cover - partial checkouts
            ver = "0+unknown"
        _USER_AGENT = f"awsroles/{ver} python/{sys.version.split()[0]} os/{_os_name()}"
    return _USER_AGENT


def _os_name() -> str:
    """``platform.system().lower()`` without importing platform (3 ms of a cold start)."""
    if sys.platform.startswith("win"):
        return "windows"
    try:
        return os.uname().sysname.lower() or "other"
    except AttributeError:  # pragma: no cover
        return "other"


#: Environment variables naming the CA bundle, first set wins: botocore's, then requests'.
CA_BUNDLE_VARIABLES = ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def ca_bundle(env: Mapping[str, str]) -> Optional[Tuple[str, str]]:
    """(variable, path) of the CA bundle ``env`` names, or None (certifi's bundle)."""
    for name in CA_BUNDLE_VARIABLES:
        value = env.get(name)
        if value:
            return name, value
    return None


def safe_url(url: str) -> str:
    """The URL for messages: without its query string (it may carry identifiers) and without
    ``user:password@`` (a URL may carry credentials)."""
    scheme, sep, rest = url.partition("://")
    if not sep:  # not even a scheme (a bad endpoint_url): the same rule for the whole text
        scheme, rest = "", url
    if "@" in rest:  # a password may hold "/" or "?": cut through the last "@"
        rest = rest.rpartition("@")[2]  # (a path or query with "@" loses more: harmless)
    return (scheme + sep + rest).split("?", 1)[0]


_DEFAULT = None


def default_transport():
    """The process-wide default transport (a :class:`StdlibTransport`)."""
    global _DEFAULT
    if _DEFAULT is None:
        from .stdlib import StdlibTransport

        _DEFAULT = StdlibTransport()
    return _DEFAULT


def __getattr__(name: str):
    if name == "StdlibTransport":
        from .stdlib import StdlibTransport

        return StdlibTransport
    if name == "RequestsTransport":
        from .via_requests import RequestsTransport

        return RequestsTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
