"""The transport seam: one small callable that sends an :class:`HttpRequest`.

Every network call in awsroles goes through a transport (:class:`awsroles.protocols.Transport`)
so tests can pass an in-memory one (see :mod:`awsroles.testing`). The default one is
:func:`awsroles.transport.default_transport`.

A transport returns an :class:`HttpResponse` for every HTTP answer, whatever the status, and
raises :class:`awsroles.errors.TransportError` when no answer arrived (refused, reset, DNS,
timeout).
"""

from __future__ import annotations

import os
import sys

from .._record import Record, field
from ..errors import safe_url

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, Optional, Tuple, Union

    Timeout = Union[float, Tuple[float, float]]

__all__ = [
    "HttpRequest",
    "HttpResponse",
    "default_user_agent",
]


class HttpRequest(Record):
    _hidden = frozenset({"headers", "body"})
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Optional[bytes] = None
    timeout: Timeout = 10.0
    #: Largest response body accepted, in bytes (credential documents are small).
    max_body: int = 1024 * 1024
    allow_redirects: bool = False

    def __repr__(self) -> str:  # headers and body hidden, the URL as messages show it
        return f"HttpRequest({self.method} {safe_url(self.url)})"


class HttpResponse(Record):
    _hidden = frozenset({"headers", "body"})
    status: int
    #: Header names lower-cased, in the order received.
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


_USER_AGENT: Optional[str] = None


def default_user_agent() -> str:
    """``awsroles/<version> python/<version> os/<name>``: sent with every request."""
    global _USER_AGENT
    if _USER_AGENT is None:
        from .._version import __version__ as ver

        _USER_AGENT = f"awsroles/{ver} python/{sys.version.split()[0]} os/{_os_name()}"
    return _USER_AGENT


def _os_name() -> str:
    """``platform.system().lower()``, without importing platform on the cold path."""
    if sys.platform.startswith("win"):
        return "windows"
    try:
        return os.uname().sysname.lower() or "other"
    except AttributeError:  # pragma: no cover
        return "other"
